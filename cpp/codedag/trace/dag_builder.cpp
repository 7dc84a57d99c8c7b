#include "codedag/trace/dag_builder.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "codedag/trace/value_types.hpp"

namespace codedag::trace {

void compute_eligibility(const ResolvedTree& tree, bool registry_available, std::vector<bool>& eligible,
                         std::vector<std::vector<std::string>>& blocked_by) {
  const size_t n = tree.contexts.size();
  eligible.assign(n, false);
  blocked_by.assign(n, {});
  std::vector<std::vector<size_t>> children(n);
  for (size_t i = 0; i < n; ++i)
    if (tree.contexts[i].parent >= 0) children[static_cast<size_t>(tree.contexts[i].parent)].push_back(i);
  const uint32_t movable = registry_available ? kArrayLike : kTensor;
  // Children always come after their parent, so one backward pass sees every child first.
  for (size_t k = n; k-- > 0;) {
    const ResolvedContext& c = tree.contexts[k];
    auto& blocked = blocked_by[k];
    const uint32_t values = c.arg_types | c.ret_types;
    if (c.builtin || (c.library && c.covered)) {
      // A library function is judged as a whole: covered (torch op / registry) or not.
      if (!c.covered) blocked.push_back(c.qualname);
      eligible[k] = c.covered;
      continue;
    }
    if ((values & movable) == 0)
      blocked.push_back(registry_available ? "values: no tensor or array" : "values: no tensor");
    if (values & ~kDeviceFriendly & ~movable) blocked.push_back("values: other");
    if (!registry_available && (values & (kNdarray | kPilImage)))
      blocked.push_back("values: ndarray/PIL need codedag.strategies");
    for (const auto& call : c.uncovered_calls)
      if (std::find(blocked.begin(), blocked.end(), call) == blocked.end()) blocked.push_back(call);
    for (size_t child : children[k]) {
      const ResolvedContext& d = tree.contexts[child];
      if (d.covered || eligible[child]) continue;
      for (const auto& b : blocked_by[child])
        if (b.rfind("values:", 0) != 0 && std::find(blocked.begin(), blocked.end(), b) == blocked.end())
          blocked.push_back(b);
      if (blocked_by[child].empty() || d.builtin) continue;
      const std::string why = d.qualname;
      if (std::find(blocked.begin(), blocked.end(), why) == blocked.end() &&
          std::all_of(blocked_by[child].begin(), blocked_by[child].end(),
                      [](const std::string& b) { return b.rfind("values:", 0) == 0; }))
        blocked.push_back(why);
    }
    eligible[k] = blocked.empty() && c.calls > 0;
  }
}

std::vector<std::string> context_modules(const ResolvedTree& tree) {
  std::set<std::string> modules;
  for (const ResolvedContext& c : tree.contexts) modules.insert(c.module);
  return {modules.begin(), modules.end()};
}

graph::Dag build_dag(const ResolvedTree& tree, const DagBuildOptions& options, DagBuildReport* report) {
  const double per = static_cast<double>(std::max<int64_t>(options.batches, 1));
  // Counts are per batch too; a context seen at all keeps at least one call.
  auto per_batch = [per](int64_t count) {
    return count == 0 ? int64_t{0} : std::max<int64_t>(1, std::llround(static_cast<double>(count) / per));
  };
  std::vector<bool> eligible;
  std::vector<std::vector<std::string>> blocked;
  compute_eligibility(tree, options.registry_available, eligible, blocked);

  graph::Dag dag;
  dag.meta = options.meta;
  dag.meta["batches"] = std::max<int64_t>(options.batches, 1);
  const size_t n = tree.contexts.size();
  for (size_t i = 0; i < n; ++i) {
    const ResolvedContext& c = tree.contexts[i];
    graph::Node node;
    node.id = static_cast<int64_t>(i) + 1;
    node.name = c.name;
    node.qualname = c.qualname;
    node.module = c.module;
    node.file = c.file;
    node.line = c.line;
    node.kind = c.builtin ? "builtin" : "python";
    if (c.parent >= 0) node.parent = c.parent + 1;
    node.depth = c.depth;
    node.calls = per_batch(c.calls);
    node.cpu_ns = std::max(0.0, c.cpu_ns) / per;
    node.total_ns = std::max(0.0, c.total_ns) / per;
    node.out_bytes = c.out_bytes / per;
    node.gpu_eligible = eligible[i];
    node.arg_types = value_type_names(c.arg_types);
    node.ret_types = value_type_names(c.ret_types);
    node.lib_calls = c.lib_calls;
    node.blocked_by = blocked[i];
    node.library = c.library || c.builtin;
    if (const auto it = options.libraries.find(c.module); it != options.libraries.end()) {
      node.library = it->second.library || c.builtin;
      node.distribution = it->second.distribution;
    }
    dag.add_node(std::move(node));
  }
  for (size_t i = 0; i < n; ++i)
    if (tree.contexts[i].parent >= 0)
      dag.add_edge({tree.contexts[i].parent + 1, static_cast<int64_t>(i) + 1, graph::EdgeKind::call, 0,
                    per_batch(tree.contexts[i].calls)});

  std::vector<ResolvedFlow> flows = tree.flows;
  std::sort(flows.begin(), flows.end(), [](const ResolvedFlow& a, const ResolvedFlow& b) {
    return a.src != b.src ? a.src < b.src : a.dst < b.dst;
  });
  std::vector<std::vector<int64_t>> out(n);
  std::vector<int> seen(n, 0);
  int stamp = 0;
  // Is `to` reachable from `from` over the data edges kept so far?
  auto reaches = [&](int64_t from, int64_t to) {
    ++stamp;
    std::vector<int64_t> stack{from};
    while (!stack.empty()) {
      const int64_t v = stack.back();
      stack.pop_back();
      if (v == to) return true;
      if (seen[static_cast<size_t>(v)] == stamp) continue;
      seen[static_cast<size_t>(v)] = stamp;
      for (int64_t w : out[static_cast<size_t>(v)]) stack.push_back(w);
    }
    return false;
  };
  int64_t dropped = 0;
  for (const ResolvedFlow& f : flows) {
    if (f.src == f.dst || reaches(f.dst, f.src)) {
      ++dropped;
      continue;
    }
    out[static_cast<size_t>(f.src)].push_back(f.dst);
    dag.add_edge({f.src + 1, f.dst + 1, graph::EdgeKind::data, f.bytes / per, per_batch(f.count)});
  }
  dag.meta["dropped_data_edges"] = dropped;
  if (report) report->dropped_data_edges = dropped;
  dag.validate("traced dag");
  return dag;
}

}  // namespace codedag::trace
