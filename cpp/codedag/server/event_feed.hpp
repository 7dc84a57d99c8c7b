#pragma once
// Live changes for the panel, served by long polling (GET /api/events?since=SEQ&wait=S): a watcher
// thread, awake only while a page has asked in the last minute, looks once a second at
//   - index rows whose run.json changed (an indexed mtime column, migration 4): "run" events with
//     the new status; the index is written by the runs themselves, so this sees starts and ends;
//   - each running run's metrics.jsonl, tailed from the byte offset read last time: "metrics"
//     events with how many points each key gained and its newest value;
//   - each running run's heartbeat: "heartbeat" events (the page marks a run stale after two
//     missed beats);
// and every 2 s (longer for stores so large that a sync takes more than 5% of the time) brings the
// index in line with the files and marks runs dead whose lease expired
// and whose process is gone (the same check as `codedag ls`). Events carry increasing sequence
// numbers and live in a bounded ring; a page that fell behind the ring gets "reset" and reloads.
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "codedag/common/json_file.hpp"
#include "codedag/store/sqlite_query.hpp"
#include "codedag/store/store.hpp"

namespace codedag::server {

struct EventFeedOptions {
  double poll_seconds = 1.0;
  // Index sync with the files and liveness check. Runs write files only (never the index), so this
  // is how new runs, status changes and tags reach the panel: a readdir + stat per run.
  double sync_seconds = 2.0;
  // At most this share of the time goes to syncing: a 100k-run store (a walk of ~0.5 s) syncs every
  // ~10 s instead of every 2 s, so the watcher does not slow the requests down. sync_seconds 0: every poll.
  double max_sync_share = 0.05;
  double idle_after = 60.0;         // no page asked for this long: stop polling
  size_t ring = 2000;               // events kept
  size_t max_tail_bytes = 1 << 20;  // read at most this much of one file per poll
};

class EventFeed {
 public:
  // The watcher keeps its own Store of `home` (its own index connection), so a sync of 100k run
  // directories never holds up the requests served from the panel's Store meanwhile.
  EventFeed(const std::string& home, std::string index_path, EventFeedOptions options = {});
  ~EventFeed();
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  void start();
  void stop();

  // Events after `since`, waiting up to `wait_seconds` for one: {"seq", "events": [...], "reset"}.
  json wait(long long since, double wait_seconds);
  // A page is looking (any API request): keep the watcher polling and syncing for idle_after.
  void keep_watching();
  // One round of looking (the watcher thread calls it; tests call it directly).
  void poll();
  long long seq() const;

 private:
  void publish(json event);
  void loop();

  store::Store store_;  // used by poll() only
  std::string index_path_;
  EventFeedOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::pair<long long, json>> events_;
  long long seq_ = 0;
  double last_asked_ = 0;
  bool stopping_ = false;
  std::thread thread_;

  // Watcher state (only poll() touches it; poll() runs on one thread at a time).
  std::mutex poll_mutex_;
  // One connection for the feed's life: PRAGMA data_version only compares within one connection.
  std::unique_ptr<store::SqlReader> reader_;
  bool primed_ = false;
  long long data_version_ = -1;
  long long mtime_mark_ = 0;
  double last_sync_ = 0;
  double sync_every_ = 0;  // options_.sync_seconds, longer when a sync takes long (see poll())
  struct Tail {
    uint64_t offset = 0;
    uint64_t inode = 0;
    double beat_at = 0;
  };
  std::map<std::string, Tail> tails_;  // test_name -> what was read of it
};

}  // namespace codedag::server
