#include "codedag/store/metric_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"

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

}  // namespace

MetricLog::MetricLog(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_system_error("cannot open the metric log", path_);
}

MetricLog::~MetricLog() {
  try {
    flush();
  } catch (...) {
  }
  ::close(fd_);
}

void MetricLog::log(const std::string& key, double value, std::optional<int64_t> step, double unix_time) {
  std::lock_guard lock(mutex_);
  auto it = last_.find(key);
  if (it == last_.end()) {
    it = last_.emplace(key, Last{}).first;
    it->second.escaped_key = json(key).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  Last& l = it->second;
  l.step = step ? *step : l.step + 1;
  l.value = value;
  buffer_ += "{\"key\":";
  buffer_ += l.escaped_key;
  buffer_ += ",\"step\":";
  append_int(buffer_, l.step);
  buffer_ += ",\"value\":";
  append_number(buffer_, value);
  buffer_ += ",\"t\":";
  append_number(buffer_, unix_time);
  buffer_ += "}\n";
  if (buffer_.size() >= kFlushAtBytes) flush_locked();
}

void MetricLog::flush() {
  std::lock_guard lock(mutex_);
  flush_locked();
}

void MetricLog::flush_locked() {
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      buffer_.erase(0, done);
      throw_system_error("cannot append to the metric log", path_);
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

size_t MetricLog::pending_bytes() const {
  std::lock_guard lock(mutex_);
  return buffer_.size();
}

json MetricLog::last() const {
  std::lock_guard lock(mutex_);
  json out = json::object();
  for (const auto& [key, l] : last_)
    out[key] = json{{"value", std::isfinite(l.value) ? json(l.value) : json(nullptr)}, {"step", l.step}};
  return out;
}

MetricSeries read_metric_series(const std::string& path, std::vector<std::string>& warnings) {
  MetricSeries out;
  std::string text;
  try {
    text = read_file(path);
  } catch (const NotFoundError&) {
    return out;
  }
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const size_t nl = text.find('\n', pos);
    const bool torn = nl == std::string::npos;  // no newline: the last write did not finish
    const std::string line = text.substr(pos, torn ? std::string::npos : nl - pos);
    pos = torn ? text.size() : nl + 1;
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    const bool ok = !j.is_discarded() && j.is_object() && j.contains("key") && j["key"].is_string() &&
                    j.contains("value") && (j["value"].is_number() || j["value"].is_null());
    if (!ok) {
      if (!torn) warnings.push_back(path + ":" + std::to_string(line_no) + ": not a metric line, skipped");
      continue;
    }
    const std::string key = j["key"].get<std::string>();
    const json step = j.value("step", json(nullptr));
    out.series[key].push_back(json::array({step, j["value"], j.value("t", json(nullptr))}));
    out.last[key] = json{{"value", j["value"]}, {"step", step}};
    ++out.lines;
  }
  return out;
}

}  // namespace codedag::store
