#pragma once
// The whole optimizer: coarsen -> group by function -> partition -> plan, and the files it exports.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codedag/graph/coarsen/coarsen.hpp"
#include "codedag/graph/cost/cost_model.hpp"
#include "codedag/graph/cost/device_model.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/optimizer_options.hpp"
#include "codedag/graph/parallelism.hpp"
#include "codedag/graph/partition/partition.hpp"
#include "codedag/graph/plan/plan.hpp"

namespace codedag::graph {

struct OptimizeResult {
  CoarsenResult coarse;
  DeviceModel model;                   // as used (workers resolved)
  std::vector<std::string> executors;  // executors known to the optimizer, [0] = cpu
  int k = 2;
  std::vector<std::string> partition_executor;  // partition index -> executor ([0] = cpu)
  std::map<int64_t, int> partitions;            // coarse node id -> partition index
  Placement placement;                          // on coarse.dag
  CostBreakdown breakdown;
  PartitionResult partition;
  MigrationPlan plan;
  int groups = 0;
  double seconds = 0;
  std::map<std::string, double> phase_seconds;  // coarsen, problem, partition, plan
  std::optional<Parallelism> parallelism;       // with choose_workers: the worker count chosen and why
  // Everything but the DAG, for partitions.json and the API; without details: no per-node
  // partitions and no transfer list (the API returns those natively).
  json to_json(bool with_details = true) const;
};

// Throws InputError for bad options (OptimizerOptions::validate). With choose_workers, runs
// optimize_over_workers.
OptimizeResult optimize(const Dag& dag, const OptimizerOptions& options);

// The best placement over every worker count 0..max_workers on the model's cores (worker_choice.cpp):
// the result of the cheapest, with `parallelism` (also in its plan) saying which count, how many
// threads per worker, the best plain DataLoader and a batch-size suggestion. InputError without cores.
OptimizeResult optimize_over_workers(const Dag& dag, const OptimizerOptions& options);

// SPEC's get_migration_plan: maps partitions (node id -> index; absent ids: 0 = cpu) onto the executors
// that exist with `gpu_count` GPUs, choosing the mapping with the lowest cost (all-cpu when nothing
// helps), and never an infeasible one. InfeasiblePlanError when the partitions themselves break a
// constraint (one function in two partitions, a non-eligible node off partition 0, data from a
// moved partition back to partition 0).
MigrationPlan migration_plan(const Dag& dag, const std::map<int64_t, int>& partitions, int gpu_count,
                             const DeviceModel& model);

// Resolves the worker count: explicit > device model file > dag.meta.workers > 1, and the cores:
// explicit > the device model's.
DeviceModel resolve_model(const Dag& dag, const std::optional<DeviceModel>& model, std::optional<int64_t> workers,
                          std::optional<double> cores = std::nullopt);

// Writes dag.json, coarsened_dag.json, partitions.json, plan.json, dag.dot and summary.md to `dir`.
void export_result(const Dag& original, const OptimizeResult& result, const std::string& dir);

// The human-readable report (summary.md).
std::string summary_markdown(const Dag& original, const OptimizeResult& result);

}  // namespace codedag::graph
