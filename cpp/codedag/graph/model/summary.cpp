#include "codedag/graph/model/summary.hpp"

#include <algorithm>

#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {

DagSummary summarize(const Dag& dag, size_t top) {
  DagSummary s;
  s.nodes = dag.nodes().size();
  s.data_edges = dag.data_edge_count();
  s.call_edges = dag.call_edge_count();
  std::vector<const Node*> all;
  all.reserve(s.nodes);
  for (const Node& n : dag.nodes()) {
    s.total_cpu_ns += n.cpu_ns;
    s.max_depth = std::max(s.max_depth, n.depth);
    s.gpu_eligible += n.gpu_eligible ? 1 : 0;
    all.push_back(&n);
  }
  const size_t k = std::min(top, all.size());
  std::partial_sort(
      all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
      [](const Node* a, const Node* b) { return a->cpu_ns != b->cpu_ns ? a->cpu_ns > b->cpu_ns : a->id < b->id; });
  s.hottest.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k));
  return s;
}

}  // namespace codedag::graph
