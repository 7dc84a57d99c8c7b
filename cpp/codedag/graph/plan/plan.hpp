#pragma once
// The migration plan (codedag.plan/1): which functions run where, as the migrator applies it, with
// the cost model's verdict and the device model it was scored with, so anyone can re-score it.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/graph/cost/cost_model.hpp"
#include "codedag/graph/cost/device_model.hpp"
#include "codedag/graph/parallelism.hpp"

namespace codedag::graph {

inline constexpr const char* kPlanSchema = "codedag.plan/1";

class Dag;

struct TransferPoint {
  std::string src, dst;  // qualnames
  double bytes = 0;
};

struct MigrationPlan {
  std::string default_device = "cpu";
  std::map<std::string, std::string> context_device_map;  // qualname -> executor (absent: cpu)
  std::map<std::string, std::string> modes;               // qualname -> "batched" | "inline"
  std::vector<TransferPoint> transfer_points;
  // The optimizer's verdict. A hand-written plan (placement only) has none: evaluate_plan scores
  // any plan on a DAG. cost and baseline_cost come together or not at all.
  std::optional<double> cost, baseline_cost, predicted_speedup;
  DeviceModel device_model = DeviceModel::defaults();
  // The worker count and threads the plan runs with (the optimizer chose them; optional: a plan
  // without it leaves the user's DataLoader as configured).
  std::optional<Parallelism> parallelism;
  json extra = json::object();  // other fields (lower_bound, executors, ...), kept on a round trip

  static MigrationPlan from_json(const json& doc, const std::string& origin = "plan");
  json to_json() const;
  static MigrationPlan load(const std::string& path);
  void save(const std::string& path) const;
};

// The plan for a placement of `dag`'s nodes, scored with `model`. Modes are "batched" on batch:cpu
// and wherever the DAG was traced through DataLoader workers (meta.workers > 0), else "inline".
// `breakdown`, when given, receives the placement's cost breakdown.
MigrationPlan make_plan(const Dag& dag, const Placement& placement, const DeviceModel& model,
                        CostBreakdown* breakdown = nullptr);

// Where a plan puts each node of a DAG: the executor of its qualname (or of a member's) in the map,
// else cpu (SPEC §2). Score a plan on the DAG it was made for (the optimizer's coarsened DAG): on
// the traced DAG, contexts folded into a moved ancestor would count as staying on cpu.
// The executors are cpu, batch:cpu, those the plan names and those `model` gives a training step.
Placement resolve_plan(const Dag& dag, const MigrationPlan& plan, const DeviceModel& model);

// Scores a plan on a DAG with `model` (the plan's own device model when null). Throws
// InfeasiblePlanError naming the broken constraint.
CostBreakdown evaluate_plan(const Dag& dag, const MigrationPlan& plan, const DeviceModel* model = nullptr);

}  // namespace codedag::graph
