#pragma once
// One run of an experiment, seen from the process doing it: claims its test_name, writes
// run.json, keeps the lease and the metric log, and records how it ended. The Python
// codedag.Experiment is a thin face over this class.
//
// A training process only writes files (run.json, metrics.jsonl, heartbeat.json): it never opens
// the SQLite index, holds no connection and starts no thread beyond the run's supervisor, which
// ends with the run. Failing bookkeeping never interrupts training: a record update or metric line
// that cannot be written (full disk, I/O error) is kept in memory, warned about once, retried at
// the next change, and reported by write_problems() at end().
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/store/git_snapshot.hpp"
#include "codedag/store/shard.hpp"
#include "codedag/store/store.hpp"

namespace codedag::store {

class MetricLog;
class Supervisor;

struct StartOptions {
  std::vector<std::string> argv;  // empty: this process's argv (/proc/self/cmdline)
  std::string executable;         // empty: /proc/self/exe
  std::string cwd;                // empty: the current directory
  json extra = json::object();    // merged into run.json (e.g. versions, script_argv from Python)
  bool heartbeat = true;          // start the supervisor thread (lease + metric flushes)
  double lease_seconds = 0;       // 0: default_lease_seconds()
  double flush_interval = 0.5;    // metric log flush period, at most 1 s
  // adopt(): a torchelastic restart (TORCHELASTIC_RESTART_COUNT > 0) continues its job's run as
  // attempt n, whatever the previous attempt ended as; the previous outcome goes to `attempts`.
  int attempt = 0;
};

// Statuses a run can end with; "running" while it lives and "dead" are set by the store.
bool is_end_status(const std::string& status);

// What could not be written (yet) during a run; empty() when nothing failed.
struct WriteProblems {
  std::string error;                  // the last error met
  size_t record_changes_pending = 0;  // run.json changes kept in memory
  size_t metric_bytes_pending = 0;    // metric lines kept in memory
  size_t metric_lines_dropped = 0;    // past the in-memory limit
  std::string heartbeat_error;
  bool empty() const { return error.empty() && heartbeat_error.empty(); }
  json to_json() const;
};

class Experiment {
 public:
  Experiment(std::string name, std::string home = "");
  ~Experiment();  // an experiment destroyed while running ends as "failed" (never left "running")
  Experiment(const Experiment&) = delete;
  Experiment& operator=(const Experiment&) = delete;

  // A view of a run recorded earlier (or by another process): identity, directories and record,
  // tags and notes; it does not record metrics. `id` as Store::resolve accepts it.
  static std::unique_ptr<Experiment> open_existing(const std::string& id, std::string home = "");

  void start(const StartOptions& options = {});
  // Takes over a run that a launcher created for this process (a sweep cell, a DDP rank) instead
  // of allocating a new one: `id` comes from CODEDAG_RUN_ID. The run must be queued or running;
  // it becomes this process's (extra fields merged, heartbeat started) and keeps its name, which
  // replaces this Experiment's. StateError when it has ended, NotFoundError when it is unknown.
  void adopt(const std::string& id, const StartOptions& options = {});
  // Rank k > 0 of a distributed job joins the run its rank 0 created (shard.hpp): its metric log,
  // lease and shard.json live in <info_dir>/shards/rank<k>/; dump_info, dump_metric, tags and notes
  // still go to the run's record (under its lock). Any run but a removed one: rank 0 may have
  // finished, or another rank failed, before this rank started.
  void join_shard(const std::string& id, const ShardStart& shard, const StartOptions& options = {});
  // Rank 0, after start() or adopt(): records its shard (its metric log and lease stay the run's).
  void record_shard(const ShardStart& shard);
  // The rank this process records as, -1 when the run is not sharded.
  int rank() const { return rank_; }
  // status: finished | failed | killed | interrupted. details merged into run.json (exception, signal).
  // In a sharded run, rank k > 0 ends its shard (a failure marks the run failed, shard.hpp); rank 0
  // ends the run, which stays failed when another rank failed first (that rank's traceback is kept)
  // and is marked failed by a rank whose process is gone without ending its shard.
  // Write failures do not throw: see write_problems().
  void end(const std::string& status, const json& details = json::object());

  bool running() const { return started_ && !ended_; }
  bool started() const { return started_; }
  bool is_view() const { return view_; }
  const std::string& name() const { return name_; }
  const std::string& test_name() const;
  std::string info_dir() const;
  std::string blob_dir() const;
  std::string cache_dir() const;
  std::string heartbeat_file() const;
  const std::string& home() const { return store_.layout().home(); }

  void dump_info(const std::string& key, const json& value);
  // Records `value` for `key` if it beats the best so far in direction cmp ("max" | "min"; the
  // first call fixes it) and returns the best {"value", "cmp", ...extra}.
  json dump_metric(const std::string& key, double value, const std::string& cmp, const json& extra);
  void log_metric(const std::string& key, double value, std::optional<int64_t> step);
  void flush_metrics();
  void add_tag(const std::string& tag);
  void add_note(const std::string& note);
  // Copies `path` into <info_dir>/attachments/<kind>/ and records it under attachments.<kind>.
  std::string attach(const std::string& kind, const std::string& path);
  // Snapshots the git working tree of the run's cwd (GitCommit hook) and records it.
  json snapshot_code(const SnapshotOptions& options = {});
  // Links this run to the one it re-runs: properties.rerun here, properties.rerun_at there.
  void link_rerun(const std::string& from_id);
  // Merges `fields` into run.json (hooks' on_end fields, e.g. versions imported since start).
  void merge_fields(const json& fields);
  // The record: run.json as on disk, with changes still waiting to be written applied on top.
  json record() const;
  WriteProblems write_problems() const;
  Store& store() { return store_; }

 private:
  void require_running(const char* what) const;
  void require_started(const char* what) const;
  // Applies `change` to run.json; when the file cannot be written the change waits in memory and
  // is applied first at the next attempt. Never throws for I/O.
  void update(std::function<void(json&)> change);
  void start_logging(const std::string& metrics_dir, const StartOptions& o);
  void end_shard_side(const std::string& status, const json& details, const json& last);
  void mark_vanished_ranks();
  bool write_pending();
  std::string name_;
  std::string test_name_;
  Store store_;
  bool started_ = false;
  bool ended_ = false;
  bool view_ = false;
  std::map<std::string, json> best_;  // key -> {"value", "cmp", ...}
  std::unique_ptr<MetricLog> log_;
  std::unique_ptr<Supervisor> supervisor_;
  std::string cwd_;
  std::vector<std::function<void(json&)>> pending_;  // record changes not written yet
  std::string record_error_;
  bool warned_ = false;
  int rank_ = -1;                 // sharded runs: this process's rank
  WriteProblems ended_problems_;  // what the log and heartbeat reported when the run ended
};

}  // namespace codedag::store
