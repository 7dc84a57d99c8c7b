// The sorted run-id lists the panel's filters intersect (run_id_list.hpp), against std::set.
#include "codedag/store/run_id_list.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

using codedag::store::RunIdList;

TEST(RunIdList, SortsDropsRepeatsAndAnswersMembership) {
  const RunIdList l({9, 3, 3, 7, 1, 9});
  EXPECT_EQ(l.ids(), (std::vector<long long>{1, 3, 7, 9}));
  EXPECT_TRUE(l.contains(7));
  EXPECT_FALSE(l.contains(2));
  EXPECT_EQ(l.position(7), 2u);
  EXPECT_EQ(l.position(8), l.size());  // absent: size()
  EXPECT_TRUE(RunIdList().empty());
  EXPECT_FALSE(RunIdList().contains(0));
}

TEST(RunIdList, SetOperationsAgreeWithStdSet) {
  std::mt19937 rng(15);
  for (int round = 0; round < 50; ++round) {
    std::vector<long long> a, b;
    std::set<long long> sa, sb;
    const int span = 1 + round * 7;
    for (int i = 0; i < round * 3; ++i) {
      a.push_back(static_cast<long long>(rng() % span));
      sa.insert(a.back());
    }
    for (int i = 0; i < round * 2; ++i) {
      b.push_back(static_cast<long long>(rng() % span));
      sb.insert(b.back());
    }
    const RunIdList la(a), lb(b);
    std::vector<long long> both, only_a, either;
    for (long long x : sa) (sb.count(x) ? both : only_a).push_back(x);
    std::set<long long> u = sa;
    u.insert(sb.begin(), sb.end());
    either.assign(u.begin(), u.end());
    EXPECT_EQ(la.intersect(lb).ids(), both) << round;
    EXPECT_EQ(la.without(lb).ids(), only_a) << round;
    EXPECT_EQ(la.unite(lb).ids(), either) << round;
  }
}
