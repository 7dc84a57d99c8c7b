#include "codedag/graph/coarsen/coarsen.hpp"

#include <algorithm>
#include <functional>
#include <string>

#include "codedag/common/error.hpp"
#include "codedag/graph/cost/cost_model.hpp"
#include "codedag/graph/model/topology.hpp"

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
  auto parent_of = [&](size_t i) -> size_t {
    const Node& node = nodes[i];
    return node.parent && dag.contains(*node.parent) ? dag.index_of(*node.parent) : SIZE_MAX;
  };
  // own[i]: a plan may name node i itself (a patchable user function).
  std::vector<char> own(n);
  for (size_t i = 0; i < n; ++i) own[i] = is_patchable(nodes[i]);
  // call_site[i]: a library call made directly by a pinned user function that could move on its own.
  std::vector<char> call_site(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const Node& c = nodes[i];
    const size_t p = parent_of(i);
    call_site[i] = p != SIZE_MAX && own[p] && !nodes[p].gpu_eligible && c.library && c.gpu_eligible &&
                   c.kind == "python" && c.depth <= options.max_depth && c.distribution != "stdlib" &&
                   c.qualname.find('<') == std::string::npos &&
                   c.qualname.find(kCallSiteSeparator) == std::string::npos;
  }
  // Both walks below go up the parent links iteratively (traced call trees can be deep), filling
  // the answer along the path.
  enum : char { kUnknown = 0, kNo = 1, kYes = 2 };
  // user_above[i]: some proper ancestor of i is a patchable user context.
  std::vector<char> user_above(n, kUnknown);
  for (size_t i = 0; i < n; ++i) {
    std::vector<size_t> path;
    size_t cur = i;
    while (user_above[cur] == kUnknown) {
      const size_t p = parent_of(cur);
      if (p == SIZE_MAX) {
        user_above[cur] = kNo;
        break;
      }
      if (own[p]) {
        user_above[cur] = kYes;
        break;
      }
      path.push_back(cur);
      cur = p;
      if (path.size() > n)
        throw FormatError("dag: the parent links of node " + std::to_string(nodes[i].id) + " form a loop");
    }
    for (const size_t q : path) user_above[q] = user_above[cur];
  }
  // A node folds into its parent's representative when it is deeper than max_depth, or a context
  // that cannot be patched under a patchable one (call sites excepted); otherwise it represents itself.
  std::vector<char> mode(n, detail::kDescendant);
  auto folds = [&](size_t i) {
    if (parent_of(i) == SIZE_MAX) return false;
    if (nodes[i].depth > options.max_depth) return true;
    if (call_site[i]) return false;
    return !own[i] && user_above[i] == kYes;
  };
  std::vector<size_t> rep(n, SIZE_MAX);
  for (size_t i = 0; i < n; ++i) {
    std::vector<size_t> path;
    size_t cur = i;
    while (rep[cur] == SIZE_MAX) {
      if (!folds(cur)) {
        rep[cur] = cur;
        break;
      }
      path.push_back(cur);
      cur = parent_of(cur);
      if (path.size() > n)
        throw FormatError("dag: the parent links of node " + std::to_string(nodes[i].id) + " form a loop");
    }
    for (const size_t q : path) rep[q] = rep[cur];
  }
  for (size_t i = 0; i < n; ++i) {
    if (rep[i] == i) continue;
    // Beyond max_depth the depth rule (and its eligibility AND) applies as before; a context that
    // cannot be patched folds within it as a call of its caller (the tracer judged the caller's
    // eligibility with its recorded calls).
    if (nodes[i].depth > options.max_depth) {
      ++out.folded_by_depth;
    } else {
      ++(nodes[i].library ? out.folded_libraries : out.folded_unreachable);
      mode[i] = detail::kLibraryCall;
    }
  }
  const bool folded = out.folded_by_depth || out.folded_libraries || out.folded_unreachable;
  Dag coarse = folded ? detail::merge_nodes(dag, rep, mode) : dag;
  for (size_t i = 0; i < n; ++i) {
    out.representative[nodes[i].id] = nodes[rep[i]].id;
    if (!call_site[i] || rep[i] != i) continue;
    // The call site's plan key: the pinned caller, then the library function it calls.
    Node& c = coarse.node(nodes[i].id);
    const std::string& caller = nodes[parent_of(i)].qualname;
    c.extra["call_site"] = {{"caller", caller}, {"callee", c.qualname}};
    c.qualname = caller + kCallSiteSeparator + c.qualname;
    ++out.call_sites;
  }
  coarse = fold_cycles(std::move(coarse), out.merged_cycles, out.representative);
  if (options.chain_merge_min_nodes > 0 && static_cast<int64_t>(coarse.nodes().size()) >= options.chain_merge_min_nodes)
    coarse = merge_chains(std::move(coarse), out.merged_chains, out.representative);
  // Folding and merging only shrink; a cycle left over would be a bug, so check when they ran.
  if (folded || out.call_sites || out.merged_cycles || out.merged_chains) coarse.validate("coarsened dag");
  out.dag = std::move(coarse);
  return out;
}

}  // namespace codedag::graph
