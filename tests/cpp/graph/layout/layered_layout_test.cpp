// The layered layout: its promises (layers point down, boxes never overlap, every edge is routed,
// the same input gives the same picture) on small hand-made graphs and on large random DAGs.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "codedag/graph/layout/layered_layout.hpp"

using namespace codedag::graph::layout;

namespace {

LayoutGraph random_dag(size_t n, size_t extra_edges, unsigned seed) {
  std::mt19937 rng(seed);
  LayoutGraph g;
  for (size_t i = 0; i < n; ++i) g.widths.push_back(40 + static_cast<double>(rng() % 120));
  // A tree (like a call tree) plus forward data edges.
  for (size_t i = 1; i < n; ++i) g.edges.emplace_back(rng() % i, i);
  for (size_t k = 0; k < extra_edges; ++k) {
    const size_t a = rng() % n, b = rng() % n;
    if (a != b) g.edges.emplace_back(std::min(a, b), std::max(a, b));
  }
  return g;
}

void expect_well_formed(const LayoutGraph& g, const Layout& l, const LayoutOptions& o = {}) {
  ASSERT_EQ(l.nodes.size(), g.widths.size());
  // Boxes of one layer never overlap and keep the minimum gap.
  std::map<int, std::vector<const NodePlacement*>> layers;
  for (const NodePlacement& p : l.nodes) layers[p.layer].push_back(&p);
  for (auto& [layer, nodes] : layers) {
    std::sort(nodes.begin(), nodes.end(), [](auto* a, auto* b) { return a->x < b->x; });
    for (size_t i = 1; i < nodes.size(); ++i)
      EXPECT_GE(nodes[i]->x - nodes[i]->width / 2 - (nodes[i - 1]->x + nodes[i - 1]->width / 2), o.node_gap - 1e-6)
          << "layer " << layer;
  }
  // Everything inside the drawing.
  for (const NodePlacement& p : l.nodes) {
    EXPECT_GE(p.x - p.width / 2, -1e-6);
    EXPECT_LE(p.x + p.width / 2, l.width + 1e-6);
    EXPECT_LE(p.y + p.height / 2, l.height + 1e-6);
  }
  // Every edge but self loops is routed from its source box to its target box.
  size_t drawn = 0;
  for (const auto& [a, b] : g.edges) drawn += a != b;
  ASSERT_EQ(l.edges.size(), drawn);
  for (const EdgeRoute& r : l.edges) {
    ASSERT_GE(r.points.size(), 2u);
    const NodePlacement &from = l.nodes[r.from], &to = l.nodes[r.to];
    EXPECT_NEAR(r.points.front().x, from.x, 1e-6);
    EXPECT_NEAR(r.points.back().x, to.x, 1e-6);
    if (!r.reversed) EXPECT_LT(from.layer, to.layer);
  }
}

}  // namespace

TEST(LayeredLayout, EmptyGraph) {
  const Layout l = layered_layout({});
  EXPECT_TRUE(l.nodes.empty());
  EXPECT_GT(l.width, 0);
}

TEST(LayeredLayout, ChainGoesStraightDown) {
  LayoutGraph g{{80, 80, 80, 80}, {{0, 1}, {1, 2}, {2, 3}}};
  const Layout l = layered_layout(g);
  expect_well_formed(g, l);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(l.nodes[i].layer, static_cast<int>(i));
    EXPECT_NEAR(l.nodes[i].x, l.nodes[0].x, 1e-6);  // a chain is one vertical line
  }
  EXPECT_EQ(l.crossings, 0u);
}

TEST(LayeredLayout, LongEdgesGetDummiesAndSourcesMoveDown) {
  // 0 -> 1 -> 2 -> 3 and 0 -> 3: the long edge passes layers 1 and 2. 4 -> 3 is a late source:
  // it sits just above 3, not at the top.
  LayoutGraph g{{60, 60, 60, 60, 60}, {{0, 1}, {1, 2}, {2, 3}, {0, 3}, {4, 3}}};
  const Layout l = layered_layout(g);
  expect_well_formed(g, l);
  EXPECT_EQ(l.dummies, 2u);
  EXPECT_EQ(l.nodes[4].layer, 2);
  const EdgeRoute& longest = l.edges[3];
  EXPECT_EQ(longest.points.size(), 2u + 2 * 2);  // two points through each passed layer
}

TEST(LayeredLayout, CyclesAreBrokenNotRefused) {
  LayoutGraph g{{50, 50, 50}, {{0, 1}, {1, 2}, {2, 0}, {1, 1}}};
  const Layout l = layered_layout(g);
  expect_well_formed(g, l);
  size_t reversed = 0;
  for (const EdgeRoute& r : l.edges) reversed += r.reversed;
  EXPECT_EQ(reversed, 1u);
  EXPECT_EQ(l.edges.size(), 3u);  // the self loop is not drawn
}

TEST(LayeredLayout, CrossingReductionUntanglesAnObviousCase) {
  // Two parents, each with two children listed crosswise: the best order has no crossing.
  LayoutGraph g{{50, 50, 50, 50, 50, 50}, {{0, 5}, {0, 4}, {1, 3}, {1, 2}, {0, 3}}};
  const Layout l = layered_layout(g);
  expect_well_formed(g, l);
  EXPECT_EQ(l.crossings, 0u);
}

TEST(LayeredLayout, RepeatedAndOppositeEdgesShareOneRoute) {
  LayoutGraph g{{50, 50}, {{0, 1}, {0, 1}, {1, 0}}};
  const Layout l = layered_layout(g);
  ASSERT_EQ(l.edges.size(), 3u);
  EXPECT_EQ(l.dummies, 0u);
  EXPECT_TRUE(l.edges[2].reversed);
  EXPECT_NEAR(l.edges[2].points.front().y, l.edges[0].points.back().y, 1e-6);  // drawn from 1 back up to 0
}

TEST(LayeredLayout, CountCrossings) {
  EXPECT_EQ(count_crossings({{0, 1}, {1, 0}}, 2), 1u);
  EXPECT_EQ(count_crossings({{0, 0}, {1, 1}}, 2), 0u);
  EXPECT_EQ(count_crossings({{0, 2}, {1, 1}, {2, 0}}, 3), 3u);
  EXPECT_EQ(count_crossings({{0, 0}, {0, 1}, {1, 0}}, 2), 1u);
  EXPECT_EQ(count_crossings({}, 0), 0u);
}

TEST(LayeredLayout, LargeRandomDagsAreWellFormedAndDeterministic) {
  for (unsigned seed : {1u, 2u, 3u}) {
    const LayoutGraph g = random_dag(1500, 600, seed);
    const Layout a = layered_layout(g);
    expect_well_formed(g, a);
    const Layout b = layered_layout(g);
    ASSERT_EQ(a.nodes.size(), b.nodes.size());
    for (size_t i = 0; i < a.nodes.size(); ++i) {
      EXPECT_EQ(a.nodes[i].x, b.nodes[i].x);
      EXPECT_EQ(a.nodes[i].layer, b.nodes[i].layer);
    }
    EXPECT_EQ(a.crossings, b.crossings);
  }
}

TEST(LayeredLayout, OrderingNeverEndsWorseThanTheFirstOrder) {
  const LayoutGraph g = random_dag(300, 300, 7);
  LayoutOptions none;
  none.ordering_sweeps = 0;
  const Layout start = layered_layout(g, none);
  const Layout tuned = layered_layout(g);
  EXPECT_LE(tuned.crossings, start.crossings);
  EXPECT_LT(tuned.crossings, start.crossings) << "barycenter sweeps should remove some crossings of a random DAG";
}
