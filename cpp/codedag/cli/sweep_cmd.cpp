// codedag sweep run|resume|status|ls: many runs of one command over a grid of parameters, locally
// or on Slurm (see docs/cli/sweep.md); `sweep cell` (hidden) is the per-cell runner they start.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "codedag/cli/command.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/runner/cell_runner.hpp"
#include "codedag/runner/log_tail.hpp"
#include "codedag/runner/sweep.hpp"
#include "codedag/runner/sweep_report.hpp"
#include "codedag/runner/sweep_state.hpp"
#include "codedag/store/run_format.hpp"

namespace codedag::cli {
namespace {

struct RunOptions {
  runner::SweepRequest request;
  std::string gpus;
  int gpus_per_run = -1;
  std::string retry_on = "signals";
  uint64_t random_seed = 0;
  bool json_out = false;
};

// The executable the cell runners are started from: this very binary.
std::string self_program() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw SystemCallError("cannot find this program's path (/proc/self/exe) to start the cell runners");
  return std::string(buf, static_cast<size_t>(n));
}

int exit_status(const json& summary) {
  for (const json& c : summary["cells"])
    if (c["status"] != "finished") return 1;
  return 0;
}

json execute(const runner::SweepDir& dir, const runner::Manifest& m, bool retry_failed, bool json_out) {
  // With --json, stdout holds only the JSON result: the sweep's lines (and the command's stdout,
  // one cell at a time) go to stderr.
  term::Printer out(json_out ? stderr : stdout);
  runner::ExecuteSettings settings;
  settings.retry_failed = retry_failed;
  settings.launch.runner_program = self_program();
  settings.launch.json_mode = json_out;
  const json summary = runner::execute_sweep(dir, m, settings, out);
  if (json_out) std::cout << dump_json(summary, 1) << std::endl;
  return exit_status(summary);
}

void add_run(CLI::App& sweep, Context& ctx) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = sweep.add_subcommand("run", "Expand a grid into cells and run each as its own process and run");
  auto& r = o->request;
  cmd->add_option("command", r.command, "The command each cell runs, after --; it gets --KEY=VALUE per parameter")
      ->required();
  cmd->add_option("--name", r.name, "Experiment name of the cells' runs (default: the script's name)");
  // One value per occurrence: `-p a=1 python x.py` must not swallow the command.
  cmd->add_option("-p,--param", r.grid, "KEY=V1,V2,...: a grid axis (the grid is the product of all -p)")
      ->allow_extra_args(false);
  cmd->add_option("--random", r.random, "KEY=LOW:HIGH[:log]: a range sampled --samples times (seeded)")
      ->allow_extra_args(false);
  cmd->add_option("--samples", r.samples, "Random samples per grid point (with --random)");
  cmd->add_option("--repeat", r.repeat, "Run each parameter set K times, with --seed=0..K-1");
  cmd->add_option("--random-seed", o->random_seed, "Seed of the --random draws (default: drawn and recorded)");
  cmd->add_option("--parallel", r.policy.parallel, "Cells at a time (local default 1; Slurm default: no limit)");
  cmd->add_option("--gpus", o->gpus, "GPU pool, e.g. 0,1,2 (default: CUDA_VISIBLE_DEVICES or the GPUs NVML sees)");
  cmd->add_option("--gpus-per-run", o->gpus_per_run, "GPUs each cell leases (default 1 when there are GPUs)");
  cmd->add_option("--backend", r.policy.backend, "local or slurm")->check(CLI::IsMember({"local", "slurm"}));
  cmd->add_option("--retries", r.policy.retries, "Extra attempts for cells killed by a signal, preempted or dead");
  cmd->add_option("--retry-on", o->retry_on, "What --retries covers: signals (default) or all (exceptions too)")
      ->check(CLI::IsMember({"signals", "all"}));
  cmd->add_flag("--fail-fast", r.policy.fail_fast, "Stop everything at the first failed cell");
  cmd->add_option("--max-consecutive-failures", r.policy.max_consecutive_failures,
                  "Stop launching after N consecutive failures with the same error (0: never)");
  cmd->add_option("--timeout", r.policy.timeout, "Seconds an attempt may run before it is stopped (0: no limit)");
  cmd->add_option("--metric", r.policy.metric, "NAME[:max|min]: the metric the summary shows and ranks by");
  cmd->add_option("--slurm-arg", r.policy.slurm_args, "An sbatch option, e.g. --slurm-arg=--partition=gpu")
      ->allow_extra_args(false);
  cmd->add_flag("--json", o->json_out, "Print the summary as one JSON object on stdout, last");
  cmd->footer(
      "Example: codedag sweep run -p lr=0.1,0.01 -p bs=32,64 --parallel 2 --gpus 0,1 -- python train.py --epochs 3\n"
      "Each cell runs `python train.py --epochs 3 --lr=0.1 --bs=32` as its own process and its own run.");
  cmd->callback([o, cmd, &ctx] {
    runner::SweepRequest req = o->request;
    if (cmd->count("--parallel") == 0) req.policy.parallel = req.policy.backend == "slurm" ? 0 : 1;
    if (cmd->count("--gpus")) req.gpus = o->gpus;
    if (cmd->count("--gpus-per-run")) req.gpus_per_run = o->gpus_per_run;
    if (cmd->count("--random-seed")) req.random_seed = o->random_seed;
    req.policy.retry_exceptions = o->retry_on == "all";
    const runner::Manifest m = runner::create_sweep(req);
    ctx.exit_code = execute(runner::SweepDir(m.home, m.id), m, false, o->json_out);
  });
}

