// Phase 5 of the layered layout: x coordinates. Each sweep moves every layer as close as it can to
// the mean x of each vertex's neighbours in the layer before it, without reordering the layer or
// breaking the minimum gaps: a weighted isotonic regression, solved exactly by pool-adjacent-
// violators in linear time per layer.
#include <algorithm>

#include "codedag/graph/layout/layered_graph.hpp"

namespace codedag::graph::layout::detail {
namespace {

// Minimises sum w_i (y_i - t_i)^2 subject to y_0 <= y_1 <= ... (pool adjacent violators).
std::vector<double> isotonic(const std::vector<double>& target, const std::vector<double>& weight) {
  struct Block {
    double sum_wt, sum_w;
    size_t count;
    double mean() const { return sum_wt / sum_w; }
  };
  std::vector<Block> blocks;
  for (size_t i = 0; i < target.size(); ++i) {
    blocks.push_back({weight[i] * target[i], weight[i], 1});
    while (blocks.size() > 1 && blocks[blocks.size() - 2].mean() > blocks.back().mean()) {
      Block last = blocks.back();
      blocks.pop_back();
      blocks.back().sum_wt += last.sum_wt;
      blocks.back().sum_w += last.sum_w;
      blocks.back().count += last.count;
    }
  }
  std::vector<double> y;
  y.reserve(target.size());
  for (const Block& b : blocks) y.insert(y.end(), b.count, b.mean());
  return y;
}

}  // namespace

std::vector<double> place_horizontally(const ProperGraph& g, double gap, int sweeps) {
  std::vector<double> x(g.layer.size(), 0);
  for (const auto& layer : g.layers) {  // packed left to right
    double at = 0;
    for (size_t i = 0; i < layer.size(); ++i) {
      if (i > 0) at += (g.width[layer[i - 1]] + g.width[layer[i]]) / 2 + gap;
      x[layer[i]] = at;
    }
  }
  auto place_layer = [&](const std::vector<int>& layer, bool use_up, bool use_down) {
    if (layer.empty()) return;
    std::vector<double> target(layer.size()), weight(layer.size()), offset(layer.size(), 0);
    for (size_t i = 0; i < layer.size(); ++i) {
      const int v = layer[i];
      double sum = 0;
      size_t count = 0;
      if (use_up)
        for (int u : g.up[v]) sum += x[u], ++count;
      if (use_down)
        for (int u : g.down[v]) sum += x[u], ++count;
      // Long edges (dummies) pull hardest, so they run straight; a vertex with nothing to follow
      // barely resists being pushed.
      target[i] = count ? sum / static_cast<double>(count) : x[v];
      weight[i] = count ? (g.dummy(v) ? 4.0 : 1.0) * static_cast<double>(count) : 0.05;
      if (i > 0) offset[i] = offset[i - 1] + (g.width[layer[i - 1]] + g.width[v]) / 2 + gap;
      target[i] -= offset[i];
    }
    const std::vector<double> y = isotonic(target, weight);
    for (size_t i = 0; i < layer.size(); ++i) x[layer[i]] = y[i] + offset[i];
  };
  const int layers = g.layer_count();
  for (int s = 0; s < sweeps; ++s) {
    const bool last = s == sweeps - 1;
    if (s % 2 == 0 && !last) {
      for (int l = 1; l < layers; ++l) place_layer(g.layers[l], true, false);
    } else if (!last) {
      for (int l = layers - 2; l >= 0; --l) place_layer(g.layers[l], false, true);
    } else {  // a closing pass that balances each vertex between both sides
      for (int l = 0; l < layers; ++l) place_layer(g.layers[l], true, true);
    }
  }
  return x;
}

}  // namespace codedag::graph::layout::detail
