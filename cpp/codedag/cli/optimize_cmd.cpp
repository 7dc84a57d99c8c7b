// codedag optimize FILE: decide which contexts of a pipeline DAG run where, print the plan and
// write it (codedag.plan/1) and, on request, every file of the optimisation.
#include <algorithm>
#include <memory>
#include <optional>
#include <sstream>

#include "codedag/cli/command.hpp"
#include "codedag/cli/usage.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/graph/model/pipeline_check.hpp"
#include "codedag/graph/optimizer.hpp"
#include "codedag/monitor/cpu_budget.hpp"

namespace codedag::cli {
namespace {

// The optimizer's own options (graph::OptimizerOptions, the struct Python's OptimizerManager fills
// too) plus what only the command has: files.
struct OptimizeOptions {
  std::string file;
  graph::OptimizerOptions optimizer;
  std::string workers;  // "": not given (the device model's, else the DAG's); "auto": chosen; else a count
  std::string cores;    // "": the device model's; "auto": this machine's (cgroup quota, affinity); else a number
  std::string device_model;
  std::string output;
  std::string export_dir;
};

int64_t parse_count(const std::string& text, const char* option) {
  size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || v < 0 || v > graph::kMaxWorkers)
    throw InputError(std::string(option) + " must be 'auto' or a whole number from 0 to " +
                     std::to_string(graph::kMaxWorkers) + ", got '" + text + "'");
  return v;
}

double parse_cores(const std::string& text) {
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(v > 0))
    throw InputError("--cores must be 'auto' or a number of CPUs above 0, got '" + text + "'");
  return v;
}

std::string fixed(double x, int digits) {
  std::ostringstream s;
  s.precision(digits);
  s << std::fixed << x;
  return s.str();
}

void run(const OptimizeOptions& opt) {
  term::Printer out;
  const graph::Dag dag = graph::Dag::load(opt.file);
  graph::require_pipeline(dag, opt.file);  // an empty or trivial DAG has nothing to place
  graph::OptimizerOptions o = opt.optimizer;
  if (opt.workers == "auto") {
    o.choose_workers = true;
  } else if (!opt.workers.empty()) {
    o.workers = parse_count(opt.workers, "--workers");
  }
  if (!opt.device_model.empty()) o.device_model = graph::DeviceModel::load(opt.device_model);
  std::string cores_source = "the device model's";
  if (opt.cores == "auto" ||
      (opt.cores.empty() && o.choose_workers && !(o.device_model && o.device_model->cores > 0))) {
    const monitor::CpuBudget budget = monitor::available_cpus();
    o.cores = budget.cores;
    cores_source = "this machine (" + budget.limited_by + ")";
  } else if (!opt.cores.empty()) {
    o.cores = parse_cores(opt.cores);
    cores_source = "--cores";
  }
  o.validate();
  const graph::OptimizeResult r = graph::optimize(dag, o);

  std::string executors;
  for (const auto& e : r.executors) executors += (executors.empty() ? "" : ", ") + e;
  out.header(
      "CodeDAG optimize",
      {{"DAG", opt.file + " (" + std::to_string(dag.nodes().size()) + " contexts)"},
       {"coarsened", std::to_string(r.coarse.dag.nodes().size()) + " contexts, " + std::to_string(r.groups) +
                         " functions (max depth " + std::to_string(o.coarsen_max_depth) + ")"},
       {"executors", executors},
       {"k", std::to_string(r.k)},
       {"workers", o.choose_workers ? "chosen from 0 to " +
                                          (o.max_workers ? std::to_string(o.max_workers) : std::string("2 x cores"))
                                    : std::to_string(r.model.workers)},
       {"cores", r.model.cores > 0 ? fixed(r.model.cores, 2) + " (" + cores_source + ")" : std::string("not limited")},
       {"device model", opt.device_model.empty() ? std::string("defaults") : opt.device_model},
       {"algorithm", r.partition.method + ", seed " + std::to_string(o.seed)}});

  // What moves where, heaviest first.
  const auto& coarse = r.coarse.dag;
  std::vector<size_t> moved;
  for (size_t i = 0; i < coarse.nodes().size(); ++i)
    if (r.placement.of_node[i] != 0) moved.push_back(i);
  std::sort(moved.begin(), moved.end(),
            [&](size_t a, size_t b) { return coarse.nodes()[a].cpu_ns > coarse.nodes()[b].cpu_ns; });
  out.line();
  if (moved.empty()) {
    out.info("nothing moves: every context stays in the DataLoader workers");
  } else {
    std::vector<std::vector<std::string>> rows;
    const size_t shown = std::min<size_t>(moved.size(), 25);
    for (size_t j = 0; j < shown; ++j) {
      const auto& n = coarse.nodes()[moved[j]];
      const std::string& ex = r.executors[r.placement.of_node[moved[j]]];
      const auto mode = r.plan.modes.find(n.qualname);
      rows.push_back({n.qualname, ex, term::format_ns(n.cpu_ns), term::format_ns(r.model.node_time_ns(n, ex)),
                      mode == r.plan.modes.end() ? "" : mode->second});
    }
    out.table({"moves", "to", "cpu time", "time there", "mode"}, rows);
    if (moved.size() > shown) out.info("... and " + std::to_string(moved.size() - shown) + " more (see plan.json)");
  }
  out.line();
  std::vector<std::vector<std::string>> stages;
  for (const auto& s : r.breakdown.stages)
    stages.push_back({s.executor + (s.executor == r.breakdown.bottleneck ? " *" : ""), term::format_ns(s.stage_ns),
                      term::format_ns(s.node_ns), term::format_ns(s.transfer_ns), term::format_ns(s.train_ns),
                      std::to_string(s.nodes)});
  out.table({"executor", "stage/batch", "compute", "transfers", "training", "contexts"}, stages);
  out.line();
  out.line("cost per batch     " + term::format_ns(r.breakdown.cost) + " (bottleneck " + r.breakdown.bottleneck +
           ") vs all-cpu " + term::format_ns(r.breakdown.baseline_cost));
  out.line("predicted speedup  " + out.bold(fixed(r.breakdown.predicted_speedup, 2) + "x"));
  out.line("lower bound        " + term::format_ns(r.partition.lower_bound) + " (gap " +
           fixed(100 * r.partition.gap(), 2) + " %" + (r.partition.proved_optimal ? ", proved optimal" : "") + ")");
  out.line("greedy baseline    " + term::format_ns(r.partition.greedy.cost));
  out.line();
  if (r.parallelism) {
    const graph::Parallelism& p = *r.parallelism;
    std::vector<std::vector<std::string>> rows;
    for (const graph::WorkerSetting& s : p.settings)
      rows.push_back({std::to_string(s.workers) + (s.workers == p.workers ? " *" : ""), term::format_ns(s.plan_cost),
                      term::format_ns(s.plain_cost), s.limit});
    out.table({"workers", "plan/batch", "plain/batch", "limited by"}, rows);
    out.line();
    out.line("workers            " + out.bold(std::to_string(p.workers)) + " x " +
             std::to_string(p.threads_per_worker) + " thread(s) each (torch and BLAS), main process " +
             std::to_string(p.main_threads) + " thread(s)");
    out.line("best plain loader  " + std::to_string(p.plain_workers) + " workers, " + term::format_ns(p.plain_cost) +
             "/batch");
    if (p.untouched_workers >= 0 && p.untouched_cost > 0)
      out.line("vs traced loader   " + std::to_string(p.untouched_workers) + " workers, " +
               term::format_ns(p.untouched_cost) + "/batch: predicted " +
               fixed(p.untouched_cost / std::max(r.breakdown.cost, 1.0), 2) + "x");
    if (p.suggested_batch_size > 0)
      out.line("batch size         " + std::to_string(p.suggested_batch_size) + ": " + p.batch_size_reason);
    out.line();
  }
  if (!opt.export_dir.empty()) {
    graph::export_result(dag, r, opt.export_dir);
    out.ok("wrote dag.json, coarsened_dag.json, partitions.json, plan.json, dag.dot, summary.md to " + opt.export_dir);
  }
  if (!opt.output.empty()) {
    r.plan.save(opt.output);
    out.ok("wrote plan " + opt.output);
  }
  const size_t moved_functions = r.plan.context_device_map.size();
  const std::string predicted =
      "predicted " + fixed(r.breakdown.predicted_speedup, 2) + "x in " + fixed(r.seconds * 1000, 1) + " ms";
  if (moved_functions > 0) {
    out.ok("plan: " + std::to_string(moved_functions) + (moved_functions == 1 ? " function" : " functions") +
           " moved, " + predicted);
  } else {
    // A plan that moves nothing is an answer, not a success: said so, with what is left of it.
    out.warn("plan: nothing moved (no placement is predicted faster than where each function runs now)" +
             std::string(r.parallelism ? "; its advice is the worker count above" : "") + ", " + predicted);
  }
}

}  // namespace

