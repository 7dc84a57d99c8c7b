#include "codedag/monitor/procfs.hpp"

#include "codedag/monitor/proc_file.hpp"

namespace codedag::monitor {

namespace {
// Splits off the next space-separated field of `rest`.
std::string_view next_field(std::string_view& rest) {
  size_t i = 0;
  while (i < rest.size() && rest[i] == ' ') ++i;
  size_t j = i;
  while (j < rest.size() && rest[j] != ' ' && rest[j] != '\n') ++j;
  const std::string_view field = rest.substr(i, j - i);
  rest.remove_prefix(j);
  return field;
}
}  // namespace

bool parse_system_cpu(std::string_view proc_stat, SystemCpuTimes& out) {
  std::string_view line = first_line(proc_stat);
  if (line.substr(0, 4) != "cpu ") return false;
  line.remove_prefix(4);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
  // counted in user/nice, so it is not added again.
  unsigned long long v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int n = 0;
  for (; n < 8; ++n) {
    const std::string_view f = next_field(line);
    if (f.empty() || !parse_u64(f, v[n])) break;
  }
  if (n < 4) return false;
  const unsigned long long idle = v[3] + v[4];
  out.total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
  out.busy = out.total - idle;
  return true;
}

bool parse_meminfo(std::string_view meminfo, SystemMemory& out) {
  unsigned long long total = 0, available = 0;
  if (!find_keyed_number(meminfo, "MemTotal", total) || total == 0) return false;
  if (!find_keyed_number(meminfo, "MemAvailable", available)) {
    unsigned long long free = 0, buffers = 0, cached = 0;
    find_keyed_number(meminfo, "MemFree", free);
    find_keyed_number(meminfo, "Buffers", buffers);
    find_keyed_number(meminfo, "Cached", cached);
    available = free + buffers + cached;
  }
  out.total_bytes = total * 1024;
  out.available_bytes = available * 1024;
  return true;
}

bool parse_process_stat(std::string_view text, ProcessStat& out) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return false;
  long long pid = 0;
  if (!parse_i64(text.substr(0, open), pid)) return false;
  out.pid = static_cast<int>(pid);
  std::string_view rest = text.substr(close + 1);
  // Field numbers as in proc(5): 3 state, 4 ppid, 14 utime, 15 stime, 20 num_threads,
  // 22 starttime, 24 rss.
  for (int field = 3; field <= 24; ++field) {
    const std::string_view f = next_field(rest);
    if (f.empty()) return false;
    long long signed_value = 0;
    switch (field) {
      case 3:
        out.state = f[0];
        break;
      case 4:
        if (!parse_i64(f, signed_value)) return false;
        out.ppid = static_cast<int>(signed_value);
        break;
      case 14:
        if (!parse_u64(f, out.utime)) return false;
        break;
      case 15:
        if (!parse_u64(f, out.stime)) return false;
        break;
      case 20:
        if (!parse_i64(f, out.num_threads)) return false;
        break;
      case 22:
        if (!parse_u64(f, out.starttime)) return false;
        break;
      case 24:
        if (!parse_i64(f, out.rss_pages)) return false;
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace codedag::monitor
