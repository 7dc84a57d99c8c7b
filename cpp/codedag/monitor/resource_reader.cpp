#include "codedag/monitor/resource_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "codedag/monitor/procfs.hpp"
#include "codedag/monitor/result_model.hpp"

namespace codedag::monitor {

namespace {
std::string proc_dir(const std::string& root) { return root == "/" || root.empty() ? "/proc" : root + "/proc"; }
double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double clamp_pct(double v) { return v < 0 ? 0 : v; }
}  // namespace

ResourceReader::ResourceReader(const SamplerOptions& options)
    : options_(options),
      tree_(proc_dir(options.root), options.pid > 0 ? options.pid : static_cast<int>(::getpid())),
      cgroup_(options.root),
      proc_stat_(proc_dir(options.root) + "/stat"),
      meminfo_(proc_dir(options.root) + "/meminfo"),
      clock_ticks_(static_cast<double>(::sysconf(_SC_CLK_TCK))) {
  if (options_.gpu) nvml_ = std::make_unique<Nvml>(options_.nvml_library);
}

ResourceReader::Counters ResourceReader::read_counters(TreeReading& tree, CgroupReading& cg) {
  Counters c;
  c.mono = monotonic_seconds();
  tree = tree_.read();
  c.tree_ticks = tree.cpu_ticks;
  SystemCpuTimes sys;
  if (parse_system_cpu(proc_stat_.read(), sys)) {
    c.sys_busy = sys.busy;
    c.sys_total = sys.total;
  }
  const CgroupLimits& limits = cgroup_.limits();
  cg = cgroup_.read(limits.cpu_quota_cpus > 0, limits.memory_limit_bytes > 0);
  c.cg_cpu_ns = cg.cpu_usage_ns;
  c.cg_throttled_ns = cg.throttled_ns;
  return c;
}

void ResourceReader::prime() {
  TreeReading tree;
  CgroupReading cg;
  last_ = read_counters(tree, cg);
  primed_ = true;
}

ResourceSample ResourceReader::sample() {
  if (!primed_) prime();
  ResourceSample s;
  s.timestamp = unix_now();
  TreeReading tree;
  CgroupReading cg;
  const Counters now = read_counters(tree, cg);
  const double dt = std::max(1e-6, now.mono - last_.mono);
  const CgroupLimits& limits = cgroup_.limits();
  const double capacity = limits.cpu_capacity();

  s.processes = tree.processes;
  s.process_memory_mb = static_cast<double>(tree.rss_bytes) / (1024.0 * 1024.0);
  s.process_cpu_pct =
      clamp_pct(static_cast<double>(now.tree_ticks - last_.tree_ticks) / clock_ticks_ / (dt * capacity) * 100.0);
  if (now.sys_total > last_.sys_total)
    s.system_cpu_pct = clamp_pct(static_cast<double>(now.sys_busy - last_.sys_busy) /
                                 static_cast<double>(now.sys_total - last_.sys_total) * 100.0);
  s.cpu_pct = s.system_cpu_pct;
  if (limits.cpu_quota_cpus > 0 && cg.has_cpu_usage && now.cg_cpu_ns >= last_.cg_cpu_ns)
    s.cpu_pct =
        clamp_pct(static_cast<double>(now.cg_cpu_ns - last_.cg_cpu_ns) / 1e9 / (dt * limits.cpu_quota_cpus) * 100.0);
  if (cg.has_throttling && now.cg_throttled_ns >= last_.cg_throttled_ns)
    s.throttled_ms = static_cast<double>(now.cg_throttled_ns - last_.cg_throttled_ns) / 1e6;

  if (limits.memory_limit_bytes > 0 && cg.has_memory) {
    s.memory_pct = static_cast<double>(cg.working_set_bytes()) / static_cast<double>(limits.memory_limit_bytes) * 100.0;
  } else {
    SystemMemory mem;
    if (parse_meminfo(meminfo_.read(), mem) && mem.total_bytes > 0)
      s.memory_pct = static_cast<double>(mem.total_bytes - std::min(mem.available_bytes, mem.total_bytes)) /
                     static_cast<double>(mem.total_bytes) * 100.0;
  }
  if (nvml_) s.gpus = nvml_->read();
  last_ = now;
  return s;
}

json ResourceReader::describe() const {
  const CgroupLayout& l = cgroup_.layout();
  const CgroupLimits& lim = cgroup_.limits();
  json info;
  info["cgroup"] = {{"version", to_string(l.version)},
                    {"cpu_dir", l.cpu_dir},
                    {"cpuacct_dir", l.cpuacct_dir},
                    {"memory_dir", l.memory_dir}};
  info["cpu_quota_cpus"] = lim.cpu_quota_cpus > 0 ? json(lim.cpu_quota_cpus) : json(nullptr);
  info["affinity_cpus"] = lim.affinity_cpus;
  info["cpu_capacity"] = lim.cpu_capacity();
  info["memory_limit_bytes"] = lim.memory_limit_bytes > 0 ? json(lim.memory_limit_bytes) : json(nullptr);
  info["cpu_usage_source"] = lim.cpu_quota_cpus > 0 ? "cgroup (relative to the CPU quota)" : "/proc/stat (the host)";
  info["memory_usage_source"] =
      lim.memory_limit_bytes > 0 ? "cgroup working set (relative to the memory limit)" : "/proc/meminfo (the host)";
  info["container"] = {{"detected", cgroup_.container().detected}, {"evidence", cgroup_.container().evidence}};
  json gpus = json::array();
  std::string note;
  if (nvml_) {
    for (const std::string& name : nvml_->device_names()) gpus.push_back(name);
    note = nvml_->unavailable_reason();
  } else {
    note = "GPU sampling switched off";
  }
  info["gpus"] = gpus;
  info["gpu_note"] = note;
  info["pid"] = tree_.pid();
  return info;
}

size_t ResourceReader::open_files() const {
  return tree_.open_files() + cgroup_.open_files() + (proc_stat_.is_open() ? 1 : 0) + (meminfo_.is_open() ? 1 : 0);
}

}  // namespace codedag::monitor
