#pragma once
// Seeded random pipeline DAGs for the property test and the benchmark: layered like a real data
// pipeline (decode/load layers that cannot leave the CPU first, tensor stages after), with
// log-normal times, some functions shared between contexts, and call edges from a root.
#include <cstdint>

#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {

struct RandomDagOptions {
  int64_t nodes = 1000;
  uint64_t seed = 0;
  double layers_per_sqrt_node = 1.0;   // layers ~ this * sqrt(nodes)
  double shared_function_rate = 0.05;  // probability that a context reuses an earlier function
  double eligible_rate = 0.9;          // past the first fifth of the layers
  int max_in_degree = 3;
  int64_t workers = 4;
};

Dag random_layered_dag(const RandomDagOptions& options);

}  // namespace codedag::graph
