#pragma once
// Metric series for charts, at most P buckets per series however many points were logged:
// the x range is cut into P equal-width buckets (one per pixel column when P is the chart's
// width) and each bucket keeps its min, max and last value, its first and last x, and how many
// points and non-finite values (NaN/inf are logged as null) fell into it. A spike or a NaN
// therefore always shows; a chart draws a min-max band and the line through the last values.
//
// The points come from a run's metrics.jsonl, read through MetricCache: parsed once, then only
// the bytes appended since the last read (a live run's file grows by tailing, never re-read).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::server {

// One key's points in step order (stable: equal steps keep file order).
struct SeriesPoints {
  std::vector<double> step;
  std::vector<double> value;  // NaN where the line said null
  std::vector<double> time;   // unix seconds; NaN when absent
  bool sorted = true;         // appended steps never went back
};

struct Bucket {
  double x_first = 0, x_last = 0;
  double min = 0, max = 0, last = 0;  // over the finite values; last: the bucket's last finite value
  size_t count = 0;                   // points in the bucket
  size_t non_finite = 0;              // of them, null (NaN/inf) values
};

struct BucketedSeries {
  std::string key;
  size_t raw_points = 0;       // points of the series in the file
  size_t points_in_range = 0;  // of them, within [from, to]
  std::vector<Bucket> buckets;
  double last_time = 0;  // time of the series' newest point (0: none)
};

inline constexpr size_t kMaxBuckets = 20000;

// Downsamples `points` within [from, to] (unbounded when absent) into at most `buckets` buckets.
BucketedSeries bucket_series(const std::string& key, const SeriesPoints& points, size_t buckets,
                             std::optional<double> from, std::optional<double> to);

json to_json(const BucketedSeries& s);

// What one metrics file holds, kept up to date by reading appended bytes.
struct MetricFile {
  std::map<std::string, SeriesPoints> series;
  uint64_t offset = 0;   // bytes consumed: up to the end of the last complete line
  uint64_t inode = 0;    // the file read (a replaced file is read again from the start)
  size_t lines = 0;      // metric lines read
  size_t bad_lines = 0;  // lines that were not metric lines (skipped)
  size_t bytes = 0;      // memory the series take, about
};

class MetricCache {
 public:
  explicit MetricCache(size_t max_bytes = size_t{512} << 20);

  // Runs `use` on the up-to-date series of `path` under the cache's lock. A missing file is an
  // empty MetricFile. Files beyond the memory budget are dropped, least recently used first.
  template <class F>
  auto with_file(const std::string& path, F&& use) {
    std::lock_guard<std::mutex> lock(mutex_);
    return use(static_cast<const MetricFile&>(refresh_locked(path)));
  }
  size_t files() const;

 private:
  MetricFile& refresh_locked(const std::string& path);
  mutable std::mutex mutex_;
  size_t max_bytes_;
  uint64_t clock_ = 0;
  struct Entry {
    MetricFile file;
    uint64_t used = 0;
  };
  std::map<std::string, Entry> entries_;
};

// Parses complete lines of `chunk` (bytes of a metrics.jsonl starting at a line boundary) into
// `file`; returns how many bytes were consumed (a trailing partial line is left for later).
size_t append_metric_lines(MetricFile& file, const std::string& chunk);

}  // namespace codedag::server
