#include "codedag/monitor/result_model.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"

using namespace codedag;
using namespace codedag::monitor;
namespace fs = std::filesystem;

namespace {
ModeResult sample_mode() {
  ModeResult m;
  m.name = "baseline";
  m.config = {{"epochs", 2}};
  m.batch_times = {{0, 0.12}, {1, 0.14}, {2, 0.18}, {3, 0.16}};
  m.losses = {{0, 0, 2.5}, {0, 1, 2.3}, {1, 0, 0.8}, {1, 1, 1.1}};
  m.accuracies = {{0, 0, 0.65}, {0, 1, 0.92}, {1, 0, 0.9}};
  m.resources.cpu_usage = {{100, 40}, {101, 60}};
  m.resources.gpu_usage["0"] = {{100, 78.5}};
  m.resources.gpu_memory["0"] = {{100, 2048}};
  m.total_time = 120.5;
  return m;
}
}  // namespace

TEST(ResultModel, SummaryOnKnownInputs) {
  const ordered_json s = sample_mode().summary();
  EXPECT_DOUBLE_EQ(s["total_time"].get<double>(), 120.5);
  EXPECT_NEAR(s["batch_time"]["mean"].get<double>(), 0.15, 1e-12);
  EXPECT_NEAR(s["batch_time"]["std"].get<double>(), 0.022360679774997897, 1e-12);
  EXPECT_DOUBLE_EQ(s["batch_time"]["min"].get<double>(), 0.12);
  EXPECT_DOUBLE_EQ(s["batch_time"]["max"].get<double>(), 0.18);
  EXPECT_DOUBLE_EQ(s["loss"]["initial"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(s["loss"]["final"].get<double>(), 1.1);
  EXPECT_DOUBLE_EQ(s["loss"]["min"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(s["loss"]["max"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(s["accuracy"]["initial"].get<double>(), 0.65);
  EXPECT_DOUBLE_EQ(s["accuracy"]["final"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(s["accuracy"]["best"].get<double>(), 0.92);
  EXPECT_DOUBLE_EQ(s["resources"]["cpu_usage"]["mean"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(s["resources"]["gpu_usage"]["0"]["max"].get<double>(), 78.5);
}

TEST(ResultModel, EmptyModeHasNullSummaries) {
  ModeResult m;
  const ordered_json s = m.summary();
  EXPECT_TRUE(s["batch_time"]["mean"].is_null());
  EXPECT_TRUE(s["loss"]["initial"].is_null());
  EXPECT_TRUE(s["accuracy"]["best"].is_null());
}

TEST(ResultModel, RoundTripKeepsSeedFieldsAndUnknownExtras) {
  ExperimentResult r;
  r.experiment_name = "BirdCLEF_2023";
  r.timestamp = 1705312200.75;
  r.datetime = "2024-01-15T10:30:00";
  r.put(sample_mode());
  json doc = json::parse(r.to_json().dump());
  EXPECT_EQ(doc["timestamp"], 1705312200);
  doc["modes"]["baseline"]["my_note"] = "kept";
  doc["run_by"] = "someone";
  const ExperimentResult back = ExperimentResult::from_json(doc, "mem");
  const json again = json::parse(back.to_json().dump());
  EXPECT_EQ(again["modes"]["baseline"]["my_note"], "kept");
  EXPECT_EQ(again["run_by"], "someone");
  EXPECT_EQ(again["modes"]["baseline"]["batch_times"], doc["modes"]["baseline"]["batch_times"]);
  EXPECT_EQ(again["modes"]["baseline"]["metrics"], doc["modes"]["baseline"]["metrics"]);
  EXPECT_EQ(again["modes"]["baseline"]["summary"]["total_time"], 120.5);
}

TEST(ResultModel, ReadsTheSeedExampleWithoutMemoryUsage) {
  // Seed 001 §6 as printed (no memory_usage, integer timestamps).
  const json doc = json::parse(R"({"experiment_name": "BirdCLEF_2023", "timestamp": 1705312200,
    "datetime": "2024-01-15T10:30:00", "modes": {"baseline": {"config": {"epochs": 2, "batch_size": 32},
    "batch_times": [[0, 0.15], [1, 0.14]], "resource_usage": {"cpu_usage": [[1705312200, 45.2]],
    "gpu_usage": {"0": [[1705312200, 78.5]]}, "gpu_memory": {"0": [[1705312200, 2048]]}},
    "metrics": {"losses": [[0, 0, 2.5], [0, 1, 2.3]], "accuracies": [[0, 0, 0.65]]},
    "summary": {"total_time": 120.5, "batch_time": {"mean": 0.145, "std": 0.02, "min": 0.12, "max": 0.18},
    "loss": {"initial": 2.5, "final": 0.8, "min": 0.8, "max": 2.5},
    "accuracy": {"initial": 0.65, "final": 0.92, "best": 0.92}}}}})");
  const ExperimentResult r = ExperimentResult::from_json(doc, "seed.json");
  ASSERT_EQ(r.modes.size(), 1u);
  EXPECT_EQ(r.modes[0].batch_times.size(), 2u);
  EXPECT_DOUBLE_EQ(r.modes[0].total_time, 120.5);
  EXPECT_EQ(r.modes[0].resources.gpu_memory.at("0")[0][1], 2048);
}

TEST(ResultModel, BadInputNamesTheElement) {
  auto message = [](const char* text) {
    try {
      ExperimentResult::from_json(json::parse(text), "r.json");
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(R"([1,2])").find("r.json: expected a result object"), std::string::npos);
  EXPECT_NE(message(R"({"experiment_name": "x"})").find("no \"modes\""), std::string::npos);
  EXPECT_NE(message(R"({"modes": {"b": {"batch_times": [[0, 0.1], [1]]}}})").find("modes.b.batch_times[1]"),
            std::string::npos);
  EXPECT_NE(message(R"({"modes": {"b": {"batch_times": [[0, -1]]}}})").find("negative"), std::string::npos);
  EXPECT_NE(message(R"({"modes": {"b": {"metrics": {"losses": [[0, "x", 1]]}}}})").find("modes.b.metrics.losses[0][1]"),
            std::string::npos);
  EXPECT_NE(message(R"({"modes": {"b": {"resource_usage": {"gpu_usage": [1]}}}})").find("gpu_usage"),
            std::string::npos);
  EXPECT_THROW(ExperimentResult::load("/nonexistent/results.json"), NotFoundError);
}

// A writer killed at a random moment of save() leaves the old file or the new one, never a torn one.
TEST(ResultModel, SaveSurvivesSigkillMidWrite) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("codedag_sigkill_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "results.json").string();
  ExperimentResult base;
  base.experiment_name = "kill";
  ModeResult m = sample_mode();
  for (int i = 0; i < 40000; ++i) m.batch_times.emplace_back(i + 4, 0.1 + i * 1e-7);  // ~1 MB: a write takes a while
  base.put(m);
  base.save(path);
  for (int round = 0; round < 12; ++round) {
    const pid_t child = ::fork();
    if (child == 0) {
      ExperimentResult r = base;
      for (int gen = 1;; ++gen) {
        r.experiment_name = "gen" + std::to_string(gen);
        r.save(path);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 13 * round));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    const ExperimentResult r = ExperimentResult::load(path);  // throws on a torn file
    EXPECT_EQ(r.modes.at(0).batch_times.size(), m.batch_times.size());
    EXPECT_TRUE(r.experiment_name == "kill" || r.experiment_name.rfind("gen", 0) == 0);
  }
  fs::remove_all(dir);
}