void add_resume(CLI::App& sweep, Context& ctx) {
  struct Opts {
    std::string id;
    bool retry_failed = false, json_out = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = sweep.add_subcommand(
      "resume",
      "Run the cells with no finished run (waiting for the ones still running); --retry-failed adds failed ones");
  cmd->add_option("id", o->id, "Sweep id or a unique prefix (see `codedag sweep ls`)")->required();
  cmd->add_flag("--retry-failed", o->retry_failed, "Also run cells whose last attempt failed (exception, exit code)");
  cmd->add_flag("--json", o->json_out, "Print the summary as one JSON object on stdout, last");
  cmd->callback([o, &ctx] {
    const runner::SweepDir dir = runner::resolve_sweep(runner::home_or_default(""), o->id);
    ctx.exit_code = execute(dir, dir.load_manifest(), o->retry_failed, o->json_out);
  });
}

void add_status(CLI::App& sweep, Context& ctx) {
  struct Opts {
    std::string id;
    bool json_out = false;
    size_t tail = 5;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = sweep.add_subcommand("status", "Each cell's state from the run store, with causes and log tails");
  cmd->add_option("id", o->id, "Sweep id or a unique prefix")->required();
  cmd->add_option("--tail", o->tail, "Log lines shown per failed cell");
  cmd->add_flag("--json", o->json_out, "Print the summary as JSON");
  cmd->callback([o, &ctx] {
    const json summary = runner::sweep_status("", o->id);
    if (o->json_out) {
      std::cout << dump_json(summary, 1) << std::endl;
    } else {
      term::Printer out;
      for (const auto& w : summary["warnings"]) out.warn(term::printable(w.get<std::string>()));
      runner::print_summary(out, summary, -1, o->tail);
    }
    ctx.exit_code = exit_status(summary);
  });
}

void add_ls(CLI::App& sweep, Context&) {
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = sweep.add_subcommand("ls", "The sweeps in this store, newest last");
  cmd->add_flag("--json", *json_out, "Print them as a JSON array");
  cmd->callback([json_out] {
    std::vector<std::string> warnings;
    const json sweeps = runner::list_sweeps("", &warnings);
    if (*json_out) {
      std::cout << dump_json(sweeps, 1) << std::endl;
      return;
    }
    term::Printer out;
    for (const auto& w : warnings) out.warn(term::printable(w));
    if (sweeps.empty()) {
      out.info("no sweeps in " + runner::home_or_default("") + " (start one with `codedag sweep run`)");
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const json& s : sweeps) {
      std::string counts;
      for (const char* status : runner::kStatusOrder)
        if (s["status"].contains(status))
          counts += (counts.empty() ? "" : " ") + std::to_string(s["status"][status].get<int>()) + " " + status;
      rows.push_back({s["sweep"].get<std::string>(), term::printable(s["name"].get<std::string>()),
                      store::format_time(s["created_at"].get<double>()), std::to_string(s["cells"].get<size_t>()),
                      counts.empty() ? "-" : counts, s["backend"].get<std::string>(),
                      term::printable(store::shell_join(s["command"].get<std::vector<std::string>>()))});
    }
    out.table({"sweep", "name", "created", "cells", "status", "backend", "command"}, rows);
    out.info(std::to_string(sweeps.size()) + " sweep(s)");
  });
}

void add_cell(CLI::App& sweep, Context& ctx) {
  auto o = std::make_shared<runner::CellRunnerOptions>();
  auto* cmd = sweep.add_subcommand("cell", "Run one attempt of one cell (started by the sweep; not for people)");
  cmd->group("");  // hidden from --help
  cmd->add_option("--home", o->home, "Store home")->required();
  cmd->add_option("--sweep", o->sweep, "Sweep id")->required();
  cmd->add_option("--cell", o->cell, "Cell index");
  cmd->add_option("--run", o->run, "The queued run to claim");
  cmd->add_option("--slurm-chunk", o->slurm_chunk, "Slurm: the chunk file; the task comes from SLURM_ARRAY_TASK_ID");
  cmd->add_flag("--tee", o->tee, "Copy the command's output to this terminal too");
  cmd->add_flag("--stdout-to-stderr", o->stdout_to_stderr, "With --tee: the command's stdout to stderr");
  cmd->callback([o, &ctx] {
    const int code = runner::run_cell(*o);
    ctx.exit_code = code > 255 ? 1 : code;
  });
}

}  // namespace

void add_sweep_command(CLI::App& app, Context& ctx) {
  auto* sweep =
      app.add_subcommand("sweep", "Run a command over a grid of parameters: each cell its own process and run");
  sweep->require_subcommand(1);
  add_run(*sweep, ctx);
  add_resume(*sweep, ctx);
  add_status(*sweep, ctx);
  add_ls(*sweep, ctx);
  add_cell(*sweep, ctx);
}

}  // namespace codedag::cli
