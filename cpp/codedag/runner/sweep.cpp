#include "codedag/runner/sweep.hpp"
#include "codedag/common/terminal.hpp"

#include <sys/random.h>

#include <chrono>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/runner/gpu_pool.hpp"
#include "codedag/runner/log_tail.hpp"
#include "codedag/runner/slurm_sweep.hpp"
#include "codedag/runner/sweep_report.hpp"
#include "codedag/runner/sweep_state.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/inventory.hpp"
#include "codedag/store/layout.hpp"
#include "codedag/store/run_format.hpp"

namespace codedag::runner {
namespace {

uint64_t fresh_seed() {
  uint64_t seed = 0;
  if (::getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed))
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return seed & ((1ULL << 53) - 1);  // exact in JSON numbers and Python floats alike
}

QueuedAliveCheck queued_check_for(const Manifest& m) {
  if (m.policy.backend == "slurm") return slurm_queued_check(m.id);
  return local_launcher_alive;
}

}  // namespace

std::string home_or_default(const std::string& home) { return home.empty() ? store::default_home() : home; }

Manifest create_sweep(const SweepRequest& r) {
  RunPolicy policy = r.policy;
  if (policy.backend != "local" && policy.backend != "slurm")
    throw InputError("--backend '" + policy.backend + "': use local or slurm");
  if (policy.parallel < (policy.backend == "slurm" ? 0 : 1))
    throw InputError("--parallel must be 1 or more, not " + std::to_string(policy.parallel));
  if (policy.retries < 0) throw InputError("--retries must be 0 or more");
  if (policy.max_consecutive_failures < 0) throw InputError("--max-consecutive-failures must be 0 (off) or more");
  if (policy.timeout < 0) throw InputError("--timeout must be 0 (none) or more seconds");
  parse_metric_option(policy.metric);
  if (policy.backend == "local") {
    policy.gpus = r.gpus ? parse_gpu_list(*r.gpus, "--gpus") : detect_gpus();
    policy.gpus_per_run = r.gpus_per_run.value_or(policy.gpus.empty() ? 0 : 1);
    if (policy.gpus_per_run < 0) throw InputError("--gpus-per-run must be 0 or more");
    if (policy.gpus_per_run > 0 && policy.gpus.empty())
      throw InputError("--gpus-per-run " + std::to_string(policy.gpus_per_run) +
                       ": there is no GPU to lease (none detected); give the pool with --gpus 0,1,... or use "
                       "--gpus-per-run 0");
    if (static_cast<size_t>(policy.gpus_per_run) > policy.gpus.size())
      throw InputError("--gpus-per-run " + std::to_string(policy.gpus_per_run) + " is more than the " +
                       std::to_string(policy.gpus.size()) + " GPUs in the pool (" + join_devices(policy.gpus) + ")");
  } else {
    if (r.gpus) throw InputError("--gpus is for the local backend; on Slurm use --gpus-per-run (as --gres=gpu:N)");
    policy.gpus_per_run = r.gpus_per_run.value_or(0);
    if (policy.gpus_per_run < 0) throw InputError("--gpus-per-run must be 0 or more");
  }
  if (r.command.empty()) throw InputError("no command to sweep: write `codedag sweep run [options] -- CMD ARGS...`");

  SweepSpec spec;
  for (const auto& g : r.grid) spec.grid.push_back(parse_grid_option(g));
  for (const auto& x : r.random) spec.random.push_back(parse_random_option(x));
  spec.samples = r.samples;
  spec.repeat = r.repeat;
  spec.random_seed = r.random_seed.value_or(fresh_seed());
  const std::vector<CellParams> expanded = expand(spec);

  Manifest m;
  m.home = home_or_default(r.home);
  m.cwd = r.cwd.empty() ? store::current_directory() : r.cwd;
  m.name = r.name.empty() ? default_sweep_name(r.command) : r.name;
  store::validate_experiment_name(m.name);
  m.command = r.command;
  m.policy = policy;
  m.cells = make_cells(r.command, m.cwd, expanded);
  json random = json::array();
  for (const auto& x : r.random) random.push_back(x);
  m.spec = json{{"grid", r.grid},
                {"random", random},
                {"samples", spec.samples},
                {"repeat", spec.repeat},
                {"random_seed", spec.random_seed}};
  m.created_at = store::unix_now();
  m.id = create_sweep_dir(m.home, m.created_at);
  const SweepDir dir(m.home, m.id);
  save_json_file(dir.manifest_path(), m.to_json(), 1);
  return m;
}

