#include "codedag/store/metric_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"

namespace codedag::store {
namespace {

constexpr size_t kFlushAtBytes = 1 << 20;  // flush early when a burst fills the buffer

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";  // JSON has no NaN/inf
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Collects per-line problems of one file, capped so a garbage file makes one readable warning.
class LineWarnings {
 public:
  LineWarnings(const std::string& origin, std::vector<std::string>& out) : origin_(origin), out_(out) {}
  ~LineWarnings() {
    if (count_ > kShown) out_.push_back(origin_ + ": " + std::to_string(count_ - kShown) + " more bad lines skipped");
  }
  void add(size_t line, const std::string& why) {
    if (++count_ <= kShown) out_.push_back(origin_ + ":" + std::to_string(line) + ": " + why + ", skipped");
  }

 private:
  static constexpr size_t kShown = 20;
  const std::string& origin_;
  std::vector<std::string>& out_;
  size_t count_ = 0;
};

// One line into the series; `torn`: the last line of the file without its newline.
void take_line(std::string_view line, size_t line_no, bool torn, MetricSeries& out, LineWarnings& bad) {
  if (line.empty()) return;
  JsonLimits limits;
  limits.max_depth = 4;
  limits.max_bytes = kMaxMetricLineBytes;
  std::string why;
  auto j = try_parse_json(line, limits, &why);
  if (!j) {
    if (!torn) bad.add(line_no, "not a metric line (" + why.substr(why.find(": ") + 2) + ")");
    return;
  }
  const auto key = j->find("key");
  const auto value = j->find("value");
  const bool ok = j->is_object() && key != j->end() && key->is_string() && value != j->end() &&
                  (value->is_number() || value->is_null());
  if (!ok) {
    if (!torn) bad.add(line_no, "not a metric line (needs a string \"key\" and a number \"value\")");
    return;
  }
  json step = j->value("step", json(nullptr));
  if (!step.is_number() && !step.is_null()) step = nullptr;
  json t = j->value("t", json(nullptr));
  if (!t.is_number()) t = nullptr;
  const std::string& k = key->get_ref<const std::string&>();
  out.series[k].push_back(json::array({step, *value, t}));
  out.last[k] = json{{"value", *value}, {"step", step}};
  ++out.lines;
}

}  // namespace

MetricLog::MetricLog(std::string path) : path_(std::move(path)) {
  // Opened at the first flush (and again after a failure): a full disk at start must not stop the run.
}

MetricLog::~MetricLog() {
  flush();
  if (fd_ >= 0) ::close(fd_);
}

void MetricLog::log(const std::string& key, double value, std::optional<int64_t> step, double unix_time) {
  std::lock_guard lock(mutex_);
  auto it = last_.find(key);
  if (it == last_.end()) {
    it = last_.emplace(key, Last{}).first;
    it->second.escaped_key = dump_json(json(key));
  }
  Last& l = it->second;
  l.step = step ? *step : l.step + 1;
  l.value = value;
  if (buffer_.size() >= kMaxPendingBytes) {
    ++health_.dropped_lines;  // the disk has been failing for long: keep the last values, not every line
    return;
  }
  buffer_ += "{\"key\":";
  buffer_ += l.escaped_key;
  buffer_ += ",\"step\":";
  append_int(buffer_, l.step);
  buffer_ += ",\"value\":";
  append_number(buffer_, value);
  buffer_ += ",\"t\":";
  append_number(buffer_, unix_time);
  buffer_ += "}\n";
  if (buffer_.size() >= kFlushAtBytes && health_.error.empty()) flush_locked();
}

bool MetricLog::flush() {
  std::lock_guard lock(mutex_);
  return flush_locked();
}

bool MetricLog::flush_locked() {
  if (buffer_.empty()) return true;
  std::string error;
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) error = std::string("cannot open: ") + std::strerror(errno);
  }
  size_t done = 0;
  while (error.empty() && done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      break;
    }
    done += static_cast<size_t>(n);
  }
  buffer_.erase(0, done);
  health_.pending_bytes = buffer_.size();
  if (error.empty()) return true;
  health_.error = error;
  ++health_.failed_flushes;
  if (!warned_) {
    warned_ = true;
    term::Printer(stderr).warn("codedag: cannot append to " + term::printable(path_) + " (" + error +
                               "); metric lines are kept in memory and retried, training goes on");
  }
  return false;
}

size_t MetricLog::pending_bytes() const {
  std::lock_guard lock(mutex_);
  return buffer_.size();
}

MetricLog::Health MetricLog::health() const {
  std::lock_guard lock(mutex_);
  Health h = health_;
  h.pending_bytes = buffer_.size();
  return h;
}

json MetricLog::last() const {
  std::lock_guard lock(mutex_);
  json out = json::object();
  for (const auto& [key, l] : last_)
    out[key] = json{{"value", std::isfinite(l.value) ? json(l.value) : json(nullptr)}, {"step", l.step}};
  return out;
}

MetricSeries parse_metric_series(std::string_view text, const std::string& origin, std::vector<std::string>& warnings) {
  MetricSeries out;
  LineWarnings bad(origin, warnings);
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const size_t nl = text.find('\n', pos);
    const bool torn = nl == std::string_view::npos;  // no newline: the last write did not finish
    take_line(text.substr(pos, torn ? std::string_view::npos : nl - pos), line_no, torn, out, bad);
    pos = torn ? text.size() : nl + 1;
  }
  return out;
}

MetricSeries read_metric_series(const std::string& path, std::vector<std::string>& warnings) {
  MetricSeries out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno != ENOENT) warnings.push_back(path + ": cannot open (" + std::strerror(errno) + ")");
    return out;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    warnings.push_back(path + ": not a regular file, skipped");
    return out;
  }
  LineWarnings bad(path, warnings);
  std::string carry;      // the unfinished line of the previous chunk
  bool skipping = false;  // inside a line longer than kMaxMetricLineBytes
  size_t line_no = 0;
  char chunk[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      warnings.push_back(path + ": read error (" + std::strerror(errno) + "), the rest is skipped");
      break;
    }
    if (n == 0) break;
    std::string_view data(chunk, static_cast<size_t>(n));
    while (!data.empty()) {
      const size_t nl = data.find('\n');
      if (nl == std::string_view::npos) {
        if (!skipping) carry.append(data);
        if (carry.size() > kMaxMetricLineBytes) {
          skipping = true;
          carry.clear();
        }
        break;
      }
      ++line_no;
      if (skipping) {
        bad.add(line_no, "longer than " + std::to_string(kMaxMetricLineBytes) + " bytes");
        skipping = false;
      } else {
        carry.append(data.substr(0, nl));
        if (carry.size() > kMaxMetricLineBytes)
          bad.add(line_no, "longer than " + std::to_string(kMaxMetricLineBytes) + " bytes");
        else
          take_line(carry, line_no, false, out, bad);
      }
      carry.clear();
      data.remove_prefix(nl + 1);
    }
  }
  if (!carry.empty() && !skipping) take_line(carry, line_no + 1, true, out, bad);
  return out;
}

}  // namespace codedag::store
