#include "codedag/monitor/statistics.hpp"

#include <gtest/gtest.h>

using namespace codedag::monitor;

TEST(Statistics, DescribeKnownInputs) {
  EXPECT_FALSE(describe({}).has_value());
  const auto s = describe({2, 4, 4, 4, 5, 5, 7, 9});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->count, 8u);
  EXPECT_DOUBLE_EQ(s->mean, 5.0);
  EXPECT_DOUBLE_EQ(s->std, 2.0);  // population standard deviation, as numpy.std
  EXPECT_DOUBLE_EQ(s->min, 2);
  EXPECT_DOUBLE_EQ(s->max, 9);
  EXPECT_DOUBLE_EQ(s->median, 4.5);
  const auto one = describe({0.15});
  EXPECT_DOUBLE_EQ(one->std, 0);
  EXPECT_DOUBLE_EQ(one->median, 0.15);
  // Far from zero the two-pass variance stays exact.
  const auto big = describe({1e9 + 1, 1e9 + 2, 1e9 + 3});
  EXPECT_NEAR(big->std, 0.816496580927726, 1e-6);
}

TEST(Statistics, MovingAverageIsCentred) {
  const auto m = moving_average({0, 0, 3, 0, 0}, 3);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_DOUBLE_EQ(m[0], 0);
  EXPECT_DOUBLE_EQ(m[1], 1);
  EXPECT_DOUBLE_EQ(m[2], 1);
  EXPECT_DOUBLE_EQ(m[3], 1);
  EXPECT_DOUBLE_EQ(m[4], 0);
  EXPECT_EQ(moving_average({1, 2}, 5), (std::vector<double>{1, 2}));
}

TEST(Statistics, DecimateKeepsSpikesAndEnds) {
  std::vector<std::array<double, 2>> pts;
  for (int i = 0; i < 100000; ++i) pts.push_back({double(i), i == 54321 ? 1000.0 : 1.0});
  const auto d = decimate(pts, 1200);
  EXPECT_LE(d.size(), 1201u);
  EXPECT_EQ(d.front()[0], 0);
  EXPECT_EQ(d.back()[0], 99999);
  bool spike = false;
  for (size_t i = 0; i < d.size(); ++i) {
    spike = spike || d[i][1] == 1000.0;
    if (i) EXPECT_LT(d[i - 1][0], d[i][0]);
  }
  EXPECT_TRUE(spike);
}
