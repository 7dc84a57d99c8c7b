#pragma once
// Metric series (log_metric) as append-only JSON Lines, <info_dir>/metrics.jsonl:
//   {"key":"loss","step":12,"value":0.25,"t":1700000000.5}
// Logging appends a formatted line to an in-memory buffer (about a microsecond, no system call);
// flush() appends the buffer with one write(2) on an O_APPEND descriptor. The run's supervisor
// thread flushes at least every second, so a killed run loses at most the last second. A reader
// tolerates a torn last line (a crash mid-write) and reports any other bad line by file and line.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

class MetricLog {
 public:
  explicit MetricLog(std::string path);
  ~MetricLog();
  MetricLog(const MetricLog&) = delete;
  MetricLog& operator=(const MetricLog&) = delete;

  // `step` nullopt: one more than this key's previous step (0 for the first).
  void log(const std::string& key, double value, std::optional<int64_t> step, double unix_time);
  void flush();
  // Last value and step logged per key, for the run record.
  json last() const;
  const std::string& path() const { return path_; }
  size_t pending_bytes() const;

 private:
  void flush_locked();
  std::string path_;
  int fd_ = -1;
  mutable std::mutex mutex_;
  std::string buffer_;
  struct Last {
    double value = 0;
    int64_t step = -1;
    std::string escaped_key;  // the key as a JSON string, formatted once
  };
  std::map<std::string, Last, std::less<>> last_;
};

struct MetricSeries {
  // key -> [[step, value, t], ...] in file order
  json series = json::object();
  // key -> {"value":..., "step":...} of the last line per key
  json last = json::object();
  size_t lines = 0;
};

// Reads a metrics.jsonl. A torn last line is dropped silently (the writer was killed mid-write);
// other unreadable lines are skipped and described in `warnings` as "<file>:<line>: <reason>".
MetricSeries read_metric_series(const std::string& path, std::vector<std::string>& warnings);

}  // namespace codedag::store
