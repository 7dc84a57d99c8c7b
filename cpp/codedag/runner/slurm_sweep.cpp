#include "codedag/runner/slurm_sweep.hpp"
#include "codedag/common/terminal.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <set>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/runner/cell_run.hpp"
#include "codedag/runner/failure_policy.hpp"
#include "codedag/runner/log_tail.hpp"
#include "codedag/runner/sweep_report.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/subprocess.hpp"

namespace codedag::runner {
namespace {

std::atomic<int> g_slurm_signal{0};
extern "C" void on_slurm_sweep_signal(int sig) { g_slurm_signal.store(sig); }

std::string job_name(const std::string& sweep_id) { return "codedag-" + sweep_id; }

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

store::SpawnResult run_tool(const std::vector<std::string>& argv) {
  try {
    return store::run_process(argv);
  } catch (const SystemCallError& e) {
    throw SystemCallError(std::string(e.what()) +
                          " — the Slurm backend needs sbatch, squeue and scontrol on PATH (a local test cluster: "
                          "`eval \"$(scripts/slurm_local.sh start)\"`)");
  }
}

SlurmLimits read_limits() {
  const store::SpawnResult r = run_tool({"scontrol", "show", "config"});
  if (r.exit_code != 0)
    throw SystemCallError("`scontrol show config` failed (" + std::to_string(r.exit_code) +
                          "): " + last_visible_line(r.err) + " — is the cluster reachable (SLURM_CONF)?");
  return parse_slurm_config(r.out);
}

void write_job_script(const SweepDir& dir, const Manifest& m, const std::string& program) {
  const std::string text = "#!/bin/sh\n# codedag sweep " + m.id +
                           ": each array task runs one cell; $1 is the chunk file's number.\n"
                           "exec " +
                           shell_quote(program) + " sweep cell --home " + shell_quote(m.home) + " --sweep " +
                           shell_quote(m.id) + " --slurm-chunk \"$1\"\n";
  write_file_atomic(dir.slurm_dir() + "/job.sh", text);
}

int next_chunk_number(const SweepDir& dir) {
  int n = 0;
  while (::access((dir.slurm_dir() + "/chunk-" + std::to_string(n) + ".json").c_str(), F_OK) == 0) ++n;
  return n;
}

struct Tracked {
  int cell = 0;
  std::string task;  // "<job>_<index>"
};

}  // namespace

SlurmLimits parse_slurm_config(const std::string& text) {
  SlurmLimits l;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    const std::string value = line.substr(eq + 1);
    char* end = nullptr;
    const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
    if (end == value.c_str() || v == 0) continue;
    if (key == "MaxArraySize") l.max_array_size = static_cast<size_t>(v);
    if (key == "MaxJobCount") l.max_job_count = static_cast<size_t>(v);
    if (key == "MaxSubmitJobs") l.max_submit_jobs = static_cast<size_t>(v);
  }
  return l;
}

size_t chunk_capacity(const SlurmLimits& limits) {
  size_t size = std::max<size_t>(limits.max_array_size, 1);
  size = std::min(size, std::max<size_t>(limits.max_job_count, 1));
  if (limits.max_submit_jobs) size = std::min(size, limits.max_submit_jobs);
  return size;
}

std::vector<std::vector<int>> chunk_cells(const std::vector<int>& cells, const SlurmLimits& limits) {
  const size_t size = chunk_capacity(limits);
  std::vector<std::vector<int>> out;
  for (size_t i = 0; i < cells.size(); i += size)
    out.emplace_back(cells.begin() + static_cast<std::ptrdiff_t>(i),
                     cells.begin() + static_cast<std::ptrdiff_t>(std::min(cells.size(), i + size)));
  return out;
}

std::string array_range(size_t tasks, int parallel) {
  std::string r = "0-" + std::to_string(tasks == 0 ? 0 : tasks - 1);
  if (parallel > 0) r += "%" + std::to_string(parallel);
  return r;
}

bool slurm_state_alive(const std::string& s) {
  static const std::set<std::string> ended = {"COMPLETED",     "CANCELLED",    "FAILED",    "TIMEOUT",
                                              "NODE_FAIL",     "PREEMPTED",    "BOOT_FAIL", "DEADLINE",
                                              "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"};
  return !s.empty() && !ended.count(s);
}

std::map<std::string, std::string> squeue_tasks(const std::string& sweep_id) {
  const store::SpawnResult r = run_tool({"squeue", "-h", "-r", "--name=" + job_name(sweep_id), "-o", "%i|%T"});
  if (r.exit_code != 0)
    throw SystemCallError("`squeue` failed (" + std::to_string(r.exit_code) + "): " + last_visible_line(r.err));
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < r.out.size()) {
    const size_t nl = r.out.find('\n', pos);
    const std::string line = r.out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? r.out.size() : nl + 1;
    const size_t bar = line.find('|');
    if (bar != std::string::npos) out[line.substr(0, bar)] = line.substr(bar + 1);
  }
  return out;
}

