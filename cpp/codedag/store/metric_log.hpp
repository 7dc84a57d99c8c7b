#pragma once
// Metric series (log_metric) as append-only JSON Lines, <info_dir>/metrics.jsonl:
//   {"key":"loss","step":12,"value":0.25,"t":1700000000.5}
// Logging appends a formatted line to an in-memory buffer (about a microsecond, no system call);
// flush() appends the buffer with one write(2) on an O_APPEND descriptor. The run's supervisor
// thread flushes at least every second, so a killed run loses at most the last second. A reader
// tolerates a torn last line (a crash mid-write) and reports any other bad line by file and line.
//
// Bookkeeping never stops training: when the disk is full or failing (ENOSPC, EIO, EDQUOT ...),
// flush() keeps the lines in memory (up to kMaxPendingBytes; lines past that are counted as
// dropped), warns once on stderr, retries at every later flush, and health() reports it at end().
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

class MetricLog {
 public:
  // Lines kept in memory while the file cannot be written.
  static constexpr size_t kMaxPendingBytes = 64u << 20;

  explicit MetricLog(std::string path);
  ~MetricLog();
  MetricLog(const MetricLog&) = delete;
  MetricLog& operator=(const MetricLog&) = delete;

  // `step` nullopt: one more than this key's previous step (0 for the first).
  void log(const std::string& key, double value, std::optional<int64_t> step, double unix_time);
  // Appends what is buffered; returns false (and keeps it) when the file cannot be written. Never throws.
  bool flush();
  // Last value and step logged per key, for the run record.
  json last() const;
  const std::string& path() const { return path_; }
  size_t pending_bytes() const;

  struct Health {
    std::string error;  // the last write error ("" when every flush succeeded)
    size_t failed_flushes = 0;
    size_t pending_bytes = 0;  // not yet on disk
    size_t dropped_lines = 0;  // past kMaxPendingBytes while the disk failed
  };
  Health health() const;

 private:
  bool flush_locked();
  std::string path_;
  int fd_ = -1;
  mutable std::mutex mutex_;
  std::string buffer_;
  Health health_;
  bool warned_ = false;
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

// Longest metrics.jsonl line read; longer lines are reported as bad.
inline constexpr size_t kMaxMetricLineBytes = 1u << 20;

// Reads a metrics.jsonl (streamed: the file may be far larger than one line). A torn last line is
// dropped silently (the writer was killed mid-write); other unreadable lines (not JSON, not a
// metric, too long, nested, not UTF-8) are skipped and described in `warnings` as
// "<file>:<line>: <reason>" (at most 20, then a count).
MetricSeries read_metric_series(const std::string& path, std::vector<std::string>& warnings);
// The same over text already in memory (`origin` names it in warnings).
MetricSeries parse_metric_series(std::string_view text, const std::string& origin, std::vector<std::string>& warnings);

}  // namespace codedag::store
