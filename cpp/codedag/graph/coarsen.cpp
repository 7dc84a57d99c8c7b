#include "codedag/graph/coarsen.hpp"

#include <algorithm>
#include <functional>

#include "codedag/common/error.hpp"
#include "codedag/graph/topology.hpp"

namespace codedag::graph {
namespace {

// Positions of nodes whose data edges form cycles, as strongly connected components of size > 1.
std::vector<std::vector<size_t>> data_cycles(const Dag& dag) {
  const size_t n = dag.nodes().size();
  std::vector<std::vector<size_t>> succ(n);
  for (const Edge& e : dag.edges())
    if (e.kind == EdgeKind::data) succ[dag.index_of(e.src)].push_back(dag.index_of(e.dst));
  std::vector<int> index(n, -1), low(n, 0);
  std::vector<char> on(n, 0);
  std::vector<size_t> stack;
  std::vector<std::vector<size_t>> out;
  int counter = 0;
  std::vector<std::pair<size_t, size_t>> call;
  for (size_t root = 0; root < n; ++root) {
    if (index[root] >= 0) continue;
    call.push_back({root, 0});
    index[root] = low[root] = counter++;
    stack.push_back(root);
    on[root] = 1;
    while (!call.empty()) {
      auto& [u, next] = call.back();
      if (next < succ[u].size()) {
        const size_t v = succ[u][next++];
        if (index[v] < 0) {
          index[v] = low[v] = counter++;
          stack.push_back(v);
          on[v] = 1;
          call.push_back({v, 0});
        } else if (on[v]) {
          low[u] = std::min(low[u], index[v]);
        }
        continue;
      }
      const size_t done = u;
      if (low[done] == index[done]) {
        std::vector<size_t> comp;
        size_t w;
        do {
          w = stack.back();
          stack.pop_back();
          on[w] = 0;
          comp.push_back(w);
        } while (w != done);
        if (comp.size() > 1) out.push_back(std::move(comp));
      }
      call.pop_back();
      if (!call.empty()) low[call.back().first] = std::min(low[call.back().first], low[done]);
    }
  }
  return out;
}

using IdMap = std::unordered_map<int64_t, int64_t>;

// Re-points `map` (original id -> id in dag) through rep (positions in dag).
void compose(IdMap& map, const Dag& dag, const std::vector<size_t>& rep) {
  for (auto& [orig, id] : map) id = dag.nodes()[rep[dag.index_of(id)]].id;
}

Dag fold_cycles(Dag&& dag, size_t& merged, IdMap& map) {
  const auto cycles = data_cycles(dag);
  if (cycles.empty()) return std::move(dag);
  const size_t n = dag.nodes().size();
  std::vector<size_t> rep(n);
  for (size_t i = 0; i < n; ++i) rep[i] = i;
  std::vector<char> member(n, 0);
  for (const auto& comp : cycles) {
    // The shallowest context (then the first in the file) stands for the cycle.
    const size_t head = *std::min_element(comp.begin(), comp.end(), [&](size_t a, size_t b) {
      const Node &x = dag.nodes()[a], &y = dag.nodes()[b];
      return x.depth != y.depth ? x.depth < y.depth : a < b;
    });
    for (const size_t i : comp)
      if (i != head) {
        rep[i] = head;
        member[i] = 1;
        ++merged;
      }
  }
  compose(map, dag, rep);
  return detail::merge_nodes(dag, rep, member);
}

Dag merge_chains(Dag&& dag, size_t& merged, IdMap& map) {
  const size_t n = dag.nodes().size();
  std::vector<int> out_degree(n, 0), in_degree(n, 0);
  std::vector<size_t> only_succ(n, SIZE_MAX);
  for (const Edge& e : dag.edges()) {
    if (e.kind != EdgeKind::data) continue;
    const size_t u = dag.index_of(e.src), v = dag.index_of(e.dst);
    ++out_degree[u];
    ++in_degree[v];
    only_succ[u] = v;
  }
  std::vector<size_t> rep(n);
  for (size_t i = 0; i < n; ++i) rep[i] = i;
  std::vector<char> member(n, 0);
  // Walk chains from their heads, in data order, so each chain folds onto its first context.
  for (const int64_t id : topological_order(dag)) {
    const size_t u = dag.index_of(id);
    if (rep[u] != u) continue;
    size_t cur = u;
    while (out_degree[cur] == 1) {
      const size_t v = only_succ[cur];
      if (in_degree[v] != 1 || rep[v] != v || v == u) break;
      if (dag.nodes()[v].gpu_eligible != dag.nodes()[u].gpu_eligible) break;
      rep[v] = u;
      member[v] = 1;
      ++merged;
      cur = v;
    }
  }
  if (merged == 0) return std::move(dag);
  // rep is idempotent, as merge_nodes needs: chains were folded directly onto their heads.
  compose(map, dag, rep);
  return detail::merge_nodes(dag, rep, member);
}

}  // namespace

CoarsenResult coarsen(const Dag& dag, const CoarsenOptions& options) {
  if (options.max_depth < 0)
    throw InputError("coarsen_max_depth must be 0 or more, got " + std::to_string(options.max_depth));
  CoarsenResult out;
  const auto& nodes = dag.nodes();
  const size_t n = nodes.size();
  std::vector<size_t> rep(n, SIZE_MAX);
  // The representative of a node deeper than max_depth is its nearest ancestor at max_depth or above.
  std::function<size_t(size_t)> resolve = [&](size_t i) -> size_t {
    std::vector<size_t> path;
    size_t cur = i;
    while (rep[cur] == SIZE_MAX) {
      const Node& node = nodes[cur];
      if (node.depth <= options.max_depth || !node.parent || !dag.contains(*node.parent)) {
        rep[cur] = cur;
        break;
      }
      path.push_back(cur);
      cur = dag.index_of(*node.parent);
      if (path.size() > n)
        throw FormatError("dag: the parent links of node " + std::to_string(node.id) + " form a loop");
    }
    for (const size_t p : path) rep[p] = rep[cur];
    return rep[cur];
  };
  for (size_t i = 0; i < n; ++i) resolve(i);
  for (size_t i = 0; i < n; ++i) out.folded_by_depth += rep[i] != i;
  Dag coarse = out.folded_by_depth ? detail::merge_nodes(dag, rep, std::vector<char>(n, 0)) : dag;
  for (size_t i = 0; i < n; ++i) out.representative[nodes[i].id] = nodes[rep[i]].id;
  coarse = fold_cycles(std::move(coarse), out.merged_cycles, out.representative);
  if (options.chain_merge_min_nodes > 0 && static_cast<int64_t>(coarse.nodes().size()) >= options.chain_merge_min_nodes)
    coarse = merge_chains(std::move(coarse), out.merged_chains, out.representative);
  // Folding and merging only shrink; a cycle left over would be a bug, so check when they ran.
  if (out.folded_by_depth || out.merged_cycles || out.merged_chains) coarse.validate("coarsened dag");
  out.dag = std::move(coarse);
  return out;
}

}  // namespace codedag::graph
