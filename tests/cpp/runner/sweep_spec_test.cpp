#include "codedag/runner/sweep_spec.hpp"

#include <gtest/gtest.h>

#include <set>

#include "codedag/common/error.hpp"

using namespace codedag::runner;
using codedag::InputError;

namespace {
std::string key_of(const CellParams& c) {
  std::string s;
  for (const auto& p : c.params) s += p.key + "=" + p.text + " ";
  return s;
}
}  // namespace

TEST(SweepSpec, GridIsTheProductWithTheLastKeyFastest) {
  SweepSpec spec;
  spec.grid = {parse_grid_option("lr=0.1,0.01"), parse_grid_option("bs=32,64,128")};
  const auto cells = expand(spec);
  ASSERT_EQ(cells.size(), 6u);
  EXPECT_EQ(key_of(cells[0]), "lr=0.1 bs=32 ");
  EXPECT_EQ(key_of(cells[1]), "lr=0.1 bs=64 ");
  EXPECT_EQ(key_of(cells[3]), "lr=0.01 bs=32 ");
  EXPECT_EQ(cells[0].params[0].value, 0.1);
  EXPECT_EQ(cells[0].params[1].value, 32);
}

TEST(SweepSpec, ValuesAreTypedButTheTextIsKept) {
  EXPECT_EQ(typed_value("3"), 3);
  EXPECT_TRUE(typed_value("1e-3").is_number_float());
  EXPECT_EQ(typed_value("true"), true);
  EXPECT_EQ(typed_value("adam"), "adam");
  EXPECT_EQ(typed_value("0x10"), "0x10");
  SweepSpec spec;
  spec.grid = {parse_grid_option("lr=1e-3")};
  EXPECT_EQ(expand(spec)[0].params[0].text, "1e-3");
}

TEST(SweepSpec, RepeatAddsSeedsAndRandomDrawsAreSeededAndInRange) {
  SweepSpec spec;
  spec.grid = {parse_grid_option("opt=sgd,adam")};
  spec.random = {parse_random_option("lr=1e-4:1e-1:log"), parse_random_option("layers=2:5")};
  spec.samples = 3;
  spec.repeat = 2;
  spec.random_seed = 42;
  const auto cells = expand(spec);
  ASSERT_EQ(cells.size(), 12u);
  for (const auto& c : cells) {
    ASSERT_EQ(c.params.size(), 4u);
    const double lr = c.params[1].value.get<double>();
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-1);
    EXPECT_TRUE(c.params[2].value.is_number_integer());
    const long layers = c.params[2].value.get<long>();
    EXPECT_GE(layers, 2);
    EXPECT_LE(layers, 5);
    EXPECT_EQ(c.params[3].key, "seed");
  }
  EXPECT_EQ(cells[0].params[3].text, "0");
  EXPECT_EQ(cells[1].params[3].text, "1");
  EXPECT_EQ(key_of(cells[0]).substr(0, 30), key_of(cells[1]).substr(0, 30));  // same draw, two seeds
  // The same seed draws the same values; another seed other values.
  EXPECT_EQ(key_of(expand(spec)[4]), key_of(cells[4]));
  spec.random_seed = 43;
  EXPECT_NE(key_of(expand(spec)[0]), key_of(cells[0]));
}

TEST(SweepSpec, NoOptionsIsOneCellWithoutParameters) {
  const auto cells = expand(SweepSpec{});
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_TRUE(cells[0].params.empty());
}

TEST(SweepSpec, BadOptionsSayWhatToWrite) {
  EXPECT_THROW(parse_grid_option("lr"), InputError);
  EXPECT_THROW(parse_grid_option("=1,2"), InputError);
  EXPECT_THROW(parse_grid_option("--lr=1,2"), InputError);
  EXPECT_THROW(parse_grid_option("lr=1,,2"), InputError);
  EXPECT_THROW(parse_grid_option("lr=1,1"), InputError);
  EXPECT_THROW(parse_grid_option("l r=1"), InputError);
  EXPECT_THROW(parse_random_option("lr=1"), InputError);
  EXPECT_THROW(parse_random_option("lr=a:1"), InputError);
  EXPECT_THROW(parse_random_option("lr=2:1"), InputError);
  EXPECT_THROW(parse_random_option("lr=0:1:log"), InputError);
  EXPECT_THROW(parse_random_option("lr=1:2:exp"), InputError);
  try {
    parse_grid_option("--lr=1");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("without dashes"), std::string::npos);
  }
  SweepSpec twice;
  twice.grid = {parse_grid_option("lr=1"), parse_grid_option("lr=2")};
  EXPECT_THROW(expand(twice), InputError);
  SweepSpec seed_clash;
  seed_clash.grid = {parse_grid_option("seed=1,2")};
  seed_clash.repeat = 2;
  EXPECT_THROW(expand(seed_clash), InputError);
  SweepSpec samples_alone;
  samples_alone.samples = 3;
  EXPECT_THROW(expand(samples_alone), InputError);
  SweepSpec collide;  // 5 integer draws from {1, 2} must repeat a cell
  collide.random = {parse_random_option("k=1:2")};
  collide.samples = 5;
  EXPECT_THROW(expand(collide), InputError);
}

TEST(SweepSpec, RefusesSweepsBeyondTheCellLimit) {
  SweepSpec spec;
  std::string values;
  for (int i = 0; i < 1000; ++i) values += (i ? "," : "") + std::to_string(i);
  spec.grid = {parse_grid_option("a=" + values), parse_grid_option("b=" + values)};
  EXPECT_THROW(expand(spec), InputError);
}
