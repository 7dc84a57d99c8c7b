#include "codedag/graph/model/random_dag.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "codedag/common/error.hpp"

namespace codedag::graph {

Dag random_layered_dag(const RandomDagOptions& o) {
  if (o.nodes < 1) throw InputError("a random DAG needs at least 1 node, got " + std::to_string(o.nodes));
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::lognormal_distribution<double> time_ns(std::log(200'000.0), 1.2);
  std::lognormal_distribution<double> bytes(std::log(256.0 * 1024), 1.0);
  const int64_t n = o.nodes;
  const int64_t layers = std::max<int64_t>(1, std::llround(o.layers_per_sqrt_node * std::sqrt(static_cast<double>(n))));
  Dag dag;
  dag.meta = {
      {"batches", 1}, {"samples", 32}, {"workers", o.workers}, {"generator", "random_layered_dag"}, {"seed", o.seed}};
  std::vector<int64_t> layer_of(n);
  std::vector<std::vector<int64_t>> by_layer(layers);
  for (int64_t i = 0; i < n; ++i) {
    layer_of[i] = i == 0 ? 0 : std::min<int64_t>(layers - 1, i * layers / n);
    by_layer[layer_of[i]].push_back(i);
  }
  for (int64_t i = 0; i < n; ++i) {
    Node node;
    node.id = i;
    const bool shared = i > 2 && unit(rng) < o.shared_function_rate;
    const int64_t fn = shared ? static_cast<int64_t>(unit(rng) * static_cast<double>(i)) : i;
    node.name = "stage_" + std::to_string(fn);
    node.qualname = "pipeline.layer" + std::to_string(layer_of[fn]) + ".stage_" + std::to_string(fn);
    node.module = "pipeline";
    node.depth = 1;
    node.calls = 32;
    node.cpu_ns = std::round(time_ns(rng));
    node.total_ns = node.cpu_ns;
    node.out_bytes = std::round(bytes(rng));
    const bool early = layer_of[i] * 5 < layers;
    node.gpu_eligible = early ? unit(rng) < 0.2 : unit(rng) < o.eligible_rate;
    if (!node.gpu_eligible) node.blocked_by = {"PIL.Image.open"};
    if (unit(rng) < 0.1 && node.gpu_eligible) node.gpu_ns = std::round(node.cpu_ns / (2 + 20 * unit(rng)));
    dag.add_node(std::move(node));
  }
  for (int64_t i = 1; i < n; ++i) {
    const int64_t layer = layer_of[i];
    if (layer == 0) continue;
    const int degree = 1 + static_cast<int>(unit(rng) * o.max_in_degree);
    for (int d = 0; d < degree; ++d) {
      // Mostly the previous layer, sometimes further back (skip connections).
      const int64_t back = unit(rng) < 0.8 ? 1 : 1 + static_cast<int64_t>(unit(rng) * static_cast<double>(layer));
      const auto& from = by_layer[std::max<int64_t>(0, layer - back)];
      const int64_t src = from[static_cast<size_t>(unit(rng) * static_cast<double>(from.size()))];
      if (src == i) continue;
      dag.add_edge(Edge{src, i, EdgeKind::data, dag.node(src).out_bytes, 32});
    }
  }
  return dag;
}

}  // namespace codedag::graph
