#include "codedag/runner/rerun.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"

using codedag::runner::merge_overrides;
using V = std::vector<std::string>;

TEST(MergeOverrides, ReplacesEveryArgumentStyleAndAppendsTheRest) {
  const V argv = {"python", "train.py", "--lr=0.1", "--epochs", "3", "seed=1", "--flag", "--name", "a b"};
  EXPECT_EQ(merge_overrides(argv, {"--lr=0.5"})[2], "--lr=0.5");
  EXPECT_EQ(merge_overrides(argv, {"--epochs=7"})[4], "7");
  EXPECT_EQ(merge_overrides(argv, {"--seed=2"})[5], "seed=2");
  EXPECT_EQ(merge_overrides(argv, {"--name=it's"})[8], "it's");
  const V appended = merge_overrides(argv, {"--new=x y"});
  EXPECT_EQ(appended.back(), "--new=x y");
  EXPECT_EQ(appended.size(), argv.size() + 1);
  EXPECT_EQ(merge_overrides(argv, {"--flag"}).size(), argv.size());
  EXPECT_THROW(merge_overrides(argv, {"--=3"}), codedag::InputError);
}

TEST(MergeOverrides, LeavesArgumentsAfterDoubleDashAlone) {
  const V argv = {"prog", "--", "--lr=1"};
  const V merged = merge_overrides(argv, {"--lr=2"});
  EXPECT_EQ(merged[2], "--lr=1");
  EXPECT_EQ(merged.back(), "--lr=2");
}
