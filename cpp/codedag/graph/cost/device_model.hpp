#pragma once
// The device model (codedag.device_model/1): every constant of SPEC §2's cost model, so that any
// plan can be scored independently of the optimizer that produced it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::graph {

inline constexpr const char* kDeviceModelSchema = "codedag.device_model/1";
// Bound on workers and cores read from files: no machine has more; a bigger number is a typo.
inline constexpr int64_t kMaxWorkers = 4096;

struct Node;

// The executors a plan can use: `cpu` (DataLoader workers) is always index 0, `batch:cpu` (the
// main process on the collated batch) index 1, then `cuda:0`, `cuda:1`, ...
std::vector<std::string> executor_names(int gpu_count);
// True for "cpu", "batch:cpu" and "cuda:<n>".
bool is_executor_name(const std::string& name);
// Main-process executors are every executor but `cpu`.
inline bool is_main_process(const std::string& executor) { return executor != "cpu"; }

// One executor pair's transfer: count * latency_ns + bytes / bytes_per_s (no bytes_per_s: free).
struct TransferCost {
  double latency_ns = 0;
  std::optional<double> bytes_per_s;
  double time_ns(double bytes, double count) const {
    return count * latency_ns + (bytes_per_s ? bytes / *bytes_per_s * 1e9 : 0.0);
  }
};

struct DeviceModel {
  // W: DataLoader worker processes sharing the `cpu` stage. 0: the main process loads every sample
  // itself (num_workers=0), so loading and the main-process stages run one after the other.
  int64_t workers = 1;
  // CPUs the job may use (cgroup quota, affinity mask; fractional under a quota). 0: not limited,
  // SPEC §2 as written. With cores, workers run at most `cores` at a time and all CPU work of a batch
  // (workers' and main process's) must fit: cost >= CPU work / cores.
  double cores = 0;
  // Main-process time to take one batch from a worker process (unpickling, mapping its shared
  // memory); charged to batch:cpu per batch when W >= 1. 0 by default; the closed loop measures it.
  double worker_handoff_ns = 0;
  std::map<std::string, double> train_ns;  // training step per batch, per main-process executor
  TransferCost default_transfer{10000, 1.2e10};
  std::map<std::string, TransferCost> transfer;  // "<from>-><to>"
  double gpu_speedup = 10.0;                     // cpu_ns / gpu time, when no gpu_ns was measured
  double gpu_launch_ns = 10000;                  // floor per call on a GPU (kernel launches, sync)
  double batch_speedup = 1.0;                    // cpu_ns / batch:cpu time, when no batch_ns was measured

  // The documented defaults (docs/optimizer.md): W workers, free cpu->batch:cpu, 12 GB/s and 10 µs
  // elsewhere, GPU 10x faster than one core with a 10 µs floor per call.
  static DeviceModel defaults(int64_t workers = 1);

  const TransferCost& transfer_for(const std::string& from, const std::string& to) const;
  double transfer_ns(const std::string& from, const std::string& to, double bytes, double count) const {
    return transfer_for(from, to).time_ns(bytes, count);
  }
  // A node's time on an executor; +infinity where the node cannot run there (not gpu_eligible).
  double node_time_ns(const Node& node, const std::string& executor) const;
  // How many workers' `cpu` stages run at once: W limited by the cores (1 when W is 0).
  double parallel_workers() const;
  double train_for(const std::string& executor) const {
    const auto it = train_ns.find(executor);
    return it == train_ns.end() ? 0.0 : it->second;
  }

  // Validates every field; errors name the origin and the field ("device.json: transfer.cpu->x: ...").
  static DeviceModel from_json(const json& doc, const std::string& origin = "device model");
  json to_json() const;
  static DeviceModel load(const std::string& path);
  void save(const std::string& path) const;
};

}  // namespace codedag::graph
