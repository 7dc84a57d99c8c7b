#include "codedag/graph/plan/plan.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"

namespace {

using codedag::json;
using namespace codedag::graph;

json plan_doc() {
  return json::parse(R"({"schema": "codedag.plan/1", "default_device": "cuda:0",
    "context_device_map": {"pkg.B": "cuda:0", "pkg.C": "cuda:0"},
    "modes": {"pkg.B": "batched", "pkg.C": "batched"},
    "transfer_points": [{"src": "pkg.A", "dst": "pkg.B", "bytes": 12000000}],
    "cost": 4000000, "baseline_cost": 9000000, "predicted_speedup": 2.25, "device_model": {},
    "lower_bound": 4000000})");
}

Dag three_stage_chain() {
  Dag d;
  for (int i = 1; i <= 3; ++i) {
    Node n;
    n.id = i;
    n.name = n.qualname = std::string("pkg.") + char('A' + i - 1);
    n.cpu_ns = i == 1 ? 8e6 : i == 2 ? 4e6 : 6e6;
    n.calls = 2;
    n.gpu_eligible = i != 1;
    if (i == 3) n.gpu_ns = 1e6;
    d.add_node(n);
  }
  d.add_edge({1, 2, EdgeKind::data, 12e6, 2});
  d.add_edge({2, 3, EdgeKind::data, 1e6, 2});
  return d;
}

TEST(Plan, RoundTripKeepsUnknownFields) {
  const MigrationPlan p = MigrationPlan::from_json(plan_doc(), "plan.json");
  EXPECT_EQ(p.context_device_map.at("pkg.B"), "cuda:0");
  EXPECT_EQ(p.extra.at("lower_bound"), 4000000);
  const MigrationPlan again = MigrationPlan::from_json(p.to_json());
  EXPECT_EQ(again.to_json(), p.to_json());
  const auto path = std::filesystem::temp_directory_path() / "codedag_plan_test.json";
  p.save(path.string());
  EXPECT_EQ(MigrationPlan::load(path.string()).to_json(), p.to_json());
  std::filesystem::remove(path);
}

TEST(Plan, EvaluateMatchesTheHandComputedCost) {
  DeviceModel m = DeviceModel::defaults(2);
  MigrationPlan p = MigrationPlan::from_json(plan_doc());
  p.device_model = m;
  const CostBreakdown b = evaluate_plan(three_stage_chain(), p);
  EXPECT_DOUBLE_EQ(b.cost, 4e6);
  EXPECT_DOUBLE_EQ(b.baseline_cost, 9e6);
  // Absent contexts are on cpu: moving only C is fine, only B breaks "data flows forward".
  p.context_device_map = {{"pkg.C", "cuda:0"}};
  EXPECT_NO_THROW(evaluate_plan(three_stage_chain(), p));
  p.context_device_map = {{"pkg.B", "cuda:0"}};
  EXPECT_THROW(evaluate_plan(three_stage_chain(), p), codedag::InfeasiblePlanError);
}

TEST(Plan, MakePlanListsMovedFunctionsAndTransfers) {
  Dag d = three_stage_chain();
  d.meta["workers"] = 4;
  const MigrationPlan p = make_plan(d, Placement{{"cpu", "batch:cpu", "cuda:0"}, {0, 2, 2}}, DeviceModel::defaults(2));
  EXPECT_EQ(p.default_device, "cuda:0");
  EXPECT_EQ(p.modes.at("pkg.B"), "batched");
  ASSERT_EQ(p.transfer_points.size(), 1u);
  EXPECT_EQ(p.transfer_points[0].src, "pkg.A");
  EXPECT_DOUBLE_EQ(*p.cost, 4e6);
  d.meta["workers"] = 0;
  // Traced without workers: a GPU context runs inline on its device, but batch:cpu stays batched
  // (inline there would be the same per-sample call in the same process: nothing would change).
  EXPECT_EQ(
      make_plan(d, Placement{{"cpu", "batch:cpu", "cuda:0"}, {0, 2, 2}}, DeviceModel::defaults(2)).modes.at("pkg.C"),
      "inline");
  EXPECT_EQ(make_plan(d, Placement{{"cpu", "batch:cpu"}, {0, 1, 1}}, DeviceModel::defaults(2)).modes.at("pkg.C"),
            "batched");
}

