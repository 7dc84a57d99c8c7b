#include "codedag/graph/layout/layered_layout.hpp"

#include <algorithm>
#include <limits>

#include "codedag/graph/layout/layered_graph.hpp"

namespace codedag::graph::layout {

Layout layered_layout(const LayoutGraph& graph, const LayoutOptions& o) {
  const size_t n = graph.widths.size();
  Layout out;
  out.nodes.resize(n);
  if (n == 0) {
    out.width = out.height = 2 * o.padding;
    return out;
  }
  std::vector<detail::EdgeChain> chain_of_edge;
  detail::ProperGraph g = detail::build_proper_graph(graph.widths, graph.edges, o.dummy_width, chain_of_edge);
  out.crossings = detail::reduce_crossings(g, o.ordering_sweeps);
  std::vector<double> x = detail::place_horizontally(g, o.node_gap, o.placement_sweeps);

  double min_left = std::numeric_limits<double>::max(), max_right = std::numeric_limits<double>::lowest();
  for (size_t v = 0; v < x.size(); ++v) {
    min_left = std::min(min_left, x[v] - g.width[v] / 2);
    max_right = std::max(max_right, x[v] + g.width[v] / 2);
  }
  const double shift = o.padding - min_left;
  for (double& xv : x) xv += shift;
  auto y_of = [&](int layer) { return o.padding + layer * (o.node_height + o.layer_gap) + o.node_height / 2; };

  for (const auto& layer : g.layers)
    for (size_t i = 0; i < layer.size(); ++i) {
      const int v = layer[i];
      if (g.dummy(v)) continue;
      NodePlacement& p = out.nodes[static_cast<size_t>(v)];
      p.x = x[v];
      p.y = y_of(g.layer[v]);
      p.width = g.width[v];
      p.height = o.node_height;
      p.layer = g.layer[v];
      p.order = static_cast<int>(i);
    }
  for (size_t i = 0; i < graph.edges.size(); ++i) {
    const detail::EdgeChain& c = chain_of_edge[i];
    if (c.chain < 0) continue;
    EdgeRoute r;
    r.from = graph.edges[i].first;
    r.to = graph.edges[i].second;
    r.reversed = c.reversed;
    const std::vector<int>& chain = g.chains[static_cast<size_t>(c.chain)];
    const double half = o.node_height / 2;
    r.points.push_back({x[chain.front()], y_of(g.layer[chain.front()]) + half});
    for (size_t k = 1; k + 1 < chain.size(); ++k) {  // straight through each layer a dummy crosses
      const int d = chain[k];
      r.points.push_back({x[d], y_of(g.layer[d]) - half});
      r.points.push_back({x[d], y_of(g.layer[d]) + half});
    }
    r.points.push_back({x[chain.back()], y_of(g.layer[chain.back()]) - half});
    if (r.reversed) std::reverse(r.points.begin(), r.points.end());
    out.edges.push_back(std::move(r));
  }
  out.layers = g.layer_count();
  out.dummies = g.layer.size() - g.real;
  out.width = max_right - min_left + 2 * o.padding;
  out.height = 2 * o.padding + out.layers * o.node_height + std::max(0, out.layers - 1) * o.layer_gap;
  return out;
}

}  // namespace codedag::graph::layout
