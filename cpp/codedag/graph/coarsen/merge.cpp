// Building a coarse DAG from a many-to-one map of nodes: how fields combine when contexts merge.
#include <algorithm>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include "codedag/graph/coarsen/coarsen.hpp"
#include "codedag/graph/cost/cost_model.hpp"

namespace codedag::graph::detail {
namespace {

void add_unique(std::vector<std::string>& into, const std::vector<std::string>& from) {
  for (const std::string& s : from)
    if (std::find(into.begin(), into.end(), s) == into.end()) into.push_back(s);
}

}  // namespace

Dag merge_nodes(const Dag& dag, const std::vector<size_t>& rep, const std::vector<char>& absorbed_as_member) {
  const auto& nodes = dag.nodes();
  Dag out;
  out.meta = dag.meta;
  std::vector<int64_t> coarse_id(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) coarse_id[i] = nodes[rep[i]].id;
  // Representatives keep their fields; absorbed nodes add what is additive.
  // Representative position -> its coarse node (only representatives are filled), in file order.
  std::vector<std::optional<Node>> merged(nodes.size());
  std::vector<std::vector<std::string>> members(nodes.size());
  std::vector<char> gpu_known(nodes.size(), 1), batch_known(nodes.size(), 1);
  for (size_t i = 0; i < nodes.size(); ++i)
    if (rep[i] == i) merged[i] = nodes[i];
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (rep[i] == i) continue;
    Node& r = *merged[rep[i]];
    const Node& n = nodes[i];
    r.cpu_ns += n.cpu_ns;  // exclusive times add: the representative now runs this work
    const bool library_call = absorbed_as_member[i] == kLibraryCall;
    // A library call does not pin its caller: the caller's gpu_eligible and blocked_by were computed
    // by the tracer from its library calls (covered by the strategy registry or not).
    if (!library_call) r.gpu_eligible = r.gpu_eligible && n.gpu_eligible;
    // A measured time is kept only when every merged part was measured; else the model estimates.
    if (r.gpu_ns && n.gpu_ns)
      r.gpu_ns = *r.gpu_ns + *n.gpu_ns;
    else
      gpu_known[rep[i]] = 0;
    if (r.batch_ns && n.batch_ns)
      r.batch_ns = *r.batch_ns + *n.batch_ns;
    else
      batch_known[rep[i]] = 0;
    add_unique(r.lib_calls, n.lib_calls);
    if (!library_call) add_unique(r.blocked_by, n.blocked_by);
    if (absorbed_as_member[i] == kMember) {
      // A sibling: it runs outside the representative, so the plan must patch it too. Its total
      // time adds, and its outputs become the merged node's outputs.
      r.total_ns += n.total_ns;
      r.out_bytes = std::max(r.out_bytes, n.out_bytes);
      add_unique(members[rep[i]], patch_qualnames(n));
    }
  }
  for (size_t pos = 0; pos < nodes.size(); ++pos) {
    if (!merged[pos]) continue;
    Node& node = *merged[pos];
    if (!gpu_known[pos]) node.gpu_ns.reset();
    if (!batch_known[pos]) node.batch_ns.reset();
    if (!members[pos].empty()) {
      std::vector<std::string> all = patch_qualnames(node);
      all.erase(all.begin());
      add_unique(all, members[pos]);
      all.erase(std::remove(all.begin(), all.end(), node.qualname), all.end());
      node.extra["members"] = all;
    }
    if (node.parent) {
      // The parent may itself have been merged away.
      const int64_t parent = coarse_id[dag.index_of(*node.parent)];
      node.parent = parent == node.id ? std::nullopt : std::optional<int64_t>(parent);
    }
    out.add_node(std::move(node));
    merged[pos].reset();
  }
  // Re-point edges; drop self-loops; sum parallel edges of one kind.
  struct KeyHash {
    size_t operator()(const std::tuple<int64_t, int64_t, int>& k) const {
      return std::hash<int64_t>()(std::get<0>(k) * 1000003 ^ std::get<1>(k) * 31 ^ std::get<2>(k));
    }
  };
  std::unordered_map<std::tuple<int64_t, int64_t, int>, size_t, KeyHash> edge_at;
  edge_at.reserve(dag.edges().size());
  out.edges().reserve(dag.edges().size());
  for (const Edge& e : dag.edges()) {
    const int64_t s = coarse_id[dag.index_of(e.src)], d = coarse_id[dag.index_of(e.dst)];
    if (s == d) continue;
    const auto key = std::make_tuple(s, d, static_cast<int>(e.kind));
    const auto [it, fresh] = edge_at.emplace(key, out.edges().size());
    if (fresh) {
      out.edges().push_back(Edge{s, d, e.kind, e.bytes, e.count});
    } else {
      Edge& x = out.edges()[it->second];
      x.bytes += e.bytes;
      x.count += e.count;
    }
  }
  return out;
}

}  // namespace codedag::graph::detail
