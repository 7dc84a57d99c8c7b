#include "codedag/monitor/cgroup.hpp"

#include <sys/stat.h>

#include <cmath>
#include <map>
#include <sstream>

namespace codedag::monitor {

namespace {

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  for (;;) {
    const size_t next = text.find(sep, pos);
    parts.push_back(text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return parts;
}

std::string join_root(const std::string& root, std::string_view absolute) {
  if (root.empty() || root == "/") return std::string(absolute);
  std::string r = root;
  while (!r.empty() && r.back() == '/') r.pop_back();
  return r + std::string(absolute);
}

struct Mount {
  std::string root;        // the path inside the hierarchy that is mounted
  std::string mountpoint;  // where (absolute, without our `root` prefix)
  std::vector<std::string> controllers;
};

// "/docker/abc" under a mount of "/docker" -> "/abc"; a path outside the mount's root (a
// container that sees the host's path but only its own subtree mounted) -> "" (the mount itself).
std::string relative_to_mount(const std::string& cgroup_path, const std::string& mount_root) {
  if (mount_root == "/" || mount_root.empty()) return cgroup_path == "/" ? "" : cgroup_path;
  if (cgroup_path.rfind(mount_root, 0) == 0) return cgroup_path.substr(mount_root.size());
  return "";
}

std::string resolve_dir(const std::string& root, const Mount& m, const std::string& cgroup_path) {
  const std::string mountpoint = join_root(root, m.mountpoint);
  const std::string dir = mountpoint + relative_to_mount(cgroup_path, m.root);
  return is_directory(dir) ? dir : mountpoint;
}

// The first line of a file, trimmed; empty if unreadable.
std::string read_line(const std::string& path) {
  std::string text = read_small_file(path);
  const size_t eol = text.find('\n');
  if (eol != std::string::npos) text.resize(eol);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.pop_back();
  return text;
}

// Calls f(dir) on `dir` and each ancestor up to and including `mount`.
template <class F>
void walk_up(const std::string& dir, const std::string& mount, F f) {
  std::string d = dir;
  for (;;) {
    f(d);
    if (d.size() <= mount.size() || d == mount) break;
    const size_t slash = d.rfind('/');
    if (slash == std::string::npos || slash < mount.size()) break;
    d.resize(slash);
  }
}

unsigned long long physical_memory(const std::string& root) {
  unsigned long long kb = 0;
  find_keyed_number(read_small_file(join_root(root, "/proc/meminfo")), "MemTotal", kb);
  return kb * 1024;
}

}  // namespace

const char* to_string(CgroupVersion v) {
  switch (v) {
    case CgroupVersion::v1:
      return "v1";
    case CgroupVersion::v2:
      return "v2";
    case CgroupVersion::hybrid:
      return "hybrid";
    case CgroupVersion::none:
      break;
  }
  return "none";
}

double CgroupLimits::cpu_capacity() const {
  const double cpus = affinity_cpus > 0 ? affinity_cpus : 1;
  return cpu_quota_cpus > 0 && cpu_quota_cpus < cpus ? cpu_quota_cpus : cpus;
}

unsigned long long CgroupReading::working_set_bytes() const {
  return memory_usage_bytes > inactive_file_bytes ? memory_usage_bytes - inactive_file_bytes : 0;
}

std::string unescape_mount_path(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '7' && text[i + 2] >= '0' &&
        text[i + 2] <= '7' && text[i + 3] >= '0' && text[i + 3] <= '7') {
      out.push_back(static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

CgroupLayout find_cgroup_layout(const std::string& root) {
  CgroupLayout layout;
  // /proc/self/cgroup: "hierarchy-id:controller,list:/path"; the v2 line is "0::/path".
  std::map<std::string, std::string> v1_paths;
  std::optional<std::string> v2_path;
  std::istringstream cg(read_small_file(join_root(root, "/proc/self/cgroup")));
  for (std::string line; std::getline(cg, line);) {
    const size_t a = line.find(':');
    const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (line.substr(0, a) == "0" && controllers.empty()) {
      v2_path = path;
      continue;
    }
    for (std::string_view c : split(controllers, ',')) v1_paths[std::string(c)] = path;
  }

  // /proc/self/mountinfo: "id parent major:minor root mountpoint options [optional...] - fstype source superoptions"
  std::map<std::string, Mount> v1_mounts;
  std::optional<Mount> v2_mount;
  std::istringstream mi(read_small_file(join_root(root, "/proc/self/mountinfo")));
  for (std::string line; std::getline(mi, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    const auto left = split(std::string_view(line).substr(0, dash), ' ');
    const auto right = split(std::string_view(line).substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    Mount m{unescape_mount_path(left[3]), unescape_mount_path(left[4]), {}};
    if (right[0] == "cgroup2") {
      if (!v2_mount) v2_mount = m;
    } else if (right[0] == "cgroup") {
      for (std::string_view opt : split(right[2], ',')) {
        const std::string o(opt);
        if (o == "cpu" || o == "cpuacct" || o == "memory") v1_mounts.emplace(o, m);
      }
    }
  }

  const bool has_v1 = !v1_mounts.empty() && !v1_paths.empty();
  const bool has_v2 = v2_mount.has_value() && v2_path.has_value();
  auto assign_v1 = [&](const std::string& controller, std::string& dir, std::string& mount) {
    const auto m = v1_mounts.find(controller);
    const auto p = v1_paths.find(controller);
    if (m == v1_mounts.end() || p == v1_paths.end()) return false;
    dir = resolve_dir(root, m->second, p->second);
    mount = join_root(root, m->second.mountpoint);
    return true;
  };
  assign_v1("cpu", layout.cpu_dir, layout.cpu_mount);
  assign_v1("cpuacct", layout.cpuacct_dir, layout.cpuacct_mount);
  assign_v1("memory", layout.memory_dir, layout.memory_mount);

  if (has_v2) {
    const std::string dir = resolve_dir(root, *v2_mount, *v2_path);
    const std::string mount = join_root(root, v2_mount->mountpoint);
    // Controllers enabled for this cgroup are listed in its parent's subtree_control, and the
    // ones available in its own cgroup.controllers (the root lists all of them).
    std::string controllers = read_line(dir + "/cgroup.controllers");
    if (controllers.empty()) controllers = read_line(mount + "/cgroup.controllers");
    bool v2_cpu = false, v2_memory = false;
    for (std::string_view c : split(controllers, ' ')) {
      v2_cpu = v2_cpu || c == "cpu";
      v2_memory = v2_memory || c == "memory";
    }
    if (layout.cpu_dir.empty() && v2_cpu) {
      layout.cpu_dir = dir;
      layout.cpu_mount = mount;
      layout.cpu_v2 = true;
    }
    // cpu.stat's usage_usec exists in every v2 cgroup, with or without the cpu controller.
    if (layout.cpuacct_dir.empty() && exists(dir + "/cpu.stat")) {
      layout.cpuacct_dir = dir;
      layout.cpuacct_mount = mount;
      layout.cpuacct_v2 = true;
    }
    if (layout.memory_dir.empty() && v2_memory) {
      layout.memory_dir = dir;
      layout.memory_mount = mount;
      layout.memory_v2 = true;
    }
  }
  layout.version = has_v1 && has_v2 ? CgroupVersion::hybrid
                   : has_v1         ? CgroupVersion::v1
                   : has_v2         ? CgroupVersion::v2
                                    : CgroupVersion::none;
  return layout;
}

ContainerEvidence detect_container(const std::string& root) {
  ContainerEvidence c;
  if (exists(join_root(root, "/.dockerenv"))) c.evidence.push_back("/.dockerenv exists");
  if (exists(join_root(root, "/run/.containerenv"))) c.evidence.push_back("/run/.containerenv exists (podman)");
  std::istringstream cg(read_small_file(join_root(root, "/proc/self/cgroup")));
  for (std::string line; std::getline(cg, line);) {
    for (const char* word : {"docker", "kubepods", "containerd", "libpod", "lxc", "crio"}) {
      if (line.find(word) != std::string::npos) {
        c.evidence.push_back("cgroup path " + line.substr(line.rfind(':') + 1));
        break;
      }
    }
    if (c.evidence.size() > 4) break;
  }
  std::istringstream mi(read_small_file(join_root(root, "/proc/self/mountinfo")));
  for (std::string line; std::getline(mi, line);) {
    const auto fields = split(line, ' ');
    const size_t dash = line.find(" - ");
    if (fields.size() > 4 && fields[4] == "/" && dash != std::string::npos &&
        line.compare(dash + 3, 8, "overlay ") == 0) {
      c.evidence.push_back("root filesystem is overlay");
      break;
    }
  }
  c.detected = !c.evidence.empty();
  return c;
}

CgroupLimits read_cgroup_limits(const std::string& root, const CgroupLayout& layout) {
  CgroupLimits limits;
  // Affinity from the status file rather than sched_getaffinity(2), so the same code reads
  // fixture trees; on a real machine the kernel fills it from the same mask.
  const std::string status = read_small_file(join_root(root, "/proc/self/status"));
  const size_t at = status.find("Cpus_allowed_list:");
  if (at != std::string::npos) {
    std::string_view rest = std::string_view(status).substr(at + 18);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    limits.affinity_cpus = count_cpu_list(first_line(rest));
  }

  if (!layout.cpu_dir.empty()) {
    double tightest = 0;
    walk_up(layout.cpu_dir, layout.cpu_mount, [&](const std::string& dir) {
      double cpus = 0;
      if (layout.cpu_v2) {
        const std::string line = read_line(dir + "/cpu.max");  // "max 100000" or "150000 100000"
        long long quota = 0, period = 0;
        const size_t space = line.find(' ');
        if (space != std::string::npos && parse_i64(line.substr(0, space), quota) &&
            parse_i64(line.substr(space + 1), period) && quota > 0 && period > 0)
          cpus = static_cast<double>(quota) / static_cast<double>(period);
      } else {
        long long quota = 0, period = 0;
        if (parse_i64(read_line(dir + "/cpu.cfs_quota_us"), quota) &&
            parse_i64(read_line(dir + "/cpu.cfs_period_us"), period) && quota > 0 && period > 0)
          cpus = static_cast<double>(quota) / static_cast<double>(period);
      }
      if (cpus > 0 && (tightest == 0 || cpus < tightest)) tightest = cpus;
    });
    limits.cpu_quota_cpus = tightest;
  }

  if (!layout.memory_dir.empty()) {
    unsigned long long tightest = 0;
    auto consider = [&](unsigned long long bytes) {
      if (bytes > 0 && (tightest == 0 || bytes < tightest)) tightest = bytes;
    };
    if (layout.memory_v2) {
      walk_up(layout.memory_dir, layout.memory_mount, [&](const std::string& dir) {
        unsigned long long bytes = 0;
        if (parse_u64(read_line(dir + "/memory.max"), bytes)) consider(bytes);  // "max" does not parse
      });
    } else {
      unsigned long long bytes = 0;
      if (parse_u64(read_line(layout.memory_dir + "/memory.limit_in_bytes"), bytes)) consider(bytes);
      // v1 applies ancestors' limits too and sums them up for us here.
      if (find_spaced_number(read_small_file(layout.memory_dir + "/memory.stat"), "hierarchical_memory_limit", bytes))
        consider(bytes);
    }
    // "Unlimited" is spelled as a page-rounded LLONG_MAX on v1; a limit above physical memory
    // limits nothing either.
    const unsigned long long physical = physical_memory(root);
    if (tightest >= (1ULL << 62) || (physical > 0 && tightest >= physical)) tightest = 0;
    limits.memory_limit_bytes = static_cast<long long>(tightest);
  }
  return limits;
}

CgroupReader::CgroupReader(std::string root) : root_(std::move(root)) {
  layout_ = find_cgroup_layout(root_);
  container_ = detect_container(root_);
  refresh_limits();
  if (!layout_.cpuacct_dir.empty())
    cpuacct_usage_ = ProcFile(layout_.cpuacct_dir + (layout_.cpuacct_v2 ? "/cpu.stat" : "/cpuacct.usage"));
  if (!layout_.cpu_dir.empty()) cpu_stat_ = ProcFile(layout_.cpu_dir + "/cpu.stat");
  if (!layout_.memory_dir.empty()) {
    memory_usage_ = ProcFile(layout_.memory_dir + (layout_.memory_v2 ? "/memory.current" : "/memory.usage_in_bytes"));
    memory_stat_ = ProcFile(layout_.memory_dir + "/memory.stat");
  }
}

void CgroupReader::refresh_limits() { limits_ = read_cgroup_limits(root_, layout_); }

CgroupReading CgroupReader::read(bool cpu, bool memory) {
  CgroupReading r;
  if (cpu && !cpuacct_usage_.path().empty()) {
    const std::string_view text = cpuacct_usage_.read();
    unsigned long long v = 0;
    if (layout_.cpuacct_v2) {
      if (find_spaced_number(text, "usage_usec", v)) {
        r.has_cpu_usage = true;
        r.cpu_usage_ns = v * 1000;
      }
    } else if (parse_u64(text, v)) {
      r.has_cpu_usage = true;
      r.cpu_usage_ns = v;
    }
  }
  if (cpu && !cpu_stat_.path().empty()) {
    const std::string_view text = cpu_stat_.read();
    unsigned long long periods = 0, t = 0;
    if (find_spaced_number(text, "nr_throttled", periods)) {
      r.has_throttling = true;
      r.nr_throttled = periods;
      if (layout_.cpu_v2 && find_spaced_number(text, "throttled_usec", t)) r.throttled_ns = t * 1000;
      if (!layout_.cpu_v2 && find_spaced_number(text, "throttled_time", t)) r.throttled_ns = t;
    }
  }
  if (memory && !memory_usage_.path().empty()) {
    unsigned long long usage = 0, inactive = 0;
    if (parse_u64(memory_usage_.read(), usage)) {
      r.has_memory = true;
      r.memory_usage_bytes = usage;
      const std::string_view stat = memory_stat_.read();
      if (!find_spaced_number(stat, layout_.memory_v2 ? "inactive_file" : "total_inactive_file", inactive))
        find_spaced_number(stat, "inactive_file", inactive);
      r.inactive_file_bytes = inactive;
    }
  }
  return r;
}

size_t CgroupReader::open_files() const {
  return (cpu_stat_.is_open() ? 1 : 0) + (cpuacct_usage_.is_open() ? 1 : 0) + (memory_usage_.is_open() ? 1 : 0) +
         (memory_stat_.is_open() ? 1 : 0);
}

}  // namespace codedag::monitor
