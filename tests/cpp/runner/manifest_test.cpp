#include "codedag/runner/manifest.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"

using namespace codedag::runner;
using codedag::FormatError;
using codedag::json;

namespace {
Manifest sample() {
  SweepSpec spec;
  spec.grid = {parse_grid_option("lr=0.1,0.01")};
  Manifest m;
  m.id = "sw260101.001.abc";
  m.name = "train";
  m.created_at = 1.7e9;
  m.cwd = "/work";
  m.home = "/home/u/.codedag";
  m.command = {"python", "train.py", "--epochs", "3"};
  m.cells = make_cells(m.command, m.cwd, expand(spec));
  return m;
}
}  // namespace

TEST(Manifest, CellsGetTheirArgumentsAndDistinctFingerprints) {
  const Manifest m = sample();
  ASSERT_EQ(m.cells.size(), 2u);
  EXPECT_EQ(m.cells[0].argv, (std::vector<std::string>{"python", "train.py", "--epochs", "3", "--lr=0.1"}));
  EXPECT_NE(m.cells[0].fingerprint, m.cells[1].fingerprint);
  // Same command and parameters in another directory: another cell.
  EXPECT_NE(cell_fingerprint("/elsewhere", m.command, m.cells[0].params), m.cells[0].fingerprint);
  EXPECT_EQ(cell_fingerprint(m.cwd, m.command, m.cells[0].params), m.cells[0].fingerprint);
}

TEST(Manifest, RoundTripsThroughJson) {
  Manifest m = sample();
  m.policy.gpus = {"0", "1"};
  m.policy.gpus_per_run = 1;
  m.policy.metric = "acc:max";
  const Manifest back = Manifest::from_json(json::parse(m.to_json().dump()), "sweep.json");
  EXPECT_EQ(back.id, m.id);
  EXPECT_EQ(back.cells.size(), 2u);
  EXPECT_EQ(back.cells[1].argv, m.cells[1].argv);
  EXPECT_EQ(back.cells[1].params[0].value, 0.01);
  EXPECT_EQ(back.policy.gpus, m.policy.gpus);
  EXPECT_EQ(back.policy.metric, "acc:max");
}

TEST(Manifest, DamagedManifestsAreRejectedWithTheirPlace) {
  const json good = sample().to_json();
  auto broken = [&](const std::function<void(json&)>& f) {
    json j = good;
    f(j);
    return j;
  };
  const std::vector<json> bad = {
      json::array(),
      broken([](json& j) { j["schema"] = "codedag.sweep/9"; }),
      broken([](json& j) { j.erase("cells"); }),
      broken([](json& j) { j["cells"][1]["cell"] = 5; }),
      broken([](json& j) { j["cells"][0]["argv"] = json::array(); }),
      broken([](json& j) { j["cells"][0]["argv"][0] = 3; }),
      broken([](json& j) {
        j["cells"][0]["params"] = json::array({json::array({"--x", "1"})});
      }),
      broken([](json& j) { j["cells"][0]["fingerprint"] = "abc"; }),
      broken([](json& j) { j["policy"]["parallel"] = -1; }),
      broken([](json& j) { j["policy"]["backend"] = "kubernetes"; }),
      broken([](json& j) { j["command"] = "python train.py"; }),
  };
  for (const json& j : bad) EXPECT_THROW(Manifest::from_json(j, "sweep.json"), FormatError) << j.dump().substr(0, 200);
  try {
    Manifest::from_json(broken([](json& j) { j["cells"][0]["argv"][0] = 3; }), "/x/sweep.json");
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("/x/sweep.json cells[0]"), std::string::npos) << e.what();
  }
}

TEST(Manifest, DefaultNamesComeFromTheScript) {
  EXPECT_EQ(default_sweep_name({"python", "train.py"}), "train");
  EXPECT_EQ(default_sweep_name({"/usr/bin/python3", "-u", "src/fit_model.py", "--x"}), "fit_model");
  EXPECT_EQ(default_sweep_name({"python", "-m", "pkg.trainer"}), "trainer");
  EXPECT_EQ(default_sweep_name({"./run me.sh"}), "run_me.sh");
  EXPECT_EQ(default_sweep_name({"python3", "-c", "import sys; print(1)"}), "python3");
  EXPECT_EQ(default_sweep_name({"python", "-W", "ignore", "fit.py"}), "fit");
  EXPECT_EQ(default_sweep_name({}), "sweep");
}
