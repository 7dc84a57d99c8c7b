#pragma once
// Container awareness: which cgroup this process is in, what it is allowed (CPU quota, memory
// limit, CPUs in its affinity mask) and what it uses (CPU time, throttling, working-set memory).
// The layout — cgroup v2 (unified), v1 (one hierarchy per controller) or hybrid (v1 controllers
// plus an empty v2 mount) — is found from /proc/self/cgroup and /proc/self/mountinfo, never
// assumed from the path /sys/fs/cgroup. Every path is read under `root` ("/" on a real machine; a
// copied file tree in the tests).
#include <optional>
#include <string>
#include <vector>

#include "codedag/monitor/proc_file.hpp"

namespace codedag::monitor {

enum class CgroupVersion { none, v1, v2, hybrid };
const char* to_string(CgroupVersion v);

struct CgroupLayout {
  CgroupVersion version = CgroupVersion::none;
  // Directories (absolute, with `root` prepended) of this process's cgroup for each controller;
  // empty when the controller is not mounted. On v2 all three are the same directory.
  std::string cpu_dir;      // cpu.max / cpu.cfs_quota_us, cpu.stat (throttling)
  std::string cpuacct_dir;  // cpu.stat usage_usec / cpuacct.usage
  std::string memory_dir;   // memory.max, memory.current / memory.limit_in_bytes, usage_in_bytes
  // The mount point of each, so limits can be looked up on ancestors up to it.
  std::string cpu_mount, cpuacct_mount, memory_mount;
  // Which file names each directory uses (v2: cpu.max, cpu.stat usage_usec, memory.current;
  // v1: cpu.cfs_quota_us, cpuacct.usage, memory.usage_in_bytes).
  bool cpu_v2 = false, cpuacct_v2 = false, memory_v2 = false;
};

struct ContainerEvidence {
  bool detected = false;
  // Why: "/.dockerenv exists", "cgroup path /docker/<id>", "root filesystem is overlay", ...
  // Reported only: limits and usage come from the cgroup files whatever this says, because
  // /.dockerenv exists on plain VMs too and containers exist without it.
  std::vector<std::string> evidence;
};

struct CgroupLimits {
  double cpu_quota_cpus = 0;         // 0: no quota (cpu.max "max" or cfs_quota_us -1)
  long long memory_limit_bytes = 0;  // 0: no limit (or one above physical memory)
  int affinity_cpus = 0;             // CPUs in the affinity mask (Cpus_allowed_list)
  // What 100 % CPU means for this process: the quota when it is tighter than the affinity mask.
  double cpu_capacity() const;
};

// Cumulative counters; differences between two readings give rates.
struct CgroupReading {
  bool has_cpu_usage = false;
  unsigned long long cpu_usage_ns = 0;
  bool has_throttling = false;
  unsigned long long nr_throttled = 0;
  unsigned long long throttled_ns = 0;
  bool has_memory = false;
  unsigned long long memory_usage_bytes = 0;
  unsigned long long inactive_file_bytes = 0;
  // memory.current − inactive_file: what the kernel would not reclaim first, i.e. what the
  // OOM killer weighs against the limit (the figure `docker stats` shows).
  unsigned long long working_set_bytes() const;
};

class CgroupReader {
 public:
  // Finds the layout under `root` for the process whose files are `root`/proc/self/...
  explicit CgroupReader(std::string root = "/");

  const CgroupLayout& layout() const { return layout_; }
  const CgroupLimits& limits() const { return limits_; }
  const ContainerEvidence& container() const { return container_; }
  // Re-reads the limits (they can change while a job runs, e.g. `docker update`).
  void refresh_limits();
  // Reads the CPU counters and/or the memory counters (memory.stat alone costs ~15 µs, so the
  // sampler asks only for what a limit makes meaningful).
  CgroupReading read(bool cpu = true, bool memory = true);
  size_t open_files() const;

 private:
  std::string root_;
  CgroupLayout layout_;
  CgroupLimits limits_;
  ContainerEvidence container_;
  ProcFile cpu_stat_, cpuacct_usage_, memory_usage_, memory_stat_;
};

// Building blocks, exposed for the tests.
CgroupLayout find_cgroup_layout(const std::string& root);
ContainerEvidence detect_container(const std::string& root);
CgroupLimits read_cgroup_limits(const std::string& root, const CgroupLayout& layout);
// mountinfo escapes spaces and friends as \040 octal; this undoes it.
std::string unescape_mount_path(std::string_view text);

}  // namespace codedag::monitor
