#pragma once
// How many CPUs this process may use: the tighter of its cgroup CPU quota (fractional, e.g. 1.5)
// and its affinity mask. The worker/thread choice of the closed loop plans within this budget
// (graph::DeviceModel::cores): on a 64-core host a container limited to 2 CPUs has 2.
#include <string>

#include "codedag/common/json_file.hpp"

namespace codedag::monitor {

struct CpuBudget {
  double cores = 1;        // what the job may use: min(quota, affinity), at least one CPU's worth
  double quota_cpus = 0;   // 0: no cgroup quota
  int affinity_cpus = 0;   // CPUs in the affinity mask (0: unknown)
  std::string limited_by;  // "cgroup quota", "affinity mask" or "unknown (1 CPU assumed)"
  json to_json() const;
};

// Reads /proc/self/status and the cgroup files under `root` ("/" on a real machine).
CpuBudget available_cpus(const std::string& root = "/");

}  // namespace codedag::monitor
