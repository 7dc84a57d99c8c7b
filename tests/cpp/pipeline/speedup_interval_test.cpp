#include "codedag/pipeline/speedup_interval.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "codedag/common/error.hpp"

using namespace codedag::pipeline;

TEST(SpeedupInterval, StudentTAndNormalMatchTables) {
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.7062, 1e-3);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.7764, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.0423, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.025, 4), -2.7764, 1e-4);
  EXPECT_NEAR(normal_cdf(1.959964), 0.975, 1e-6);
  EXPECT_THROW(student_t_quantile(1.0, 3), codedag::InputError);
  EXPECT_THROW(student_t_quantile(0.5, 0.5), codedag::InputError);
}

TEST(SpeedupInterval, IdenticalRatiosGiveAPointInterval) {
  const SpeedupInterval s = speedup_interval({10, 20, 5, 8}, {20, 40, 10, 16});
  EXPECT_NEAR(s.speedup, 2.0, 1e-12);
  EXPECT_NEAR(s.lower, 2.0, 1e-12);
  EXPECT_NEAR(s.upper, 2.0, 1e-12);
  EXPECT_TRUE(s.has_interval);
  EXPECT_EQ(s.rounds, 4u);
}

TEST(SpeedupInterval, OneRoundHasNoInterval) {
  const SpeedupInterval s = speedup_interval({10}, {15});
  EXPECT_FALSE(s.has_interval);
  EXPECT_DOUBLE_EQ(s.speedup, 1.5);
  EXPECT_DOUBLE_EQ(s.lower, 1.5);
}

TEST(SpeedupInterval, TwoRoundsSpanTheirRatios) {
  // With two rounds the widened level covers (almost) every resample: the interval is the range.
  const SpeedupInterval s = speedup_interval({10, 10}, {9, 14});
  EXPECT_NEAR(s.lower, 0.9, 1e-9);
  EXPECT_NEAR(s.upper, 1.4, 1e-9);
}

TEST(SpeedupInterval, NoisyRoundsBracketTheTruthAtAboutTheStatedRate) {
  // 400 experiments of 6 rounds with a true speedup of 1.3 and 15 % log-normal noise per round:
  // the 95 % interval must contain 1.3 in at least ~90 % of them (expanded percentile intervals are
  // close to nominal even for n = 6; a plain percentile interval covers only ~85 %).
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 0.15);
  int covered = 0;
  const int experiments = 400;
  for (int e = 0; e < experiments; ++e) {
    std::vector<double> base, cand;
    for (int r = 0; r < 6; ++r) {
      const double load = std::exp(noise(rng));  // the machine's load moves both
      base.push_back(100 * load);
      cand.push_back(130 * load * std::exp(noise(rng)));
    }
    const SpeedupInterval s = speedup_interval(base, cand, 0.95, 1000, static_cast<uint64_t>(e));
    ASSERT_LE(s.lower, s.speedup);
    ASSERT_GE(s.upper, s.speedup);
    covered += s.lower <= 1.3 && 1.3 <= s.upper;
  }
  EXPECT_GE(covered, experiments * 90 / 100);
}

TEST(SpeedupInterval, DeterministicForASeed) {
  const std::vector<double> b{10, 11, 9, 10.5, 9.7}, c{12, 12.5, 11, 13, 10};
  const SpeedupInterval x = speedup_interval(b, c, 0.95, 2000, 3), y = speedup_interval(b, c, 0.95, 2000, 3);
  EXPECT_EQ(x.lower, y.lower);
  EXPECT_EQ(x.upper, y.upper);
  EXPECT_LT(x.lower, x.upper);
}

TEST(SpeedupInterval, BadInputIsNamed) {
  EXPECT_THROW(speedup_interval({}, {}), codedag::InputError);
  EXPECT_THROW(speedup_interval({1, 2}, {1}), codedag::InputError);
  EXPECT_THROW(speedup_interval({1, 0}, {1, 1}), codedag::InputError);
  EXPECT_THROW(speedup_interval({1, NAN}, {1, 1}), codedag::InputError);
  EXPECT_THROW(speedup_interval({1, 2}, {1, 2}, 1.0), codedag::InputError);
  EXPECT_THROW(speedup_interval({1, 2}, {1, 2}, 0.95, 10), codedag::InputError);
  try {
    speedup_interval({1, -3}, {1, 1});
    FAIL();
  } catch (const codedag::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("round 1"), std::string::npos);
  }
}
