#include "codedag/graph/coarsen/coarsen.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"
#include "codedag/graph/cost/cost_model.hpp"

namespace {

using namespace codedag::graph;

Node make(int64_t id, const std::string& q, std::optional<int64_t> parent, int64_t depth, double cpu,
          bool eligible = true) {
  Node n;
  n.id = id;
  n.name = n.qualname = q;
  n.parent = parent;
  n.depth = depth;
  n.cpu_ns = cpu;
  n.total_ns = cpu;
  n.calls = 4;
  n.gpu_eligible = eligible;
  return n;
}

TEST(Coarsen, DeepContextsFoldIntoTheirAncestor) {
  Dag d;
  d.add_node(make(1, "pkg.root", std::nullopt, 0, 10));
  d.add_node(make(2, "pkg.mel", 1, 1, 100));
  d.add_node(make(3, "torch.matmul", 2, 2, 50));
  d.add_node(make(4, "torch.log", 3, 3, 5, false));
  d.add_node(make(5, "pkg.norm", 1, 1, 7));
  d.add_edge({1, 2, EdgeKind::call, 0, 4});
  d.add_edge({2, 3, EdgeKind::call, 0, 4});
  d.add_edge({2, 3, EdgeKind::data, 100, 4});  // internal: becomes a self-loop and goes
  d.add_edge({4, 5, EdgeKind::data, 64, 4});   // re-pointed to 2 -> 5
  d.add_edge({3, 5, EdgeKind::data, 32, 4});   // parallel to the one above: summed
  const CoarsenResult r = coarsen(d, CoarsenOptions{1, 0});
  ASSERT_EQ(r.dag.nodes().size(), 3u);
  EXPECT_EQ(r.folded_by_depth, 2u);
  const Node& mel = r.dag.node(2);
  EXPECT_DOUBLE_EQ(mel.cpu_ns, 155);
  EXPECT_FALSE(mel.gpu_eligible) << "a non-eligible descendant pins its ancestor";
  EXPECT_EQ(r.representative.at(4), 2);
  EXPECT_EQ(r.representative.at(5), 5);
  size_t data = 0;
  for (const Edge& e : r.dag.edges())
    if (e.kind == EdgeKind::data) {
      ++data;
      EXPECT_EQ(e.src, 2);
      EXPECT_EQ(e.dst, 5);
      EXPECT_DOUBLE_EQ(e.bytes, 96);
      EXPECT_EQ(e.count, 8);
    }
  EXPECT_EQ(data, 1u);
  EXPECT_EQ(patch_qualnames(mel), std::vector<std::string>{"pkg.mel"}) << "descendants run inside: no members";
}

TEST(Coarsen, CyclesFromFoldingMergeIntoOnePatchableNode) {
  Dag d;
  d.add_node(make(1, "pkg.P", std::nullopt, 0, 10));
  d.add_node(make(2, "pkg.p1", 1, 1, 1));
  d.add_node(make(3, "pkg.p2", 1, 1, 1));
  d.add_node(make(4, "pkg.Q", std::nullopt, 0, 20));
  d.add_edge({2, 4, EdgeKind::data, 8, 1});
  d.add_edge({4, 3, EdgeKind::data, 8, 1});
  const CoarsenResult r = coarsen(d, CoarsenOptions{0, 0});
  ASSERT_EQ(r.dag.nodes().size(), 1u);
  EXPECT_EQ(r.merged_cycles, 1u);
  const Node& n = r.dag.nodes()[0];
  EXPECT_EQ(n.qualname, "pkg.P");
  EXPECT_EQ(patch_qualnames(n), (std::vector<std::string>{"pkg.P", "pkg.Q"}));
  EXPECT_DOUBLE_EQ(n.cpu_ns, 32);
  EXPECT_EQ(r.representative.at(4), 1);
}

TEST(Coarsen, ChainsMergeOnLargeGraphsOnly) {
  Dag d;
  d.add_node(make(1, "pkg.a", std::nullopt, 0, 1));
  d.add_node(make(2, "pkg.b", std::nullopt, 0, 2));
  d.add_node(make(3, "pkg.c", std::nullopt, 0, 3));
  d.add_node(make(4, "pkg.d", std::nullopt, 0, 4, false));
  d.add_edge({1, 2, EdgeKind::data, 8, 1});
  d.add_edge({2, 3, EdgeKind::data, 8, 1});
  d.add_edge({3, 4, EdgeKind::data, 8, 1});
  EXPECT_EQ(coarsen(d, CoarsenOptions{5, 100}).dag.nodes().size(), 4u);
  const CoarsenResult r = coarsen(d, CoarsenOptions{5, 1});
  ASSERT_EQ(r.dag.nodes().size(), 2u) << "d differs in eligibility and stays apart";
  EXPECT_EQ(patch_qualnames(r.dag.node(1)), (std::vector<std::string>{"pkg.a", "pkg.b", "pkg.c"}));
  EXPECT_EQ(r.representative.at(3), 1);
  EXPECT_EQ(r.merged_chains, 2u);
}

TEST(Coarsen, NegativeDepthIsRefused) { EXPECT_THROW(coarsen(Dag{}, CoarsenOptions{-1, 0}), codedag::Error); }

}  // namespace
