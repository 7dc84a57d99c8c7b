#include "codedag/trace/context_tree.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace codedag::trace;

TEST(ContextTree, SameFunctionAtOneSiteAggregatesAcrossCalls) {
  ContextTree t;
  const int32_t root = t.child(-1, 100, {1, 10}, false);
  EXPECT_EQ(t.child(-1, 100, {1, 10}, false), root);
  const int32_t a = t.child(root, 200, {100, 4}, false);
  const int32_t b = t.child(root, 200, {100, 8}, false);  // same function, second call site
  EXPECT_NE(a, b);
  EXPECT_EQ(t.child(root, 200, {100, 4}, false), a);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t[a].depth, 2);
  EXPECT_EQ(t[a].parent, root);
}

TEST(ContextTree, FlowsAccumulateSortedAndClearNumbersKeepsStructure) {
  ContextTree t;
  const int32_t x = t.child(-1, 1, {}, false), y = t.child(-1, 2, {}, false), z = t.child(-1, 3, {}, true);
  t.add_flow(y, z, 10);
  t.add_flow(x, y, 5);
  t.add_flow(x, y, 7);
  t.add_lib_call(x, 9);
  t.add_lib_call(x, 9);
  const auto flows = t.flows();
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].src, x);
  EXPECT_EQ(flows[0].count, 2);
  EXPECT_DOUBLE_EQ(flows[0].bytes, 12);
  EXPECT_EQ(t[x].stats.lib_calls.size(), 1u);
  EXPECT_EQ(t.flow_events(), 3);
  t[x].stats.calls = 4;
  t.clear_numbers();
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t[x].stats.calls, 0);
  EXPECT_TRUE(t.flows().empty());
  EXPECT_TRUE(t[z].builtin);
}

TEST(ContextTree, AliasedRawSiteFindsTheCanonicalContextWithoutCreatingOne) {
  ContextTree tree;
  const CallSite canonical{0x1000, 4}, raw{0x1000, 5};
  EXPECT_EQ(tree.find(-1, 7, raw), -1);
  const int32_t ctx = tree.child(-1, 7, canonical, false);
  tree.alias(-1, 7, raw, ctx);
  EXPECT_EQ(tree.find(-1, 7, raw), ctx);
  EXPECT_EQ(tree.find(-1, 7, canonical), ctx);
  EXPECT_EQ(tree.child(-1, 7, raw, false), ctx);  // the alias is a key like any other
  EXPECT_EQ(tree.size(), 1u);
  EXPECT_EQ(tree.find(-1, 8, raw), -1);   // another function at that site is not aliased
  EXPECT_EQ(tree.find(ctx, 7, raw), -1);  // nor the same call under another parent
}

// add_flow keeps its last entry at hand; repeats, inserts that grow the map in between, a copy of the
// tree and clears must all still count every flow exactly once, in the right tree.
TEST(ContextTree, RepeatedFlowsStayExactAcrossGrowthCopiesAndClears) {
  ContextTree t;
  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(t.child(-1, static_cast<FuncId>(i + 1), {}, false));
  t.add_flow(ids[0], ids[1], 1);
  t.add_flow(ids[0], ids[1], 2);
  for (int i = 2; i < 40; ++i) t.add_flow(ids[0], ids[i], 1);  // grows the map: the kept entry moves
  t.add_flow(ids[0], ids[1], 4);
  ContextTree copy = t;
  copy.add_flow(ids[0], ids[1], 8);  // into the copy only
  t.add_flow(ids[0], ids[39], 16);
  auto find = [](const ContextTree& tree, int32_t src, int32_t dst) {
    for (const Flow& f : tree.flows())
      if (f.src == src && f.dst == dst) return f;
    return Flow{};
  };
  EXPECT_EQ(find(t, ids[0], ids[1]).count, 3);
  EXPECT_DOUBLE_EQ(find(t, ids[0], ids[1]).bytes, 7);
  EXPECT_EQ(find(copy, ids[0], ids[1]).count, 4);
  EXPECT_DOUBLE_EQ(find(copy, ids[0], ids[1]).bytes, 15);
  EXPECT_EQ(find(t, ids[0], ids[39]).count, 2);
  EXPECT_EQ(find(copy, ids[0], ids[39]).count, 1);
  t.clear_numbers();
  t.add_flow(ids[0], ids[39], 1);
  ASSERT_EQ(t.flows().size(), 1u);
  EXPECT_EQ(t.flows()[0].count, 1);
  EXPECT_EQ(t.flows()[0].src, ids[0]);
  EXPECT_EQ(t.flows()[0].dst, ids[39]);
}
