#pragma once
// A layered drawing of a directed graph (the Sugiyama scheme), computed once in C++ and used by
// `codedag dag svg`, the HTML report and the panel's DAG page:
//   1. cycles broken by reversing DFS back edges (a pipeline DAG has none; a merged call + data
//      graph might),
//   2. layering by longest path, sources pulled down next to their first consumer,
//   3. edges spanning several layers split by dummy nodes,
//   4. crossing reduction: barycenter sweeps down and up, keeping the order with fewest crossings,
//   5. coordinates: each layer placed as close as possible to its neighbours' mean (weighted
//      isotonic regression under the minimum gaps, solved exactly by pool-adjacent-violators),
//      alternating downward and upward sweeps.
// Everything is deterministic: ties are broken by node index, never by address or hash order.
// Cost is about O(sweeps · (V + D) log(V + D)) with D dummy nodes: 1k-node pipelines take
// milliseconds.
#include <cstddef>
#include <vector>

namespace codedag::graph::layout {

struct Point {
  double x = 0, y = 0;
};

struct LayoutOptions {
  double node_height = 34;    // every node's height
  double layer_gap = 56;      // vertical space between two layers' boxes
  double node_gap = 22;       // minimum horizontal space between two boxes of a layer
  double dummy_width = 8;     // room a long edge takes where it passes a layer
  double padding = 16;        // around the drawing
  int ordering_sweeps = 24;   // barycenter passes (each down or up)
  int placement_sweeps = 16;  // coordinate passes
};

// The graph to draw: node i has width widths[i]; edges are (from, to) node indexes. Self loops
// are ignored; repeated pairs share one route.
struct LayoutGraph {
  std::vector<double> widths;
  std::vector<std::pair<size_t, size_t>> edges;
};

struct NodePlacement {
  double x = 0, y = 0;  // centre of the box
  double width = 0, height = 0;
  int layer = 0;
  int order = 0;  // position within its layer, left to right
};

struct EdgeRoute {
  size_t from = 0, to = 0;
  std::vector<Point> points;  // from the bottom of `from` (or top, if it points up) to `to`
  bool reversed = false;      // drawn against the layering (it closed a cycle)
};

struct Layout {
  std::vector<NodePlacement> nodes;  // one per input node, same index
  std::vector<EdgeRoute> edges;      // one per input edge that is not a self loop, input order
  double width = 0, height = 0;
  int layers = 0;
  size_t dummies = 0;    // dummy nodes inserted for long edges
  size_t crossings = 0;  // edge crossings of the chosen order (counted between adjacent layers)
};

Layout layered_layout(const LayoutGraph& graph, const LayoutOptions& options = {});

// Crossings between two adjacent layers: `edges` are (position in upper, position in lower) pairs.
// Exposed for tests; O(E log V) with an accumulator tree (Barth, Jünger, Mutzel).
size_t count_crossings(std::vector<std::pair<int, int>> edges, int lower_size);

}  // namespace codedag::graph::layout
