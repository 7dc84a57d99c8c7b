#include "codedag/server/event_feed.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "codedag/server/metric_buckets.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/layout.hpp"
#include "codedag/store/sqlite_query.hpp"

namespace codedag::server {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

EventFeed::EventFeed(const std::string& home, std::string index_path, EventFeedOptions options)
    : store_(home), index_path_(std::move(index_path)), options_(options) {}

EventFeed::~EventFeed() { stop(); }

void EventFeed::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void EventFeed::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

long long EventFeed::seq() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seq_;
}

void EventFeed::publish(json event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    event["seq"] = ++seq_;
    events_.emplace_back(seq_, std::move(event));
    while (events_.size() > options_.ring) events_.pop_front();
  }
  changed_.notify_all();
}

void EventFeed::keep_watching() {
  std::lock_guard<std::mutex> lock(mutex_);
  last_asked_ = now_seconds();
}

json EventFeed::wait(long long since, double wait_seconds) {
  std::unique_lock<std::mutex> lock(mutex_);
  last_asked_ = now_seconds();
  auto collect = [&]() {
    json out = json{{"seq", seq_}, {"events", json::array()}, {"reset", false}};
    // A page from before a restart (since > seq) or one that fell behind the ring starts over.
    if (since > seq_ || (!events_.empty() && since < events_.front().first - 1)) {
      out["reset"] = true;
      return out;
    }
    for (const auto& [n, e] : events_)
      if (n > since) out["events"].push_back(e);
    return out;
  };
  json out = collect();
  if (!out["events"].empty() || out["reset"].get<bool>() || wait_seconds <= 0) return out;
  changed_.wait_for(lock, std::chrono::duration<double>(std::min(wait_seconds, 55.0)),
                    [&] { return stopping_ || seq_ > since; });
  return collect();
}

void EventFeed::loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait_for(lock, std::chrono::duration<double>(options_.poll_seconds), [&] { return stopping_; });
      if (stopping_) return;
      if (now_seconds() - last_asked_ > options_.idle_after) continue;  // nobody is looking
    }
    try {
      poll();
    } catch (const std::exception& e) {
      publish(json{{"type", "error"}, {"message", e.what()}});
    }
  }
}

void EventFeed::poll() {
  std::lock_guard<std::mutex> guard(poll_mutex_);
  const double now = now_seconds();
  if (now - last_sync_ >= sync_every_) {
    last_sync_ = now;
    // Files changed behind the index (copied, restored), and runs whose process died: the same
    // work `codedag ls` does before it lists.
    std::vector<std::string> warnings;
    store::RunFilter running;
    running.index.status = "running";
    store_.list_rows(running, &warnings, true);
    // A walk of 100k run directories takes a good part of a second: the next one waits long
    // enough that syncing takes at most max_sync_share of the time (small stores keep 2 s).
    const double took = now_seconds() - now;
    sync_every_ = options_.sync_seconds <= 0 ? 0 : std::max(options_.sync_seconds, took / options_.max_sync_share);
  }
  if (!reader_) reader_ = std::make_unique<store::SqlReader>(index_path_);
  store::SqlReader& reader = *reader_;
  const long long version = reader.data_version();
  if (!primed_) {  // start from now: no flood of old changes
    store::SqlRows m(reader, "SELECT coalesce(max(file_mtime), 0) FROM runs");
    mtime_mark_ = m.next() ? m.int64(0) : 0;
  } else if (version != data_version_) {
    store::SqlRows rows(reader,
                        "SELECT test_name, name, status, file_mtime, deleted FROM runs WHERE file_mtime > ?1 "
                        "ORDER BY file_mtime LIMIT 1000",
                        {mtime_mark_});
    while (rows.next()) {
      mtime_mark_ = std::max(mtime_mark_, rows.int64(3));
      publish(json{{"type", "run"},
                   {"test_name", rows.text(0)},
                   {"name", rows.text(1)},
                   {"status", rows.text(2)},
                   {"deleted", rows.int64(4) != 0}});
    }
  }
  data_version_ = version;

  // Running runs: tail their metric files and read their heartbeats.
  const store::Layout& layout = store_.layout();
  std::map<std::string, Tail> still_running;
  store::SqlRows running(reader, "SELECT test_name, name FROM runs WHERE status = 'running' AND deleted = 0");
  while (running.next()) {
    const std::string test_name = running.text(0);
    const std::string dir = layout.info_dir(running.text(1), test_name);
    Tail tail;
    const auto known = tails_.find(test_name);
    const bool first_look = known == tails_.end() || !primed_;
    if (!first_look) tail = known->second;
    const std::string path = dir + "/" + store::kMetricsFile;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0) {
      const uint64_t size = static_cast<uint64_t>(st.st_size);
      if (static_cast<uint64_t>(st.st_ino) != tail.inode || size < tail.offset) {
        tail.inode = static_cast<uint64_t>(st.st_ino);
        tail.offset = first_look ? size : 0;
      }
      if (first_look) tail.offset = size;  // only what comes from now on
      if (size > tail.offset) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(size - tail.offset, options_.max_tail_bytes));
        std::string chunk(want, '\0');
        const ssize_t got = ::pread(fd, chunk.data(), want, static_cast<off_t>(tail.offset));
        chunk.resize(got > 0 ? static_cast<size_t>(got) : 0);
        MetricFile appended;
        size_t used = append_metric_lines(appended, chunk);
        if (used == 0 && chunk.size() == options_.max_tail_bytes) used = chunk.size();  // one huge line: skip it
        tail.offset += used;
        if (!appended.series.empty()) {
          json keys = json::object();
          for (const auto& [key, s] : appended.series) {
            const double v = s.value.empty() ? NAN : s.value.back();
            keys[key] = json{{"points", s.step.size()},
                             {"step", s.step.empty() ? json(nullptr) : json(s.step.back())},
                             {"value", std::isfinite(v) ? json(v) : json(nullptr)}};
          }
          publish(json{{"type", "metrics"}, {"test_name", test_name}, {"keys", std::move(keys)}});
        }
      }
    }
    if (fd >= 0) ::close(fd);
    const store::Heartbeat hb = store::read_heartbeat(dir);
    if (hb.beat_at > 0 && hb.beat_at != tail.beat_at) {
      if (!first_look)
        publish(json{
            {"type", "heartbeat"}, {"test_name", test_name}, {"beat_at", hb.beat_at}, {"lease_until", hb.lease_until}});
      tail.beat_at = hb.beat_at;
    }
    still_running[test_name] = tail;
  }
  tails_ = std::move(still_running);
  primed_ = true;
}

}  // namespace codedag::server
