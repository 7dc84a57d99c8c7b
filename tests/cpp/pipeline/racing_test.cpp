#include "codedag/pipeline/racing.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "codedag/common/error.hpp"

using codedag::pipeline::beaten_settings;
using codedag::pipeline::RacingOptions;

TEST(Racing, ASettingWhoseBestRoundIsUnderHalfAnothersWorstIsOut) {
  // untouched (kept), 0 workers (fast), 2 spawned workers (restarted each epoch), 3 workers (close).
  const std::vector<std::vector<double>> rates = {{2.0, 2.4}, {600, 620}, {3.0, 2.2}, {1.5, 1.2}};
  const auto out = beaten_settings(rates, {true, false, false, false});
  EXPECT_EQ(out, (std::vector<long>{-1, -1, 1, 1}));
}

TEST(Racing, OverlappingOrMerelySlowerSettingsStay) {
  // 1.9x apart and scattered: not clear enough on two rounds.
  const std::vector<std::vector<double>> rates = {{100, 120}, {190, 230}, {0.9 * 100, 0.8 * 120}};
  EXPECT_EQ(beaten_settings(rates, {true, false, false}), (std::vector<long>{-1, -1, -1}));
  // One noisy slow round of the winner protects the loser.
  EXPECT_EQ(beaten_settings({{10, 10}, {100, 15}, {9, 9}}, {true, false, false}), (std::vector<long>{-1, -1, -1}));
}

TEST(Racing, TheBaselineIsNeverDroppedAndNothingBeforeMinRounds) {
  const std::vector<std::vector<double>> rates = {{1, 1}, {500, 500}};
  EXPECT_EQ(beaten_settings(rates, {true, false}), (std::vector<long>{-1, -1}));
  const std::vector<std::vector<double>> one_round = {{1}, {500}, {1}};
  EXPECT_EQ(beaten_settings(one_round, {true, false, false}), (std::vector<long>{-1, -1, -1}));
  RacingOptions three;
  three.min_rounds = 3;
  EXPECT_EQ(beaten_settings({{1, 1}, {500, 500}, {1, 1}}, {true, false, false}, three),
            (std::vector<long>{-1, -1, -1}));
}

TEST(Racing, AStoppedSettingWithNoRoundsNeitherBeatsNorIsBeaten) {
  EXPECT_EQ(beaten_settings({{10, 10}, {}, {1, 1}}, {true, false, false}), (std::vector<long>{-1, -1, 0}));
}

TEST(Racing, BadInputIsNamed) {
  EXPECT_THROW(beaten_settings({{1, 1}}, {true, false}), codedag::InputError);
  EXPECT_THROW(beaten_settings({{1, -1}}, {false}), codedag::InputError);
  EXPECT_THROW(beaten_settings({{1, std::numeric_limits<double>::quiet_NaN()}}, {false}), codedag::InputError);
  RacingOptions low;
  low.margin = 0.5;
  EXPECT_THROW(beaten_settings({{1, 1}}, {false}, low), codedag::InputError);
  RacingOptions none;
  none.min_rounds = 0;
  EXPECT_THROW(beaten_settings({{1, 1}}, {false}, none), codedag::InputError);
}
