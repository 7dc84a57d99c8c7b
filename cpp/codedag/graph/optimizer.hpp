#pragma once
// The whole optimizer: coarsen -> group by function -> partition -> plan, and the files it exports.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codedag/graph/coarsen.hpp"
#include "codedag/graph/cost_model.hpp"
#include "codedag/graph/dag.hpp"
#include "codedag/graph/device_model.hpp"
#include "codedag/graph/partition.hpp"
#include "codedag/graph/plan.hpp"

namespace codedag::graph {

struct OptimizerOptions {
  int k = 0;  // partitions; 0: 1 + gpu_count, at least 2
  int coarsen_max_depth = 5;
  int max_iterations = 50;
  uint64_t seed = 0;
  int gpu_count = 0;
  std::optional<int64_t> workers;           // overrides the device model's and the DAG's
  std::optional<DeviceModel> device_model;  // default: DeviceModel::defaults(workers)
  std::string algorithm = "auto";
  std::string preset = "default";
  int64_t chain_merge_min_nodes = 0;                                     // see CoarsenOptions
  std::vector<std::string> library_modules = default_library_modules();  // see CoarsenOptions
};

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
  // Everything but the DAG, for partitions.json and the API; without details: no per-node
  // partitions and no transfer list (the API returns those natively).
  json to_json(bool with_details = true) const;
};

// Throws InputError for bad options (k < 2, negative depth or iterations, negative GPU count ...).
OptimizeResult optimize(const Dag& dag, const OptimizerOptions& options);

// SPEC's get_migration_plan: maps partitions (node id -> index; absent ids: 0 = cpu) onto the executors
// that exist with `gpu_count` GPUs, choosing the mapping with the lowest cost (all-cpu when nothing
// helps), and never an infeasible one. InfeasiblePlanError when the partitions themselves break a
// constraint (one function in two partitions, a non-eligible node off partition 0, data from a
// moved partition back to partition 0).
MigrationPlan migration_plan(const Dag& dag, const std::map<int64_t, int>& partitions, int gpu_count,
                             const DeviceModel& model);

// Resolves the worker count: explicit > device model file > dag.meta.workers > 1.
DeviceModel resolve_model(const Dag& dag, const std::optional<DeviceModel>& model, std::optional<int64_t> workers);

// Writes dag.json, coarsened_dag.json, partitions.json, plan.json, dag.dot and summary.md to `dir`.
void export_result(const Dag& original, const OptimizeResult& result, const std::string& dir);

// The human-readable report (summary.md).
std::string summary_markdown(const Dag& original, const OptimizeResult& result);

}  // namespace codedag::graph
