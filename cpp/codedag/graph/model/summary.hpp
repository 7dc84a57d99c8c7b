#pragma once
// What a person wants to know of a DAG at a glance.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace codedag::graph {

class Dag;
struct Node;

struct DagSummary {
  size_t nodes = 0, data_edges = 0, call_edges = 0, gpu_eligible = 0;
  int64_t max_depth = 0;
  double total_cpu_ns = 0;           // sum of exclusive times: the batch's CPU work
  std::vector<const Node*> hottest;  // by exclusive time, most first
};

// Pointers in `hottest` point into `dag`, which must outlive the summary.
DagSummary summarize(const Dag& dag, size_t top = 10);

}  // namespace codedag::graph
