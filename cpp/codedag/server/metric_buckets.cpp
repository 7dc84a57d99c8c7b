#include "codedag/server/metric_buckets.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "codedag/common/error.hpp"

namespace codedag::server {
namespace {

constexpr size_t kMaxLineBytes = 1 << 20;  // a metric line is ~60 bytes; longer ones are skipped
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void sort_by_step(SeriesPoints& s) {
  std::vector<size_t> order(s.step.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.step[a] < s.step[b]; });
  auto permute = [&](std::vector<double>& v) {
    std::vector<double> out(v.size());
    for (size_t i = 0; i < order.size(); ++i) out[i] = v[order[i]];
    v.swap(out);
  };
  permute(s.step);
  permute(s.value);
  permute(s.time);
  s.sorted = true;
}

}  // namespace

BucketedSeries bucket_series(const std::string& key, const SeriesPoints& s, size_t buckets, std::optional<double> from,
                             std::optional<double> to) {
  BucketedSeries out;
  out.key = key;
  out.raw_points = s.step.size();
  for (double t : s.time)
    if (std::isfinite(t)) out.last_time = std::max(out.last_time, t);
  buckets = std::clamp<size_t>(buckets, 1, kMaxBuckets);
  const auto begin = from ? std::lower_bound(s.step.begin(), s.step.end(), *from) : s.step.begin();
  const auto end = to ? std::upper_bound(s.step.begin(), s.step.end(), *to) : s.step.end();
  if (begin >= end) return out;
  const size_t i0 = static_cast<size_t>(begin - s.step.begin()), i1 = static_cast<size_t>(end - s.step.begin());
  out.points_in_range = i1 - i0;
  const double lo = s.step[i0], hi = s.step[i1 - 1];
  const double width = hi > lo ? (hi - lo) / static_cast<double>(buckets) : 1.0;
  Bucket cur;
  long current = -1;
  bool has_finite = false;
  auto flush = [&] {
    if (current < 0) return;
    if (!has_finite) cur.min = cur.max = cur.last = kNaN;
    out.buckets.push_back(cur);
  };
  for (size_t i = i0; i < i1; ++i) {
    // With at most `buckets` points every point is its own bucket (exact values, nothing merged).
    const long b = out.points_in_range <= buckets
                       ? static_cast<long>(i - i0)
                       : std::min(static_cast<long>(buckets) - 1, static_cast<long>((s.step[i] - lo) / width));
    if (b != current) {
      flush();
      current = b;
      cur = Bucket{};
      cur.x_first = s.step[i];
      has_finite = false;
    }
    cur.x_last = s.step[i];
    ++cur.count;
    const double v = s.value[i];
    if (!std::isfinite(v)) {
      ++cur.non_finite;
      continue;
    }
    if (!has_finite) {
      cur.min = cur.max = v;
      has_finite = true;
    }
    cur.min = std::min(cur.min, v);
    cur.max = std::max(cur.max, v);
    cur.last = v;
  }
  flush();
  return out;
}

json to_json(const BucketedSeries& s) {
  // Compact rows: [x_first, x_last, min, max, last, count, non_finite]; null for a bucket of NaNs only.
  json rows = json::array();
  for (const Bucket& b : s.buckets) {
    auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
    rows.push_back(json::array({b.x_first, b.x_last, num(b.min), num(b.max), num(b.last), b.count, b.non_finite}));
  }
  return json{{"key", s.key},
              {"raw_points", s.raw_points},
              {"points_in_range", s.points_in_range},
              {"bucket_fields", json::array({"x_first", "x_last", "min", "max", "last", "count", "non_finite"})},
              {"buckets", std::move(rows)},
              {"last_time", s.last_time > 0 ? json(s.last_time) : json(nullptr)}};
}

size_t append_metric_lines(MetricFile& file, const std::string& chunk) {
  size_t pos = 0;
  std::map<std::string, SeriesPoints*> touched;
  while (pos < chunk.size()) {
    const size_t nl = chunk.find('\n', pos);
    if (nl == std::string::npos) break;  // a line still being written: read it next time
    const size_t len = nl - pos;
    if (len > 0 && len <= kMaxLineBytes) {
      // The common bounded parser; a metric line is a flat object, so a small nesting limit.
      const std::optional<json> parsed = try_parse_json(std::string_view(chunk.data() + pos, len), {8, kMaxLineBytes});
      const json j = parsed ? *parsed : json();
      const auto key = j.is_object() ? j.find("key") : j.end();
      const auto value = j.is_object() ? j.find("value") : j.end();
      if (j.is_object() && key != j.end() && key->is_string() && value != j.end() &&
          (value->is_number() || value->is_null())) {
        SeriesPoints& s = file.series[key->get<std::string>()];
        const auto step = j.find("step");
        const double x = step != j.end() && step->is_number() ? step->get<double>()
                         : s.step.empty()                     ? 0.0
                                                              : s.step.back() + 1;
        if (!s.step.empty() && x < s.step.back()) s.sorted = false;
        s.step.push_back(x);
        s.value.push_back(value->is_number() ? value->get<double>() : kNaN);
        const auto t = j.find("t");
        s.time.push_back(t != j.end() && t->is_number() ? t->get<double>() : kNaN);
        touched[key->get<std::string>()] = &s;
        ++file.lines;
        file.bytes += 3 * sizeof(double);
      } else {
        ++file.bad_lines;
      }
    } else if (len > 0) {
      ++file.bad_lines;
    }
    pos = nl + 1;
  }
  for (auto& [key, s] : touched)
    if (!s->sorted) sort_by_step(*s);
  return pos;
}

MetricCache::MetricCache(size_t max_bytes) : max_bytes_(max_bytes) {}

size_t MetricCache::files() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

MetricFile& MetricCache::refresh_locked(const std::string& path) {
  Entry& e = entries_[path];
  e.used = ++clock_;
  MetricFile& f = e.file;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    f = MetricFile{};  // no file (yet): no series
    return f;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw_system_error("cannot stat metrics file", path);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (static_cast<uint64_t>(st.st_ino) != f.inode || size < f.offset) {  // replaced or truncated
    f = MetricFile{};
    f.inode = static_cast<uint64_t>(st.st_ino);
  }
  // Read what was appended, in chunks, from the end of the last complete line.
  std::string chunk;
  while (f.offset < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(size - f.offset, 8u << 20));
    const size_t keep = chunk.size();
    chunk.resize(keep + want);
    const ssize_t got = ::pread(fd, chunk.data() + keep, want, static_cast<off_t>(f.offset + keep));
    if (got <= 0) {
      chunk.resize(keep);
      break;
    }
    chunk.resize(keep + static_cast<size_t>(got));
    const size_t used = append_metric_lines(f, chunk);
    f.offset += used;
    chunk.erase(0, used);
    if (chunk.size() > kMaxLineBytes) {  // one endless line: skip it rather than hold it
      f.offset += chunk.size();
      chunk.clear();
      ++f.bad_lines;
    }
    if (static_cast<size_t>(got) < want) break;
  }
  ::close(fd);
  // The memory budget: drop the least recently used other files.
  size_t total = 0;
  for (const auto& [p, en] : entries_) total += en.file.bytes;
  while (total > max_bytes_ && entries_.size() > 1) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->first != path && (victim == entries_.end() || it->second.used < victim->second.used)) victim = it;
    if (victim == entries_.end()) break;
    total -= victim->second.file.bytes;
    entries_.erase(victim);
  }
  return f;
}

}  // namespace codedag::server
