#include "codedag/trace/context_tree.hpp"

#include <gtest/gtest.h>

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
