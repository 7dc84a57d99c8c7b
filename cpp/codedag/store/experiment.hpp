#pragma once
// One run of an experiment, seen from the process doing it: allocates its test_name, writes
// run.json, keeps the lease and the metric log, and records how it ended. The Python
// codedag.Experiment is a thin face over this class.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/store/git_snapshot.hpp"
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
};

// Statuses a run can end with; "running" while it lives and "dead" are set by the store.
bool is_end_status(const std::string& status);

class Experiment {
 public:
  Experiment(std::string name, std::string home = "");
  ~Experiment();  // an experiment destroyed while running ends as "failed" (never left "running")
  Experiment(const Experiment&) = delete;
  Experiment& operator=(const Experiment&) = delete;

  void start(const StartOptions& options = {});
  // Takes over a run that a launcher created for this process (a sweep cell, a DDP rank) instead
  // of allocating a new one: `id` comes from CODEDAG_RUN_ID. The run must be queued or running;
  // it becomes this process's (extra fields merged, heartbeat started) and keeps its name, which
  // replaces this Experiment's. StateError when it has ended, NotFoundError when it is unknown.
  void adopt(const std::string& id, const StartOptions& options = {});
  // status: finished | failed | killed | interrupted. details merged into run.json (exception, signal).
  void end(const std::string& status, const json& details = json::object());

  bool running() const { return started_ && !ended_; }
  bool started() const { return started_; }
  const std::string& name() const { return name_; }
  const std::string& test_name() const;
  std::string info_dir() const;
  std::string blob_dir() const;
  std::string cache_dir() const;
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
  json record() const;
  Store& store() { return store_; }

 private:
  void require_running(const char* what) const;
  json update(const std::function<void(json&)>& change);
  std::string name_;
  std::string test_name_;
  Store store_;
  bool started_ = false;
  bool ended_ = false;
  std::map<std::string, json> best_;  // key -> {"value", "cmp", ...}
  std::unique_ptr<MetricLog> log_;
  std::unique_ptr<Supervisor> supervisor_;
  std::string cwd_;
};

}  // namespace codedag::store
