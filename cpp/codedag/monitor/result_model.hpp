#pragma once
// The result file of ExperimentMonitor and `codedag monitor`: seed 001 §6 structure, exactly,
// with CodeDAG's extra fields beside the seed's (never instead of them):
//
//   {"experiment_name", "timestamp", "datetime",
//    "modes": {"<mode>": {"config", "batch_times": [[i, s]...],
//              "resource_usage": {"cpu_usage", "memory_usage", "gpu_usage": {"0": [[t, %]]},
//                                 "gpu_memory": {"0": [[t, MB]]}, + process_cpu_usage, ...},
//              "metrics": {"losses": [[epoch, batch, loss]], "accuracies": [[epoch, batch, acc]]},
//              "summary": {"total_time", "batch_time", "loss", "accuracy", + extras}, + extras}}}
//
// The schema is docs/schemas/monitor_result.schema.json.
#include <array>
#include <map>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::monitor {

using Point = std::array<double, 2>;  // [timestamp or index, value]
using Series = std::vector<Point>;

struct MetricPoint {
  long long epoch = 0;
  long long batch = 0;
  double value = 0;
};

struct ResourceUsage {
  // The seed's series.
  Series cpu_usage;     // % (of the CPU quota in a limited container, else of the host)
  Series memory_usage;  // % (working set of the memory limit in a limited container, else of the host)
  std::map<std::string, Series> gpu_usage;   // GPU index -> [[t, %]]
  std::map<std::string, Series> gpu_memory;  // GPU index -> [[t, MB]]
  // CodeDAG's additions.
  Series process_cpu_usage;  // the monitored process and its descendants, % of the CPUs it may use
  Series process_memory;     // their resident memory, MB
  Series system_cpu_usage;   // the whole host, %
  Series cpu_throttled;      // ms the cgroup was throttled during each interval
  bool empty() const { return cpu_usage.empty() && memory_usage.empty() && gpu_usage.empty(); }
};

struct ModeResult {
  std::string name;
  json config = json::object();
  std::vector<std::pair<long long, double>> batch_times;  // [global batch index, seconds]
  ResourceUsage resources;
  std::vector<MetricPoint> losses;
  std::vector<MetricPoint> accuracies;
  double total_time = 0;  // seconds from start_mode to stop_mode (or to now while running)
  double start_time = 0;  // unix seconds
  double end_time = 0;    // 0 while running
  double resource_interval = 0;
  json resource_info = json::object();  // cgroup layout, limits, container evidence, GPUs
  json extra = json::object();          // fields of a loaded file that this model does not know, kept as they were

  // The seed's summary plus extras, computed from the series.
  ordered_json summary() const;
  ordered_json to_json() const;
  static ModeResult from_json(const json& doc, const std::string& name, const std::string& where);
};

struct ExperimentResult {
  std::string experiment_name;
  double timestamp = 0;           // unix seconds when the monitor was created
  std::string datetime;           // the same, local time ISO 8601
  std::vector<ModeResult> modes;  // in the order they ran
  json extra = json::object();

  ModeResult* find(const std::string& mode);
  const ModeResult* find(const std::string& mode) const;
  // A mode run again replaces the old one (the seed keeps one entry per mode name).
  ModeResult& put(ModeResult mode);

  ordered_json to_json() const;
  // Throws FormatError naming `origin` and the element ("modes.baseline.batch_times[3]: ...").
  static ExperimentResult from_json(const json& doc, const std::string& origin);
  static ExperimentResult load(const std::string& path);
  // Atomic (temporary file + rename): a reader or a crash sees the old file or the new one.
  void save(const std::string& path) const;
};

// "2024-01-15T10:30:00" in local time.
std::string iso_datetime(double unix_seconds);
double unix_now();

}  // namespace codedag::monitor
