#pragma once
// Every parameter of one optimizer run, in one struct shared by the CLI (`codedag optimize`) and
// Python (`codedag.OptimizerOptions`, behind OptimizerManager), so both accept the same options
// with the same checks and messages.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/graph/coarsen/coarsen.hpp"
#include "codedag/graph/cost/device_model.hpp"

namespace codedag::graph {

// The most GPUs a plan is made for: each one is an executor with its own tables, so an absurd count
// (a typo of 100000) must be refused before anything is allocated for it.
inline constexpr int kMaxGpus = 1024;

struct OptimizerOptions {
  int k = 0;  // partitions; 0: 1 + gpu_count, at least 2
  int coarsen_max_depth = 5;
  int max_iterations = 50;
  uint64_t seed = 0;
  int gpu_count = 0;
  std::optional<int64_t> workers;           // overrides the device model's and the DAG's
  std::optional<DeviceModel> device_model;  // default: DeviceModel::defaults(workers)
  std::string algorithm = "auto";           // a name of partitioner_names()
  std::string preset = "default";           // PartitionOptions::preset
  int64_t chain_merge_min_nodes = 0;        // see CoarsenOptions
  // The worker count is part of the decision (graph/parallelism.hpp): score every count from 0 to
  // max_workers (0: twice the cores, at least 2, at most 16) and keep the best placement over all.
  bool choose_workers = false;
  int64_t max_workers = 0;
  std::optional<double> cores;  // overrides the device model's cores (CPUs the job may use)

  // Throws InputError naming the first option out of range (k of 1, a negative count, negative
  // workers, an unknown algorithm or preset).
  void validate() const;

  // From keyword arguments as JSON ({"k": 2, "gpu_count": 1, ...}): absent keys and null keep the
  // default. InputError names an unknown key or a value of the wrong type (a bool or 2.5 for k),
  // then validate() runs. "device_model" is a codedag.device_model/1 object.
  static OptimizerOptions from_json(const json& doc, const std::string& origin = "optimizer options");
  json to_json() const;
};

}  // namespace codedag::graph