void add_optimize_command(CLI::App& app, Context& /*ctx*/) {
  auto opt = std::make_shared<OptimizeOptions>();
  auto* cmd = app.add_subcommand("optimize", "Decide which contexts of a pipeline DAG run where and write the plan");
  cmd->add_option("file", opt->file, "DAG file (codedag.dag/1)")->required();
  graph::OptimizerOptions& o = opt->optimizer;
  cmd->add_option("--k", o.k, "Partitions: cpu plus k-1 main-process executors (default: 1 + GPUs, at least 2)")
      ->check(whole_number(2, graph::kMaxGpus + 1));
  cmd->add_option("--gpus", o.gpu_count, "GPUs to plan for (cuda:0 ...)")
      ->capture_default_str()
      ->check(whole_number(0, graph::kMaxGpus));
  cmd->add_option("--workers", opt->workers,
                  "DataLoader workers: a count (default: the device model's, else the DAG's) or 'auto' to choose it "
                  "(0 to --max-workers) with the threads per worker")
      ->check(whole_number_or("auto", 0, graph::kMaxWorkers));
  cmd->add_option("--max-workers", o.max_workers, "With --workers auto: the largest count scored (0: 2 x cores)")
      ->capture_default_str()
      ->check(whole_number(0, graph::kMaxWorkers));
  cmd->add_option("--cores", opt->cores,
                  "CPUs the job may use: a number or 'auto' (this machine: cgroup quota, affinity; the default "
                  "with --workers auto when the device model gives none)");
  cmd->add_option("--device-model", opt->device_model, "Device model file (codedag.device_model/1)");
  cmd->add_option("-o,--output", opt->output, "Write the plan (codedag.plan/1) here");
  cmd->add_option("--export-dir", opt->export_dir,
                  "Write dag.json, coarsened_dag.json, partitions.json, plan.json, dag.dot, summary.md here");
  cmd->add_option("--seed", o.seed, "Seed of the refinement order")->capture_default_str();
  cmd->add_option("--coarsen-max-depth", o.coarsen_max_depth, "Fold contexts deeper than this")->capture_default_str();
  cmd->add_option("--max-iterations", o.max_iterations, "Refinement passes")->capture_default_str();
  cmd->add_option("--algorithm", o.algorithm, "auto, exact, parametric or greedy")->capture_default_str();
  cmd->add_option("--preset", o.preset, "default, fast or exact")->capture_default_str();
  cmd->callback([opt] { run(*opt); });
}

}  // namespace codedag::cli