json execute_sweep(const SweepDir& dir, const Manifest& m, const ExecuteSettings& settings, term::Printer& out) {
  SweepLock lock(dir);
  const auto started = std::chrono::steady_clock::now();
  store::Store store(m.home);
  std::vector<std::string> warnings;
  const std::vector<CellState> before = load_cell_states(store, dir, m, &warnings, true, queued_check_for(m));
  for (const auto& w : warnings) out.warn(term::printable(w));
  const std::vector<int> cells = cells_to_resume(before, settings.retry_failed);
  size_t finished = 0, failed = 0, in_flight = 0;
  for (const CellState& s : before) {
    finished += s.status == "finished";
    in_flight += s.in_flight();
    failed += s.status == "failed";
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"command", term::printable(store::shell_join(m.command))},
      {"cells", std::to_string(m.cells.size()) + " (" + std::to_string(cells.size()) + " to run" +
                    (finished ? ", " + std::to_string(finished) + " finished before" : "") +
                    (in_flight ? ", " + std::to_string(in_flight) + " still running" : "") + ")"},
      {"backend",
       m.policy.backend + ", " +
           (m.policy.parallel ? std::to_string(m.policy.parallel) + " at a time" : "no limit on cells at a time")},
      {"runs", "experiment '" + m.name + "' in " + m.home},
      {"logs", dir.logs_dir()}};
  if (m.policy.backend == "local")
    fields.push_back({"gpus", m.policy.gpus.empty() ? "none (no CUDA_VISIBLE_DEVICES set for cells)"
                                                    : join_devices(m.policy.gpus) + ", " +
                                                          std::to_string(m.policy.gpus_per_run) + " per cell"});
  if (m.policy.retries) fields.push_back({"retries", std::to_string(m.policy.retries)});
  if (m.policy.max_consecutive_failures)
    fields.push_back({"breaker", "after " + std::to_string(m.policy.max_consecutive_failures) +
                                     " consecutive failures with the same error"});
  out.header("sweep " + m.id, fields);
  if (cells.empty() && in_flight == 0) {
    if (m.cells.empty())
      out.warn("the sweep has no cells: nothing to run");
    else if (failed && !settings.retry_failed)
      out.warn("nothing to run: " + std::to_string(failed) +
               " cell(s) failed and are left as they are; add "
               "--retry-failed to run them again");
    else
      out.ok("nothing to run: every cell already has a finished run");
  }
  std::string stopped;
  if (!cells.empty() || in_flight) {
    if (m.policy.backend == "slurm")
      stopped = run_slurm(store, dir, m, cells, before, out, settings.launch);
    else
      stopped = run_local(store, dir, m, cells, before, out, settings.launch);
  }
  warnings.clear();
  const std::vector<CellState> after = load_cell_states(store, dir, m, &warnings, true, queued_check_for(m));
  const json summary = summary_json(m, dir, after, stopped);
  try {
    save_json_file(dir.summary_path(), summary, 1);
  } catch (const std::exception& e) {
    out.warn(std::string("sweep_summary.json not written: ") + e.what());
  }
  out.line();
  print_summary(out, summary, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return summary;
}

json sweep_status(const std::string& home_in, const std::string& id) {
  const std::string home = home_or_default(home_in);
  const SweepDir dir = resolve_sweep(home, id);
  const Manifest m = dir.load_manifest();
  store::Store store(m.home);
  std::vector<std::string> warnings;
  const std::vector<CellState> states = load_cell_states(store, dir, m, &warnings, true, queued_check_for(m));
  json summary = summary_json(m, dir, states, "");
  summary["warnings"] = warnings;
  return summary;
}

json list_sweeps(const std::string& home_in, std::vector<std::string>* warnings) {
  const std::string home = home_or_default(home_in);
  json out = json::array();
  store::Store store(home);
  for (const std::string& id : list_sweep_ids(home)) {
    const SweepDir dir(home, id);
    try {
      const Manifest m = dir.load_manifest();
      // A quick look: no liveness checks (that is `sweep status`).
      const auto states = load_cell_states(store, dir, m, warnings, false, local_launcher_alive);
      json counts = json::object();
      for (const auto& [status, n] : count_statuses(states)) counts[status] = n;
      out.push_back(json{{"sweep", id},
                         {"name", m.name},
                         {"created_at", m.created_at},
                         {"cells", m.cells.size()},
                         {"backend", m.policy.backend},
                         {"status", counts},
                         {"command", m.command}});
    } catch (const std::exception& e) {
      if (warnings) warnings->push_back(id + ": " + e.what() + " (skipped)");
    }
  }
  return out;
}

}  // namespace codedag::runner
