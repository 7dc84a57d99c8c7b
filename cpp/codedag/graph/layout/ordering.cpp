// Phase 4 of the layered layout: crossing reduction by barycenter sweeps.
#include <algorithm>
#include <numeric>

#include "codedag/graph/layout/layered_graph.hpp"
#include "codedag/graph/layout/layered_layout.hpp"

namespace codedag::graph::layout {

size_t count_crossings(std::vector<std::pair<int, int>> edges, int lower_size) {
  // Sorted by the upper end (then the lower), two edges cross exactly when their lower ends are
  // inverted: count inversions with a Fenwick tree over the lower positions.
  std::sort(edges.begin(), edges.end());
  std::vector<size_t> tree(static_cast<size_t>(lower_size) + 1, 0);
  size_t crossings = 0, inserted = 0;
  for (const auto& [upper, lower] : edges) {
    (void)upper;
    size_t not_greater = 0;  // inserted lower ends <= lower
    for (int i = lower + 1; i > 0; i -= i & -i) not_greater += tree[static_cast<size_t>(i)];
    crossings += inserted - not_greater;
    for (int i = lower + 1; i <= lower_size; i += i & -i) ++tree[static_cast<size_t>(i)];
    ++inserted;
  }
  return crossings;
}

namespace detail {
namespace {

size_t total_crossings(const ProperGraph& g, const std::vector<int>& pos) {
  size_t total = 0;
  std::vector<std::pair<int, int>> edges;
  for (int l = 0; l + 1 < g.layer_count(); ++l) {
    edges.clear();
    for (int v : g.layers[l])
      for (int w : g.down[v]) edges.emplace_back(pos[v], pos[w]);
    total += count_crossings(edges, static_cast<int>(g.layers[l + 1].size()));
  }
  return total;
}

// Reorders one layer by the mean position of each vertex's neighbours in the fixed layer; a
// vertex without such neighbours keeps its place (its current position is its key).
void sort_by_barycenter(std::vector<int>& layer, const std::vector<std::vector<int>>& neighbours,
                        std::vector<int>& pos) {
  std::vector<std::pair<double, int>> keyed;
  keyed.reserve(layer.size());
  for (int v : layer) {
    const auto& nb = neighbours[v];
    double key = pos[v];
    if (!nb.empty()) {
      double sum = 0;
      for (int u : nb) sum += pos[u];
      key = sum / static_cast<double>(nb.size());
    }
    keyed.emplace_back(key, v);
  }
  // Stable on the old order for equal keys: deterministic and no needless swaps.
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < keyed.size(); ++i) {
    layer[i] = keyed[i].second;
    pos[keyed[i].second] = static_cast<int>(i);
  }
}

}  // namespace

size_t reduce_crossings(ProperGraph& g, int sweeps) {
  std::vector<int> pos(g.layer.size(), 0);
  for (const auto& layer : g.layers)
    for (size_t i = 0; i < layer.size(); ++i) pos[layer[i]] = static_cast<int>(i);
  size_t best = total_crossings(g, pos);
  std::vector<std::vector<int>> best_layers = g.layers;
  int since_better = 0;
  for (int s = 0; s < sweeps && best > 0 && since_better < 6; ++s) {
    if (s % 2 == 0) {
      for (int l = 1; l < g.layer_count(); ++l) sort_by_barycenter(g.layers[l], g.up, pos);
    } else {
      for (int l = g.layer_count() - 2; l >= 0; --l) sort_by_barycenter(g.layers[l], g.down, pos);
    }
    const size_t now = total_crossings(g, pos);
    if (now < best) {
      best = now;
      best_layers = g.layers;
      since_better = 0;
    } else {
      ++since_better;
    }
  }
  g.layers = std::move(best_layers);
  return best;
}

}  // namespace detail
}  // namespace codedag::graph::layout
