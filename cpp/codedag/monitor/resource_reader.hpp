#pragma once
// One full resource sample, read synchronously: the process tree's CPU and memory, the host's CPU
// and memory, the cgroup's CPU, throttling and working set when a limit makes them meaningful,
// and every GPU. ResourceSampler calls it from its thread; the benchmark calls it directly.
#include <memory>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/monitor/cgroup.hpp"
#include "codedag/monitor/nvml.hpp"
#include "codedag/monitor/proc_file.hpp"
#include "codedag/monitor/process_tree.hpp"

namespace codedag::monitor {

struct SamplerOptions {
  double interval_s = 1.0;  // at least 0.01
  int pid = 0;              // root of the process tree; 0: this process
  std::string root = "/";   // where /proc and /sys are found (fixture trees in tests)
  std::string nvml_library = "libnvidia-ml.so.1";
  bool gpu = true;  // false: do not even load NVML
};

struct ResourceSample {
  double timestamp = 0;   // unix seconds
  double cpu_pct = 0;     // the seed's cpu_usage: of the CPU quota in a limited container, else of the host
  double memory_pct = 0;  // the seed's memory_usage: working set / limit in a limited container, else host used / total
  double system_cpu_pct = 0;   // the host (/proc/stat)
  double process_cpu_pct = 0;  // the process tree, % of the CPUs it may use (quota or affinity)
  double process_memory_mb = 0;
  double throttled_ms = 0;  // during this interval (cgroup with a CPU quota)
  int processes = 0;        // in the tree; 0 once the root exited
  std::vector<GpuReading> gpus;
};

class ResourceReader {
 public:
  explicit ResourceReader(const SamplerOptions& options);

  // Takes the reference point that the next sample's rates are measured from.
  void prime();
  // A sample of the rates since the previous call (or prime()).
  ResourceSample sample();
  // What the samples mean here: cgroup version and directories, limits, CPU capacity,
  // container evidence, GPUs or why there are none.
  json describe() const;
  const CgroupReader& cgroup() const { return cgroup_; }
  const Nvml* nvml() const { return nvml_.get(); }
  size_t open_files() const;

 private:
  struct Counters {
    double mono = 0;
    unsigned long long tree_ticks = 0;
    unsigned long long sys_busy = 0, sys_total = 0;
    unsigned long long cg_cpu_ns = 0, cg_throttled_ns = 0;
  };
  Counters read_counters(TreeReading& tree, CgroupReading& cg);

  SamplerOptions options_;
  ProcessTree tree_;
  CgroupReader cgroup_;
  std::unique_ptr<Nvml> nvml_;
  ProcFile proc_stat_, meminfo_;
  double clock_ticks_;
  Counters last_{};
  bool primed_ = false;
};

}  // namespace codedag::monitor
