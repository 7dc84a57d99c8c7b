#pragma once
// Internals of layered_layout (shared by its phase files, not a public interface): the "proper"
// layered graph, where every edge joins two adjacent layers because long edges were split by
// dummy vertices. Vertices 0..real-1 are the input nodes, the rest are dummies.
#include <cstddef>
#include <utility>
#include <vector>

namespace codedag::graph::layout::detail {

struct ProperGraph {
  size_t real = 0;
  std::vector<int> layer;                // per vertex
  std::vector<double> width;             // per vertex
  std::vector<std::vector<int>> up;      // neighbours one layer above
  std::vector<std::vector<int>> down;    // neighbours one layer below
  std::vector<std::vector<int>> layers;  // vertices of each layer, left to right
  // One chain per distinct (top, bottom) pair after cycle breaking: its vertices top to bottom.
  std::vector<std::vector<int>> chains;
  int layer_count() const { return static_cast<int>(layers.size()); }
  bool dummy(int v) const { return static_cast<size_t>(v) >= real; }
};

// What phase 1-3 give for each input edge: its chain and whether it was reversed.
struct EdgeChain {
  int chain = -1;  // -1: a self loop, not drawn
  bool reversed = false;
};

// Phases 1-3: breaks cycles, assigns layers, splits long edges. `chains_of_edges` receives one
// entry per input edge. Layers are left in a DFS order (the start of phase 4).
ProperGraph build_proper_graph(const std::vector<double>& widths, const std::vector<std::pair<size_t, size_t>>& edges,
                               double dummy_width, std::vector<EdgeChain>& chains_of_edges);

// Phase 4: reorders g.layers in place; returns the crossings of the order kept.
size_t reduce_crossings(ProperGraph& g, int sweeps);

// Phase 5: x of every vertex (centre), given the order of g.layers.
std::vector<double> place_horizontally(const ProperGraph& g, double gap, int sweeps);

}  // namespace codedag::graph::layout::detail
