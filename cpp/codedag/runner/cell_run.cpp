#include "codedag/runner/cell_run.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/experiment.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/inventory.hpp"
#include "codedag/store/process_identity.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/run_ids.hpp"

namespace codedag::runner {
namespace fs = std::filesystem;

json Launcher::to_json() const {
  json j{{"kind", "sweep"}, {"backend", backend}, {"process", store::self_identity().to_json()}};
  if (!slurm_job.empty()) j["slurm_job"] = slurm_job;
  return j;
}

std::string resolve_program(const std::string& program, const std::string& cwd) {
  if (program.find('/') != std::string::npos)
    return program[0] == '/' ? program : (fs::path(cwd) / program).lexically_normal().string();
  const char* path = std::getenv("PATH");
  const std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t pos = 0; pos <= dirs.size();) {
    const size_t colon = dirs.find(':', pos);
    std::string dir = dirs.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    if (dir.empty()) dir = ".";
    const std::string candidate = (fs::path(dir[0] == '/' ? dir : cwd + "/" + dir) / program).string();
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return program;
}

store::RunRef create_cell_run(store::Store& store, const Manifest& m, const ManifestCell& cell, int attempt,
                              const Launcher& launcher, const std::vector<std::string>& gpus, const SweepDir& dir) {
  store::validate_experiment_name(m.name);
  const double now = store::unix_now();
  // As Experiment::start does: the id and its directory are claimed with files (run_ids.hpp).
  const std::string test_name = store::claim_run_id(store.layout(), m.name, now).test_name;
  json params = json::object();
  for (const auto& p : cell.params) params[p.key] = p.value;
  json run = json::object();
  run["schema"] = store::kRunSchema;
  run["name"] = m.name;
  run["test_name"] = test_name;
  run["status"] = "queued";
  run["queued_at"] = now;
  run["started_at"] = now;
  run["argv"] = cell.argv;
  run["executable"] = resolve_program(cell.argv[0], m.cwd);
  run["cwd"] = m.cwd;
  run["host"] = store::host_name();
  run["user"] = store::user_name();
  run["info"] = json{{"params", params}};
  run["metrics"] = json::object();
  run["last"] = json::object();
  run["tags"] = json::array();
  run["notes"] = json::array();
  run["properties"] =
      json{{"sweep", {{"id", m.id}, {"cell", cell.index}, {"attempt", attempt}, {"fingerprint", cell.fingerprint}}}};
  run["attachments"] = json::object();
  run["deleted"] = false;
  run["launcher"] = launcher.to_json();
  run["gpus"] = gpus;
  run["log"] = dir.log_path(cell.index, test_name);
  const std::string info_dir = store.layout().info_dir(m.name, test_name);
  store::create_run(info_dir, run);
  store.reindex(run);
  return store::RunRef{m.name, test_name, info_dir};
}

bool claim_cell_run(store::Store& store, const store::RunRef& run) {
  bool claimed = false;
  const store::ProcessIdentity self = store::self_identity();
  const double now = store::unix_now();
  json inventory = json::object();
  try {
    inventory = store::machine_inventory();
  } catch (const std::exception&) {
  }
  store.update(run, [&](json& r) {
    if (r.value("status", std::string()) != "queued") return;
    claimed = true;
    r["status"] = "running";
    r["started_at"] = now;
    r["host"] = self.host;
    r["pid"] = self.pid;
    r["process"] = self.to_json();
    r["inventory"] = inventory;
    r["env"] = store::environment_subset();
  });
  return claimed;
}

int run_attempt(const json& record) {
  const json props = record.value("properties", json::object());
  const json sweep = props.is_object() ? props.value("sweep", json::object()) : json::object();
  const json a = sweep.is_object() ? sweep.value("attempt", json(1)) : json(1);
  return a.is_number_integer() ? a.get<int>() : 1;
}

std::string run_status(const json& record) { return record.value("status", std::string("queued")); }

json record_cell_outcome(store::Store& store, const store::RunRef& run, const CellOutcome& o) {
  return store.update(run, [&](json& r) {
    const std::string before = run_status(r);
    json exit{{"code", o.exit.exit_code}, {"duration", o.ended_at - o.started_at}};
    if (o.exit.signal) exit["signal"] = signal_name(o.exit.signal);
    r["exit"] = exit;
    std::string status = before;
    const bool ok = o.exit.exit_code == 0 && o.exit.signal == 0 && !o.exit.timed_out && !o.exit.preempted;
    if (!store::is_end_status(before) || (before == "finished" && !ok)) {
      if (ok)
        status = "finished";
      else if (o.exit.interrupted)
        status = "interrupted";
      else if (o.exit.signal || o.exit.timed_out || o.exit.preempted)
        status = "killed";
      else
        status = "failed";
      if (before == "finished" && !ok)
        r["notes"].push_back(json{{"at", o.ended_at},
                                  {"text",
                                   "the script's Experiment ended as finished, but the process then exited "
                                   "with " +
                                       std::string(o.exit.signal ? signal_name(o.exit.signal)
                                                                 : "code " + std::to_string(o.exit.exit_code))}});
    }
    r["status"] = status;
    if (!r.contains("ended_at") || !store::is_end_status(before)) r["ended_at"] = o.ended_at;
    if (!r.contains("duration") || !store::is_end_status(before))
      r["duration"] = r["ended_at"].get<double>() - r.value("started_at", o.started_at);
    if (o.exit.signal && !r.contains("signal")) r["signal"] = signal_name(o.exit.signal);
    if (status != "finished") {
      const FailureCause f = classify_failure(o.exit, o.log_tail, r.value("exception", json()));
      r["failure"] = f.to_json();
      r["log_tail"] = last_lines(o.log_tail, 20);
    } else {
      r.erase("failure");
    }
  });
}

bool give_up_queued_run(store::Store& store, const store::RunRef& run, const std::string& reason) {
  bool done = false;
  const double now = store::unix_now();
  store.update(run, [&](json& r) {
    if (run_status(r) != "queued") return;
    done = true;
    r["status"] = "dead";
    r["ended_at"] = now;
    r["duration"] = 0.0;
    r["dead"] = json{{"detected_at", now}, {"reason", reason}};
    r["failure"] =
        json{{"kind", "never_started"}, {"cause", reason}, {"signature", "never_started"}, {"retryable", true}};
  });
  return done;
}

}  // namespace codedag::runner
