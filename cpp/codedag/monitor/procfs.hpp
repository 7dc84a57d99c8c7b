#pragma once
// Parsers for the procfs files a sample reads: /proc/stat (system CPU), /proc/meminfo (system
// memory), /proc/<pid>/stat (one process). They take text, so tests feed them real captured files.
#include <string_view>

namespace codedag::monitor {

// The aggregate "cpu" line of /proc/stat in clock ticks. busy excludes idle and iowait.
struct SystemCpuTimes {
  unsigned long long busy = 0;
  unsigned long long total = 0;
};
bool parse_system_cpu(std::string_view proc_stat, SystemCpuTimes& out);

struct SystemMemory {
  unsigned long long total_bytes = 0;
  unsigned long long available_bytes = 0;  // MemAvailable (kernels >= 3.14), else free+buffers+cached
};
bool parse_meminfo(std::string_view meminfo, SystemMemory& out);

// The fields of /proc/<pid>/stat a sample needs. utime/stime are for the whole thread group.
struct ProcessStat {
  int pid = 0;
  int ppid = 0;
  char state = '?';
  unsigned long long utime = 0;  // clock ticks
  unsigned long long stime = 0;
  long long num_threads = 0;
  unsigned long long starttime = 0;  // ticks after boot: tells a reused pid from the old process
  long long rss_pages = 0;
};
// The command name may contain spaces and parentheses, so fields are counted from the last ')'.
bool parse_process_stat(std::string_view text, ProcessStat& out);

}  // namespace codedag::monitor
