#include "codedag/trace/memory_ranges.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace codedag::trace;

namespace {
auto all_alive = [](const MemoryRanges::Found&) { return true; };
}

TEST(MemoryRanges, NewestContainingRangeWins) {
  MemoryRanges r;
  r.add(1000, 2000, /*owner*/ 1, /*tag*/ 10);   // a loaded shard's rows (a view of the file buffer)
  r.add(1200, 1400, 2, 20);                     // a reshape of one row, produced later
  r.add(5000, 6000, 3, 30);                     // another array, elsewhere
  auto window = r.find(1250, 1300, all_alive);  // a row of the reshape
  ASSERT_TRUE(window);
  EXPECT_EQ(window->owner, 2u);
  EXPECT_EQ(window->tag, 20u);
  auto row = r.find(1500, 1600, all_alive);  // outside the reshape, inside the shard
  ASSERT_TRUE(row);
  EXPECT_EQ(row->owner, 1u);
  EXPECT_FALSE(r.find(900, 1100, all_alive));  // straddles the shard's start: not cut from it
  EXPECT_FALSE(r.find(3000, 3100, all_alive));
  EXPECT_FALSE(r.find(1300, 1300, all_alive));  // empty
}

TEST(MemoryRanges, DeadOwnersAreSkippedAndDropped) {
  MemoryRanges r;
  r.add(0, 100, 1, 10);
  r.add(10, 50, 2, 20);
  std::set<uint64_t> dead{2};
  auto found = r.find(20, 30, [&](const MemoryRanges::Found& f) { return !dead.count(f.owner); });
  ASSERT_TRUE(found);
  EXPECT_EQ(found->owner, 1u);
  EXPECT_EQ(r.size(), 1u);
  dead.insert(1);
  EXPECT_FALSE(r.find(20, 30, [&](const MemoryRanges::Found& f) { return !dead.count(f.owner); }));
  EXPECT_EQ(r.size(), 0u);
}

TEST(MemoryRanges, BoundedForgetsTheOldest) {
  MemoryRanges r(3);
  for (uint64_t i = 0; i < 5; ++i) r.add(i * 100, i * 100 + 50, i, i);
  EXPECT_EQ(r.size(), 3u);
  EXPECT_FALSE(r.find(10, 20, all_alive));  // owner 0: forgotten (an edge lost, never invented)
  EXPECT_FALSE(r.find(110, 120, all_alive));
  ASSERT_TRUE(r.find(410, 420, all_alive));
  r.clear();
  EXPECT_EQ(r.size(), 0u);
  EXPECT_FALSE(r.find(410, 420, all_alive));
}

TEST(MemoryRanges, LookUpWalksABoundedNumberOfRanges) {
  // Thousands of small arrays inside one long range: a look-up past them walks at most kMaxScan
  // entries back, so the long range is not reached: the edge is lost, never a wrong one invented.
  MemoryRanges r(100000);
  r.add(0, 1'000'000'000, 1, 1);
  for (uint64_t i = 0; i < 10000; ++i) r.add(2'000'000 + i * 10, 2'000'000 + i * 10 + 5, 100 + i, 0);
  auto small = r.find(2'000'000 + 9999 * 10 + 1, 2'000'000 + 9999 * 10 + 4, all_alive);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->owner, 100u + 9999u);
  EXPECT_FALSE(r.find(3'000'000, 3'000'010, all_alive));
  auto early = r.find(10, 20, all_alive);  // before the small ones: the long range is the first met
  ASSERT_TRUE(early);
  EXPECT_EQ(early->owner, 1u);
}
