#include "codedag/store/experiment.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/inventory.hpp"
#include "codedag/store/metric_log.hpp"
#include "codedag/store/process_identity.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/run_ids.hpp"

namespace codedag::store {
namespace fs = std::filesystem;

namespace {

// Keys name JSON members, index columns and table cells: a NUL would cut them short in C APIs.
void check_key(const char* what, const std::string& key) {
  if (key.empty()) throw InputError(std::string(what) + ": the key is empty");
  if (key.find('\0') != std::string::npos)
    throw InputError(std::string(what) + "('" + term::printable(key) + "'): the key contains a NUL character");
}

}  // namespace

bool is_end_status(const std::string& s) {
  return s == "finished" || s == "failed" || s == "killed" || s == "interrupted";
}

json WriteProblems::to_json() const {
  return json{{"error", error},
              {"record_changes_pending", record_changes_pending},
              {"metric_bytes_pending", metric_bytes_pending},
              {"metric_lines_dropped", metric_lines_dropped},
              {"heartbeat_error", heartbeat_error}};
}

Experiment::Experiment(std::string name, std::string home) : name_(std::move(name)), store_(std::move(home)) {
  validate_experiment_name(name_);
}

Experiment::~Experiment() {
  if (running()) {
    try {
      end("failed", json{{"exception",
                          {{"type", "Abandoned"},
                           {"message",
                            "the Experiment object was destroyed "
                            "before end() was called"}}}});
    } catch (...) {
    }
  }
}

std::unique_ptr<Experiment> Experiment::open_existing(const std::string& id, std::string home) {
  Store store(home);
  const RunRef ref = store.resolve(id);
  auto e = std::make_unique<Experiment>(ref.name, std::move(home));
  e->test_name_ = ref.test_name;
  e->started_ = e->ended_ = e->view_ = true;
  return e;
}

const std::string& Experiment::test_name() const {
  if (!started_) throw StateError("experiment '" + name_ + "' has no test_name yet: call start() first");
  return test_name_;
}
std::string Experiment::info_dir() const { return store_.layout().info_dir(name_, test_name()); }
std::string Experiment::blob_dir() const { return store_.layout().blob_dir(name_, test_name()); }
std::string Experiment::cache_dir() const { return store_.layout().cache_dir(name_, test_name()); }
std::string Experiment::heartbeat_file() const { return info_dir() + "/" + kHeartbeatFile; }

void Experiment::require_started(const char* what) const {
  if (!started_) throw StateError(std::string(what) + ": experiment '" + name_ + "' is not started (call start())");
}

void Experiment::require_running(const char* what) const {
  require_started(what);
  if (view_)
    throw StateError(std::string(what) + ": this is a view of run " + name_ + "/" + test_name_ +
                     ", recorded by another process; start a new Experiment to record");
  if (ended_) throw StateError(std::string(what) + ": run " + test_name_ + " has already ended");
}

bool Experiment::write_pending() {
  if (pending_.empty()) return true;
  try {
    update_run(info_dir(), [&](json& r) {
      for (const auto& change : pending_) change(r);
    });
    pending_.clear();
    return true;
  } catch (const std::exception& e) {
    record_error_ = e.what();
    if (!warned_) {
      warned_ = true;
      term::Printer(stderr).warn("codedag: cannot write the record of run " + name_ + "/" + test_name_ + " (" +
                                 term::printable(e.what()) +
                                 "); changes are kept in memory and retried, training goes on");
    }
    return false;
  }
}

void Experiment::update(std::function<void(json&)> change) {
  pending_.push_back(std::move(change));
  write_pending();
}

void Experiment::start(const StartOptions& o) {
  if (started_) throw StateError("experiment '" + name_ + "' is already started as " + test_name_);
  const double now = unix_now();
  // Files only: the id is claimed with exclusive mkdirs (run_ids.hpp), never through the index.
  test_name_ = claim_run_id(store_.layout(), name_, now).test_name;
  started_ = true;
  cwd_ = o.cwd.empty() ? current_directory() : o.cwd;
  const ProcessIdentity self = self_identity();
  json run = json::object();
  run["schema"] = kRunSchema;
  run["name"] = name_;
  run["test_name"] = test_name_;
  run["status"] = "running";
  run["started_at"] = now;
  run["argv"] = o.argv.empty() ? process_argv() : o.argv;
  run["executable"] = o.executable.empty() ? process_executable() : o.executable;
  run["cwd"] = cwd_;
  run["host"] = self.host;
  run["user"] = user_name();
  run["pid"] = self.pid;
  run["process"] = self.to_json();
  run["inventory"] = machine_inventory();
  run["env"] = environment_subset();
  run["info"] = json::object();
  run["metrics"] = json::object();
  run["last"] = json::object();
  run["tags"] = json::array();
  run["notes"] = json::array();
  run["properties"] = json::object();
  run["attachments"] = json::object();
  run["deleted"] = false;
  if (o.extra.is_object())
    for (const auto& [k, v] : o.extra.items())
      if (k != "name" && k != "test_name" && k != "schema" && k != "status") run[k] = v;
  try {
    create_run(info_dir(), run);
    make_directories(blob_dir());
    make_directories(cache_dir());
  } catch (...) {
    // The id is claimed and its directory exists: without a record it would look like a run that
    // died while starting. Say clearly why there is none.
    started_ = false;
    throw;
  }
  start_logging(info_dir(), o);
}

void Experiment::adopt(const std::string& id, const StartOptions& o) {
  if (started_) throw StateError("experiment '" + name_ + "' is already started as " + test_name_);
  const RunRef ref = store_.resolve(id);
  const ProcessIdentity self = self_identity();
  const double now = unix_now();
  std::string ended_as;
  // Fields the launcher owns (identity, parameters, sweep link) are not replaced by the script's.
  static const char* const kOwned[] = {"schema", "name",  "test_name",  "status",      "info",    "metrics", "last",
                                       "tags",   "notes", "properties", "attachments", "deleted", "argv"};
  store_.update(ref, [&](json& r) {
    const std::string status = r.value("status", std::string());
    const int attempt_on_file = r.contains("attempt") && r["attempt"].is_number_integer() ? r["attempt"].get<int>() : 0;
    if (o.attempt > attempt_on_file && status != "queued") {
      // A torchelastic restart: the job goes on in the same run; what the last attempt came to is kept.
      json previous = json{{"attempt", attempt_on_file}, {"status", status}};
      for (const char* key : {"ended_at", "exception", "signal", "failed_rank", "failed_ranks", "dead", "process"})
        if (r.contains(key)) previous[key] = r[key];
      if (!r["attempts"].is_array()) r["attempts"] = json::array();
      r["attempts"].push_back(previous);
      for (const char* key : {"ended_at", "duration", "exception", "signal", "failed_rank", "failed_ranks", "dead"})
        r.erase(key);
      r["attempt"] = o.attempt;
      r["status"] = "running";
      r["host"] = self.host;
      r["pid"] = self.pid;
      r["process"] = self.to_json();
    } else if (status != "queued" && status != "running") {
      ended_as = status;
      return;
    }
    if (status == "queued") {
      r["status"] = "running";
      r["started_at"] = now;
      r["host"] = self.host;
      r["pid"] = self.pid;
      r["process"] = self.to_json();
    }
    r["adopted_by"] = json{{"process", self.to_json()}, {"at", now}, {"experiment", name_}};
    if (o.extra.is_object())
      for (const auto& [k, v] : o.extra.items())
        if (std::none_of(std::begin(kOwned), std::end(kOwned), [&](const char* owned) { return k == owned; })) r[k] = v;
    if (!r.contains("inventory")) r["inventory"] = machine_inventory();
    if (!r.contains("env")) r["env"] = environment_subset();
  });
  if (!ended_as.empty())
    throw StateError("run " + ref.test_name + " is " + ended_as + ", not queued or running: it cannot be adopted");
  name_ = ref.name;
  test_name_ = ref.test_name;
  started_ = true;
  cwd_ = o.cwd.empty() ? current_directory() : o.cwd;
  start_logging(info_dir(), o);
}

void Experiment::start_logging(const std::string& metrics_dir, const StartOptions& o) {
  log_ = std::make_unique<MetricLog>(metrics_dir + "/" + kMetricsFile);
  if (o.heartbeat)
    supervisor_ = std::make_unique<Supervisor>(metrics_dir, log_.get(), o.lease_seconds, o.flush_interval);
}

void Experiment::join_shard(const std::string& id, const ShardStart& shard, const StartOptions& o) {
  if (started_) throw StateError("experiment '" + name_ + "' is already started as " + test_name_);
  if (shard.rank <= 0)
    throw InputError("join_shard: rank " + std::to_string(shard.rank) + ": rank 0 starts or adopts the run itself");
  const RunRef ref = store_.resolve(id, /*use_index=*/false);
  // Whatever the run's status: another rank may have failed already, or rank 0 may have finished
  // before this rank started (ranks of one job start seconds apart on a busy machine). The rank
  // still records its shard, and its own failure still fails the run. Only a removed run is refused.
  const json run = load_run(ref.info_dir);
  if (run.contains("deleted") && run["deleted"] == true)
    throw StateError("run " + ref.test_name + " was removed (codedag rm): rank " + std::to_string(shard.rank) +
                     " cannot join it");
  start_shard(ref.info_dir, shard);  // checks the rank against the world before anything is recorded
  name_ = ref.name;
  test_name_ = ref.test_name;
  cwd_ = o.cwd.empty() ? current_directory() : o.cwd;
  started_ = true;
  rank_ = shard.rank;
  start_logging(shard_dir(info_dir(), rank_), o);
}

void Experiment::record_shard(const ShardStart& shard) {
  require_running("record_shard");
  if (shard.rank != 0) throw InputError("record_shard: only rank 0 records its shard this way (others join_shard)");
  start_shard(info_dir(), shard);
  rank_ = 0;
  update([world = shard.world_size, launcher = shard.launcher](json& r) {
    r["world_size"] = world;
    r["launcher"] = launcher;
  });
}

void Experiment::mark_vanished_ranks() {
  std::vector<std::string> warnings;
  for (const json& shard : read_shards(info_dir(), warnings)) {
    const int rank = shard.value("rank", 0);
    if (rank == 0 || shard.value("status", std::string()) != "running" || !shard.contains("process") ||
        !shard["process"].is_object())
      continue;
    ProcessIdentity who;
    try {
      who = ProcessIdentity::from_json(shard["process"]);
    } catch (const std::exception&) {
      continue;
    }
    if (liveness(who) != Liveness::gone) continue;
    mark_run_failed_by(info_dir(), rank, "failed",
                       json{{"exception",
                             {{"type", "RankDied"},
                              {"message", "rank " + std::to_string(rank) + " (pid " + std::to_string(who.pid) +
                                              ") ended without recording how: killed by a signal, out of memory "
                                              "or os._exit"}}}});
  }
}

void Experiment::end_shard_side(const std::string& status, const json& details, const json& last) {
  json shard_details = details.is_object() ? details : json::object();
  shard_details["last"] = last;
  try {
    end_shard(info_dir(), rank_, status, shard_details);
  } catch (const std::exception& e) {
    // The shard's end is bookkeeping: it must not turn the rank's own ending into a crash.
    record_error_ = e.what();
    term::Printer(stderr).warn("codedag: cannot record how rank " + std::to_string(rank_) + " of run " + name_ + "/" +
                               test_name_ + " ended (" + term::printable(e.what()) + ")");
  }
}

void Experiment::end(const std::string& status, const json& details) {
  if (!is_end_status(status))
    throw InputError("end status '" + status + "' is not one of finished, failed, killed, interrupted");
  require_running("end");
  ended_ = true;
  // The run's thread and descriptor end with it: a process may start thousands of runs.
  if (supervisor_) {
    supervisor_->stop(true);
    ended_problems_.heartbeat_error = supervisor_->write_error();
    supervisor_.reset();
  }
  json last = json::object();
  if (log_) {
    log_->flush();
    last = log_->last();
    const MetricLog::Health h = log_->health();
    ended_problems_.error = h.error;
    ended_problems_.metric_lines_dropped = h.dropped_lines;
    if (h.pending_bytes == 0) log_.reset();  // else kept: flush_metrics() may still write it
  }
  if (rank_ > 0) {
    // A shard ends its own record; the run is rank 0's to end.
    end_shard_side(status, details, last);
    return;
  }
  if (rank_ == 0) {
    try {
      mark_vanished_ranks();
    } catch (const std::exception&) {
      // Unreadable shards were reported by listings; the run's own end comes first.
    }
  }
  const double now = unix_now();
  const bool sharded = rank_ == 0;
  update([status, details, last, now, sharded](json& r) {
    r["ended_at"] = now;
    const double started =
        r.contains("started_at") && r["started_at"].is_number() ? r["started_at"].get<double>() : now;
    r["duration"] = now - started;
    if (!r["last"].is_object()) r["last"] = json::object();
    for (const auto& [k, v] : last.items()) r["last"][k] = v;
    if (sharded && r.contains("failed_rank") && r["failed_rank"] != json(0)) {
      // Another rank failed first: the run stays failed with that rank's traceback; how rank 0
      // ended (often the launcher's SIGTERM, or a collective that lost its peer) is kept beside it.
      json own = details.is_object() ? details : json::object();
      own["status"] = status;
      r["rank0_end"] = own;
      r["status"] = "failed";
      return;
    }
    r["status"] = status;
    if (details.is_object())
      for (const auto& [k, v] : details.items()) r[k] = v;
    if (sharded && status == "failed") {
      r["failed_rank"] = 0;
      if (!r["failed_ranks"].is_array()) r["failed_ranks"] = json::array();
      r["failed_ranks"].push_back(0);
      if (r["exception"].is_object()) r["exception"]["rank"] = 0;
    }
  });
  if (rank_ == 0) end_shard_side(status, details, last);
}

WriteProblems Experiment::write_problems() const {
  WriteProblems p = ended_problems_;
  if (log_) {
    const MetricLog::Health h = log_->health();
    p.error = h.error;
    p.metric_bytes_pending = h.pending_bytes;
    p.metric_lines_dropped = h.dropped_lines;
  }
  if (supervisor_) p.heartbeat_error = supervisor_->write_error();
  if (!record_error_.empty()) p.error = record_error_;
  p.record_changes_pending = pending_.size();
  return p;
}

void Experiment::dump_info(const std::string& key, const json& value) {
  require_running("dump_info");
  check_key("dump_info", key);
  update([key, value](json& r) {
    if (!r["info"].is_object()) r["info"] = json::object();
    r["info"][key] = value;
  });
}

json Experiment::dump_metric(const std::string& key, double value, const std::string& cmp, const json& extra) {
  require_running("dump_metric");
  check_key("dump_metric", key);
  if (cmp != "max" && cmp != "min")
    throw InputError("dump_metric('" + term::printable(key) + "'): cmp must be \"max\" or \"min\", not \"" +
                     term::printable(cmp) + "\"");
  if (!std::isfinite(value))
    throw InputError("dump_metric('" + term::printable(key) + "'): the value is not a finite number");
  auto it = best_.find(key);
  if (it == best_.end()) {
    // A resumed process may find a best already on file.
    try {
      const json metrics = record().value("metrics", json::object());
      const json on_file = metrics.is_object() ? metrics.value(key, json()) : json();
      if (on_file.is_object() && on_file.contains("value") && on_file["value"].is_number())
        it = best_.emplace(key, on_file).first;
    } catch (const std::exception&) {
      // Unreadable record: the best so far is this process's.
    }
  }
  if (it != best_.end()) {
    const std::string known = it->second.value("cmp", cmp);
    if (known != cmp)
      throw InputError("dump_metric('" + term::printable(key) + "'): this metric was recorded with cmp=\"" + known +
                       "\"; keep one direction per metric");
    const double best = it->second.value("value", value);
    const bool better = cmp == "max" ? value > best : value < best;
    if (!better) return it->second;
  }
  json entry = extra.is_object() ? extra : json::object();
  entry["value"] = value;
  entry["cmp"] = cmp;
  entry["at"] = unix_now();
  best_[key] = entry;
  update([key, entry](json& r) {
    if (!r["metrics"].is_object()) r["metrics"] = json::object();
    r["metrics"][key] = entry;
  });
  return entry;
}

void Experiment::log_metric(const std::string& key, double value, std::optional<int64_t> step) {
  if (!running()) require_running("log_metric");
  check_key("log_metric", key);
  log_->log(key, value, step, unix_now());
}

void Experiment::flush_metrics() {
  if (log_) log_->flush();
}

void Experiment::add_tag(const std::string& tag) {
  require_started("add_tag");
  check_key("add_tag", tag);
  const auto change = [tag](json& r) {
    if (!r["tags"].is_array()) r["tags"] = json::array();
    for (const auto& t : r["tags"])
      if (t == tag) return;
    r["tags"].push_back(tag);
  };
  if (view_) {
    store_.update(RunRef{name_, test_name_, info_dir()}, change);
    return;
  }
  require_running("add_tag");
  update(change);
}

void Experiment::add_note(const std::string& note) {
  require_started("add_note");
  const auto change = [note](json& r) {
    if (!r["notes"].is_array()) r["notes"] = json::array();
    r["notes"].push_back(json{{"at", unix_now()}, {"text", note}});
  };
  if (view_) {
    store_.update(RunRef{name_, test_name_, info_dir()}, change);
    return;
  }
  require_running("add_note");
  update(change);
}

std::string Experiment::attach(const std::string& kind, const std::string& path) {
  require_started("attach");
  if (view_) require_running("attach");
  if (kind.empty() || kind.find('/') != std::string::npos || kind[0] == '.' || kind.find('\0') != std::string::npos)
    throw InputError("attach: kind '" + term::printable(kind) +
                     "' must be a plain word such as \"dag\" or \"monitor\"");
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw NotFoundError("attach(" + kind + "): no file '" + term::printable(path) + "'");
  const std::string dest = info_dir() + "/attachments/" + kind + "/" + fs::path(path).filename().string();
  write_file_atomic(dest, read_file(path));
  const std::string rel = fs::relative(dest, info_dir()).string();
  update([kind, rel](json& r) {
    if (!r["attachments"].is_object()) r["attachments"] = json::object();
    json& list = r["attachments"][kind];
    if (!list.is_array()) list = json::array();
    for (const auto& e : list)
      if (e == rel) return;
    list.push_back(rel);
  });
  return dest;
}

json Experiment::snapshot_code(const SnapshotOptions& options) {
  require_running("snapshot_code");
  json git;
  try {
    git = git_snapshot(cwd_, RunId{name_, test_name_}.ref(), "codedag snapshot " + name_ + "/" + test_name_, options);
  } catch (const std::exception& e) {
    // A broken repository must not stop the run; the record says why there is no snapshot.
    git = json{{"present", false}, {"reason", e.what()}};
  }
  update([git](json& r) { r["git"] = git; });
  return git;
}

void Experiment::link_rerun(const std::string& from_id) {
  require_running("link_rerun");
  // On disk: a training process never opens the index.
  const RunRef from = store_.resolve(from_id, /*use_index=*/false);
  int repeat = 0;
  update_run(from.info_dir, [&](json& r) {
    if (!r["properties"].is_object()) r["properties"] = json::object();
    json& at = r["properties"]["rerun_at"];
    if (!at.is_object()) at = json::object();
    at[test_name_] = true;
    repeat = static_cast<int>(at.size());
  });
  const json link = json{{"from", from.test_name}, {"repeat", repeat}};
  update([link](json& r) {
    if (!r["properties"].is_object()) r["properties"] = json::object();
    r["properties"]["rerun"] = link;
  });
}

void Experiment::merge_fields(const json& fields) {
  require_running("merge_fields");
  if (!fields.is_object()) throw InputError("merge_fields: expected an object");
  update([fields](json& r) {
    for (const auto& [k, v] : fields.items()) {
      if (k == "name" || k == "test_name" || k == "schema" || k == "status") continue;
      if (v.is_object() && r[k].is_object())
        for (const auto& [ik, iv] : v.items()) r[k][ik] = iv;
      else
        r[k] = v;
    }
  });
}

json Experiment::record() const {
  require_started("record");
  const RunId id{name_, test_name_};
  json r = load_run(info_dir(), &id);
  for (const auto& change : pending_) change(r);
  return r;
}

}  // namespace codedag::store