QueuedAliveCheck slurm_queued_check(const std::string& sweep_id) {
  auto snapshot = std::make_shared<std::optional<std::map<std::string, std::string>>>();
  return [snapshot, sweep_id](const json& launcher) {
    const std::string task = launcher.is_object() ? launcher.value("slurm_job", std::string()) : "";
    if (task.empty()) return local_launcher_alive(launcher);  // still being submitted?
    if (!*snapshot) {
      try {
        *snapshot = squeue_tasks(sweep_id);
      } catch (const std::exception&) {
        return true;  // cannot tell: never give a run up on a failed query
      }
    }
    const auto it = (*snapshot)->find(task);
    return it != (*snapshot)->end() && slurm_state_alive(it->second);
  };
}

std::string run_slurm(store::Store& store, const SweepDir& dir, const Manifest& m, const std::vector<int>& cells,
                      const std::vector<CellState>& before, term::Printer& out, const LaunchSettings& settings) {
  g_slurm_signal = 0;
  struct sigaction sa {
  }, old_int{}, old_term{};
  sa.sa_handler = on_slurm_sweep_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  struct Restore {
    struct sigaction i, t;
    ~Restore() {
      ::sigaction(SIGINT, &i, nullptr);
      ::sigaction(SIGTERM, &t, nullptr);
    }
  } restore{old_int, old_term};

  const SlurmLimits limits = read_limits();
  make_directories(dir.slurm_dir());
  write_job_script(dir, m, settings.runner_program);
  const RunPolicy& policy = m.policy;
  FailurePolicy failures(policy, m.id);
  std::deque<std::pair<int, int>> pending;  // (cell, attempt)
  for (const int c : cells) pending.emplace_back(c, next_attempt(before[static_cast<size_t>(c)]));
  std::map<int, Tracked> tracked;
  for (const CellState& s : before)
    if (s.in_flight()) {
      const AttemptState* a = s.current();
      tracked[s.cell] = Tracked{s.cell, a->record.value("launcher", json::object()).value("slurm_job", std::string())};
      out.info("waiting for cell " + std::to_string(s.cell) + " (run " + a->ref.test_name + ", " + a->status + ")");
    }
  out.info("Slurm: MaxArraySize " + std::to_string(limits.max_array_size) + ", MaxJobCount " +
           std::to_string(limits.max_job_count) +
           (limits.max_submit_jobs ? ", MaxSubmitJobs " + std::to_string(limits.max_submit_jobs) : ""));
  std::string stopped;
  bool launching = true;
  std::string previous_job;  // chunks are chained when throttled, so --parallel holds across chunks
  std::vector<std::string> submitted;
  const size_t submit_room = limits.max_submit_jobs ? limits.max_submit_jobs : limits.max_job_count;

  auto submit_chunk = [&](const std::vector<std::pair<int, int>>& chunk) {
    const int number = next_chunk_number(dir);
    json entries = json::array();
    std::vector<store::RunRef> refs;
    Launcher launcher;
    launcher.backend = "slurm";
    for (const auto& [cell, attempt] : chunk) {
      const store::RunRef ref =
          create_cell_run(store, m, m.cells[static_cast<size_t>(cell)], attempt, launcher, {}, dir);
      append_attempt(dir, AttemptEntry{cell, attempt, ref.test_name, m.name, store::unix_now()});
      entries.push_back(json{{"cell", cell}, {"run", ref.test_name}});
      refs.push_back(ref);
    }
    save_json_file(dir.slurm_dir() + "/chunk-" + std::to_string(number) + ".json",
                   json{{"sweep", m.id}, {"chunk", number}, {"cells", entries}});
    std::vector<std::string> argv = {"sbatch",
                                     "--parsable",
                                     "--job-name=" + job_name(m.id),
                                     "--array=" + array_range(chunk.size(), policy.parallel),
                                     "--output=" + dir.slurm_dir() + "/%A_%a.out",
                                     "--chdir=" + m.cwd,
                                     "--export=ALL",
                                     "--requeue",
                                     "--signal=B:USR1@60"};
    if (policy.gpus_per_run > 0) argv.push_back("--gres=gpu:" + std::to_string(policy.gpus_per_run));
    if (policy.parallel > 0 && !previous_job.empty()) argv.push_back("--dependency=afterany:" + previous_job);
    for (const auto& a : policy.slurm_args) argv.push_back(a);
    argv.push_back(dir.slurm_dir() + "/job.sh");
    argv.push_back(std::to_string(number));
    const store::SpawnResult r = run_tool(argv);
    std::string job = r.out.substr(0, r.out.find_first_of(";\n"));
    if (r.exit_code != 0 || job.empty() || job.find_first_not_of("0123456789") != std::string::npos) {
      const std::string why =
          "sbatch rejected chunk " + std::to_string(number) + ": " + term::printable(last_visible_line(r.err));
      for (const auto& ref : refs) give_up_queued_run(store, ref, why);
      std::string queued;
      for (const auto& j : submitted) queued += " " + j;
      throw SystemCallError(why + (submitted.empty() ? " (nothing was queued)" : "; already queued jobs:" + queued) +
                            " — fix the option, then `codedag sweep resume " + m.id + "`");
    }
    for (size_t i = 0; i < refs.size(); ++i) {
      const std::string task = job + "_" + std::to_string(i);
      store.update(refs[i], [&](json& rec) { rec["launcher"]["slurm_job"] = task; });
      tracked[chunk[i].first] = Tracked{chunk[i].first, task};
    }
    const json line = json{{"chunk", number}, {"job", job}, {"tasks", chunk.size()}, {"at", store::unix_now()}};
    {
      std::string prev;
      try {
        prev = read_file(dir.slurm_dir() + "/jobs.jsonl");
      } catch (const std::exception&) {
      }
      write_file_atomic(dir.slurm_dir() + "/jobs.jsonl", prev + dump_json(line) + "\n");
    }
    submitted.push_back(job);
    previous_job = job;
    out.ok("submitted chunk " + std::to_string(number) + ": job " + job +
           " (--array=" + array_range(chunk.size(), policy.parallel) + ", " + std::to_string(chunk.size()) + " cells)");
  };

  const size_t chunk_size = chunk_capacity(limits);
  while ((launching && !pending.empty()) || !tracked.empty()) {
    if (const int sig = g_slurm_signal.exchange(0)) {
      std::string jobs;
      for (const auto& j : submitted) jobs += " " + j;
      stopped = std::string("interrupted by ") + signal_name(sig) +
                ": stopped watching; submitted jobs keep running (" +
                (jobs.empty() ? std::string("none") : "scancel" + jobs) + " stops them; `codedag sweep resume " + m.id +
                "` waits for them)";
      break;
    }
    // Submit while the queue has room for another chunk.
    while (launching && !pending.empty() && tracked.size() + std::min(pending.size(), chunk_size) <= submit_room) {
      std::vector<std::pair<int, int>> chunk;
      while (!pending.empty() && chunk.size() < chunk_size) {
        chunk.push_back(pending.front());
        pending.pop_front();
      }
      submit_chunk(chunk);
    }
    ::poll(nullptr, 0, 1000);
    std::map<std::string, std::string> queue;
    try {
      queue = squeue_tasks(m.id);
    } catch (const std::exception& e) {
      out.warn(std::string("squeue: ") + e.what() + " (retrying)");
      continue;
    }
    std::vector<std::string> warnings;
    std::map<int, std::vector<AttemptEntry>> by_cell;
    for (const AttemptEntry& e : read_attempts(dir, m.cells.size(), &warnings)) by_cell[e.cell].push_back(e);
    for (auto it = tracked.begin(); it != tracked.end();) {
      const int cell = it->first;
      const auto& entries = by_cell[cell];
      if (entries.empty()) {
        ++it;
        continue;
      }
      const AttemptEntry latest =
          *std::max_element(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.attempt < b.attempt; });
      const store::RunRef ref{latest.name, latest.run, store.layout().info_dir(latest.name, latest.run)};
      json record;
      try {
        record = store::load_run(ref.info_dir);
        if (run_status(record) == "running") record = store.check_liveness(ref, record, &warnings);
      } catch (const std::exception& e) {
        record = json::object();
      }
      std::string status = record.empty() ? "dead" : run_status(record);
      const auto q = queue.find(it->second.task);
      const bool task_alive = q != queue.end() && slurm_state_alive(q->second);
      if (status == "running" || task_alive) {
        ++it;
        continue;
      }
      if (status == "queued") {
        give_up_queued_run(store, ref,
                           "the Slurm task " + it->second.task +
                               " ended before the cell started (cancelled, or it "
                               "failed to launch: see " +
                               dir.slurm_dir() + "/" + it->second.task + ".out)");
        record = store::load_run(ref.info_dir);
        status = run_status(record);
      }
      it = tracked.erase(it);
      CellState state;
      state.cell = cell;
      state.status = status;
      state.attempts.push_back(AttemptState{latest.attempt, ref, status, record});
      print_cell_event(out, cell_json(m, dir, state));
      const AfterAttempt next =
          failures.on_attempt_end(cell, status, record.value("failure", json::object()), latest.attempt);
      if (next == AfterAttempt::retry && launching) {
        pending.emplace_front(cell, latest.attempt + 1);
        out.info("cell " + std::to_string(cell) + ": retrying (attempt " + std::to_string(latest.attempt + 1) + ")");
      } else if (next == AfterAttempt::stop_launching || next == AfterAttempt::stop_all) {
        if (launching) stopped = failures.stop_reason();
        launching = false;
        pending.clear();
        // Tasks not started yet are cancelled (their runs end as dead, so `resume` runs them);
        // with --fail-fast the running ones are stopped too.
        std::vector<std::string> cancel = {"scancel", "--name=" + job_name(m.id)};
        if (next == AfterAttempt::stop_launching) cancel.push_back("--state=PENDING");
        try {
          run_tool(cancel);
        } catch (const std::exception& e) {
          out.warn(e.what());
        }
      }
    }
  }
  return stopped;
}

}  // namespace codedag::runner
