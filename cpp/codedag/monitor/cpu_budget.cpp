#include "codedag/monitor/cpu_budget.hpp"

#include "codedag/monitor/cgroup.hpp"

namespace codedag::monitor {

CpuBudget available_cpus(const std::string& root) {
  const CgroupLimits limits = read_cgroup_limits(root, find_cgroup_layout(root));
  CpuBudget b;
  b.quota_cpus = limits.cpu_quota_cpus;
  b.affinity_cpus = limits.affinity_cpus;
  b.cores = limits.cpu_capacity();
  if (limits.cpu_quota_cpus > 0 && (limits.affinity_cpus <= 0 || limits.cpu_quota_cpus < limits.affinity_cpus))
    b.limited_by = "cgroup quota";
  else if (limits.affinity_cpus > 0)
    b.limited_by = "affinity mask";
  else
    b.limited_by = "unknown (1 CPU assumed)";
  return b;
}

json CpuBudget::to_json() const {
  return {{"cores", cores}, {"quota_cpus", quota_cpus}, {"affinity_cpus", affinity_cpus}, {"limited_by", limited_by}};
}

}  // namespace codedag::monitor