TEST(Plan, AHandWrittenPlacementOnlyPlanIsReadAndScored) {
  // No cost, baseline_cost, predicted_speedup, modes, transfer points or device model: what a user
  // writes by hand (examples/*/plan_batch_cpu.json). It is scored on the DAG like any other plan.
  const json doc = json::parse(R"({"schema": "codedag.plan/1", "context_device_map": {"pkg.C": "cuda:0"}})");
  const MigrationPlan p = MigrationPlan::from_json(doc, "hand.json");
  EXPECT_FALSE(p.cost.has_value());
  EXPECT_FALSE(p.predicted_speedup.has_value());
  const json back = p.to_json();
  EXPECT_FALSE(back.contains("cost"));
  EXPECT_FALSE(back.contains("predicted_speedup"));
  EXPECT_EQ(MigrationPlan::from_json(back).context_device_map, p.context_device_map);
  const CostBreakdown b = evaluate_plan(three_stage_chain(), p);
  EXPECT_GT(b.cost, 0);
  EXPECT_GT(b.baseline_cost, 0);
}

TEST(Plan, EveryRejectionNamesTheField) {
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& d) { d.erase("schema"); }, "no 'schema'"},
      {[](json& d) { d["schema"] = "codedag.plan/0"; }, "unknown schema"},
      {[](json& d) { d.erase("context_device_map"); }, "'context_device_map' is missing"},
      {[](json& d) { d["context_device_map"] = json::array(); }, "'context_device_map' must be an object"},
      {[](json& d) { d["context_device_map"]["pkg.D"] = "gpu"; }, "'context_device_map.pkg.D'"},
      {[](json& d) { d["context_device_map"]["pkg.D"] = 3; }, "'context_device_map.pkg.D' must be an executor"},
      {[](json& d) { d["default_device"] = "tpu"; }, "'default_device'"},
      {[](json& d) { d["modes"]["pkg.B"] = "eager"; }, "'modes.pkg.B'"},
      {[](json& d) { d["modes"]["pkg.Z"] = "inline"; }, "'modes.pkg.Z' gives a mode"},
      {[](json& d) { d["transfer_points"] = 1; }, "'transfer_points' must be a list"},
      {[](json& d) { d["transfer_points"][0].erase("dst"); }, "transfer_points[0]: 'dst'"},
      {[](json& d) { d["transfer_points"][0]["bytes"] = -1; }, "transfer_points[0]: 'bytes'"},
      {[](json& d) { d.erase("cost"); }, "'cost' is missing (a plan gives both"},
      {[](json& d) { d.erase("baseline_cost"); }, "'baseline_cost' is missing"},
      {[](json& d) { d["baseline_cost"] = -5; }, "'baseline_cost'"},
      {[](json& d) { d["predicted_speedup"] = "fast"; }, "'predicted_speedup' must be a number"},
      {[](json& d) {
         d["device_model"] = {{"workers", -1}};
       },
       "device_model: 'workers'"},
  };
  for (const auto& [edit, expected] : cases) {
    json doc = plan_doc();
    edit(doc);
    std::string message;
    try {
      MigrationPlan::from_json(doc, "plan.json");
    } catch (const codedag::FormatError& e) {
      message = e.what();
    }
    EXPECT_NE(message.find(expected), std::string::npos) << "expected '" << expected << "' in: " << message;
    EXPECT_EQ(message.rfind("plan.json", 0), 0u) << message;
  }
  EXPECT_THROW(MigrationPlan::from_json(json(5)), codedag::FormatError);
}

}  // namespace
