#include "codedag/store/experiment.hpp"

#include <sys/stat.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/inventory.hpp"
#include "codedag/store/metric_log.hpp"
#include "codedag/store/process_identity.hpp"
#include "codedag/store/run_file.hpp"

namespace codedag::store {
namespace fs = std::filesystem;

bool is_end_status(const std::string& s) {
  return s == "finished" || s == "failed" || s == "killed" || s == "interrupted";
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

const std::string& Experiment::test_name() const {
  if (!started_) throw StateError("experiment '" + name_ + "' has no test_name yet: call start() first");
  return test_name_;
}
std::string Experiment::info_dir() const { return store_.layout().info_dir(name_, test_name()); }
std::string Experiment::blob_dir() const { return store_.layout().blob_dir(name_, test_name()); }
std::string Experiment::cache_dir() const { return store_.layout().cache_dir(name_, test_name()); }

void Experiment::require_running(const char* what) const {
  if (!started_) throw StateError(std::string(what) + ": experiment '" + name_ + "' is not started (call start())");
  if (ended_) throw StateError(std::string(what) + ": run " + test_name_ + " has already ended");
}

json Experiment::update(const std::function<void(json&)>& change) {
  return store_.update(RunRef{name_, test_name_, info_dir()}, change);
}

void Experiment::start(const StartOptions& o) {
  if (started_) throw StateError("experiment '" + name_ + "' is already started as " + test_name_);
  const double now = unix_now();
  const std::string parent = store_.layout().info_root() + "/" + name_;
  make_directories(parent);
  // The run directory is created exclusively inside the index transaction: mkdir(2) fails with
  // EEXIST for every process but one, whatever the index says.
  test_name_ = store_.index().allocate(name_, now, [&](const std::string& candidate) {
    if (::mkdir((parent + "/" + candidate).c_str(), 0755) == 0) return true;
    if (errno == EEXIST) return false;
    throw_system_error("cannot create the run directory", parent + "/" + candidate);
  });
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
    for (const auto& [k, v] : o.extra.items()) run[k] = v;
  create_run(info_dir(), run);
  make_directories(blob_dir());
  make_directories(cache_dir());
  store_.reindex(run);
  log_ = std::make_unique<MetricLog>(info_dir() + "/" + kMetricsFile);
  if (o.heartbeat)
    supervisor_ = std::make_unique<Supervisor>(info_dir(), log_.get(), o.lease_seconds, o.flush_interval);
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
    if (status != "queued" && status != "running") {
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
  log_ = std::make_unique<MetricLog>(info_dir() + "/" + kMetricsFile);
  if (o.heartbeat)
    supervisor_ = std::make_unique<Supervisor>(info_dir(), log_.get(), o.lease_seconds, o.flush_interval);
}

void Experiment::end(const std::string& status, const json& details) {
  if (!is_end_status(status))
    throw InputError("end status '" + status + "' is not one of finished, failed, killed, interrupted");
  require_running("end");
  ended_ = true;
  if (supervisor_) supervisor_->stop(true);
  if (log_) log_->flush();
  const json last = log_ ? log_->last() : json::object();
  const double now = unix_now();
  update([&](json& r) {
    r["status"] = status;
    r["ended_at"] = now;
    r["duration"] = now - r.value("started_at", now);
    for (const auto& [k, v] : last.items()) r["last"][k] = v;
    if (details.is_object())
      for (const auto& [k, v] : details.items()) r[k] = v;
  });
  supervisor_.reset();
  log_.reset();
}

void Experiment::dump_info(const std::string& key, const json& value) {
  require_running("dump_info");
  if (key.empty()) throw InputError("dump_info: the key is empty");
  update([&](json& r) { r["info"][key] = value; });
}

json Experiment::dump_metric(const std::string& key, double value, const std::string& cmp, const json& extra) {
  require_running("dump_metric");
  if (key.empty()) throw InputError("dump_metric: the key is empty");
  if (cmp != "max" && cmp != "min")
    throw InputError("dump_metric('" + key + "'): cmp must be \"max\" or \"min\", not \"" + cmp + "\"");
  if (!std::isfinite(value)) throw InputError("dump_metric('" + key + "'): the value is not a finite number");
  auto it = best_.find(key);
  if (it == best_.end()) {
    // A resumed process may find a best already on file.
    const json on_file = record().value("metrics", json::object()).value(key, json());
    if (on_file.is_object() && on_file.contains("value")) it = best_.emplace(key, on_file).first;
  }
  if (it != best_.end()) {
    const std::string known = it->second.value("cmp", cmp);
    if (known != cmp)
      throw InputError("dump_metric('" + key + "'): this metric was recorded with cmp=\"" + known +
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
  update([&](json& r) { r["metrics"][key] = entry; });
  return entry;
}

void Experiment::log_metric(const std::string& key, double value, std::optional<int64_t> step) {
  if (!log_) require_running("log_metric");
  if (key.empty()) throw InputError("log_metric: the key is empty");
  log_->log(key, value, step, unix_now());
}

void Experiment::flush_metrics() {
  if (log_) log_->flush();
}

void Experiment::add_tag(const std::string& tag) {
  require_running("add_tag");
  update([&](json& r) {
    for (const auto& t : r["tags"])
      if (t == tag) return;
    r["tags"].push_back(tag);
  });
}

void Experiment::add_note(const std::string& note) {
  require_running("add_note");
  update([&](json& r) { r["notes"].push_back(json{{"at", unix_now()}, {"text", note}}); });
}

std::string Experiment::attach(const std::string& kind, const std::string& path) {
  if (!started_) throw StateError("attach: experiment '" + name_ + "' is not started (call start())");
  if (kind.empty() || kind.find('/') != std::string::npos || kind[0] == '.')
    throw InputError("attach: kind '" + kind + "' must be a plain word such as \"dag\" or \"monitor\"");
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw NotFoundError("attach(" + kind + "): no file '" + path + "'");
  const std::string dest = info_dir() + "/attachments/" + kind + "/" + fs::path(path).filename().string();
  write_file_atomic(dest, read_file(path));
  const std::string rel = fs::relative(dest, info_dir()).string();
  update([&](json& r) {
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
    git = git_snapshot(cwd_, "refs/codedag/" + name_ + "/" + test_name_, "codedag snapshot " + name_ + "/" + test_name_,
                       options);
  } catch (const std::exception& e) {
    // A broken repository must not stop the run; the record says why there is no snapshot.
    git = json{{"present", false}, {"reason", e.what()}};
  }
  update([&](json& r) { r["git"] = git; });
  return git;
}

void Experiment::link_rerun(const std::string& from_id) {
  require_running("link_rerun");
  const RunRef from = store_.resolve(from_id);
  int repeat = 0;
  const json origin = store_.update(from, [&](json& r) {
    json& at = r["properties"]["rerun_at"];
    if (!at.is_object()) at = json::object();
    at[test_name_] = true;
    repeat = static_cast<int>(at.size());
  });
  update([&](json& r) { r["properties"]["rerun"] = json{{"from", from.test_name}, {"repeat", repeat}}; });
}

json Experiment::record() const {
  if (!started_) throw StateError("experiment '" + name_ + "' is not started");
  return load_run(info_dir());
}

}  // namespace codedag::store
