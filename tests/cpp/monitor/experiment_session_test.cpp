#include "codedag/monitor/experiment_session.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "codedag/common/error.hpp"
#include "codedag/common/json_file.hpp"

using namespace codedag::monitor;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {
std::string fresh_dir(const std::string& name) {
  const fs::path d = fs::path(::testing::TempDir()) / ("codedag_session_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d.string();
}
SamplerOptions no_gpu() {
  SamplerOptions o;
  o.gpu = false;
  return o;
}
}  // namespace

TEST(ExperimentSession, RecordsTheSeedStructure) {
  const std::string dir = fresh_dir("seed");
  ExperimentSession s("BirdCLEF_2023", dir, no_gpu());
  s.start_mode("baseline", codedag::json{{"epochs", 2}, {"batch_size", 32}}, 0.02);
  for (int i = 0; i < 5; ++i) {
    s.start_batch();
    std::this_thread::sleep_for(milliseconds(10));
    EXPECT_GE(s.end_batch(), 0.009);
    s.log_loss(0, i, 2.5 - i * 0.1);
    s.log_accuracy(0, i, 0.5 + i * 0.05);
  }
  s.stop_mode();
  const std::string path = s.save();
  EXPECT_EQ(path, s.default_path());
  const codedag::json doc = codedag::load_json_file(path);
  EXPECT_EQ(doc["experiment_name"], "BirdCLEF_2023");
  EXPECT_TRUE(doc["timestamp"].is_number_integer());
  EXPECT_EQ(doc["datetime"].get<std::string>().size(), 19u);
  const codedag::json& m = doc["modes"]["baseline"];
  EXPECT_EQ(m["config"]["batch_size"], 32);
  ASSERT_EQ(m["batch_times"].size(), 5u);
  EXPECT_EQ(m["batch_times"][4][0], 4);
  EXPECT_GE(m["resource_usage"]["cpu_usage"].size(), 1u);
  EXPECT_TRUE(m["resource_usage"]["gpu_usage"].is_object());
  EXPECT_TRUE(m["resource_usage"]["gpu_memory"].is_object());
  EXPECT_EQ(m["metrics"]["losses"][1], codedag::json::array({0, 1, 2.4}));
  EXPECT_DOUBLE_EQ(m["summary"]["loss"]["initial"].get<double>(), 2.5);
  EXPECT_NEAR(m["summary"]["loss"]["final"].get<double>(), 2.1, 1e-12);
  EXPECT_NEAR(m["summary"]["accuracy"]["best"].get<double>(), 0.7, 1e-12);
  EXPECT_GT(m["summary"]["total_time"].get<double>(), 0.04);
}

TEST(ExperimentSession, StateErrorsSayWhatToDo) {
  ExperimentSession s("e", fresh_dir("state"), no_gpu());
  EXPECT_THROW(s.start_batch(), codedag::StateError);
  EXPECT_THROW(s.end_batch(), codedag::StateError);
  EXPECT_THROW(s.log_loss(0, 0, 1.0), codedag::StateError);
  EXPECT_THROW(s.stop_mode(), codedag::StateError);
  s.start_mode("a", nullptr, 0.5);
  try {
    s.start_mode("b", nullptr, 0.5);
    FAIL();
  } catch (const codedag::StateError& e) {
    EXPECT_NE(std::string(e.what()).find("stop_mode()"), std::string::npos);
  }
  EXPECT_THROW(s.end_batch(), codedag::StateError);  // no start_batch
  s.stop_mode();
  s.log_accuracy(1, 0, 0.9);  // after stop: goes to the last mode (validation after training)
  EXPECT_EQ(s.snapshot().find("a")->accuracies.size(), 1u);
  EXPECT_THROW(s.start_mode("", nullptr, 1.0), codedag::InputError);
  EXPECT_THROW(s.start_mode("c", nullptr, 0.001), codedag::InputError);
  EXPECT_THROW(ExperimentSession("", "x"), codedag::InputError);
}

TEST(ExperimentSession, AutoSavesWhileAModeRuns) {
  ExperimentSession s("auto", fresh_dir("auto"), no_gpu());
  s.start_mode("baseline", nullptr, 0.1);
  for (int i = 0; i < 3; ++i) {
    s.start_batch();
    s.end_batch();
  }
  std::this_thread::sleep_for(milliseconds(1300));
  // Nobody called save(): the sampler thread did, with the running mode and its batches.
  ASSERT_TRUE(fs::exists(s.default_path()));
  const codedag::json doc = codedag::load_json_file(s.default_path());
  EXPECT_EQ(doc["modes"]["baseline"]["batch_times"].size(), 3u);
  EXPECT_GE(doc["modes"]["baseline"]["resource_usage"]["cpu_usage"].size(), 4u);
  EXPECT_TRUE(doc["modes"]["baseline"]["end_time"].is_null());  // still running when written
  s.stop_mode();
  EXPECT_FALSE(codedag::load_json_file(s.default_path())["modes"]["baseline"]["end_time"].is_null());
}

TEST(ExperimentSession, AModeRunAgainReplacesItsOldRecord) {
  ExperimentSession s("again", fresh_dir("again"), no_gpu());
  s.start_mode("baseline", nullptr, 0.5);
  s.start_batch();
  s.end_batch();
  s.stop_mode();
  s.start_mode("optimization", nullptr, 0.5);
  s.stop_mode();
  s.start_mode("baseline", nullptr, 0.5);
  s.stop_mode();
  const auto doc = s.snapshot();
  ASSERT_EQ(doc.modes.size(), 2u);
  EXPECT_EQ(doc.modes[0].name, "baseline");
  EXPECT_TRUE(doc.modes[0].batch_times.empty());
}
