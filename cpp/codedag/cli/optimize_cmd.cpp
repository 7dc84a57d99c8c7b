// codedag optimize FILE: decide which contexts of a pipeline DAG run where, print the plan and
// write it (codedag.plan/1) and, on request, every file of the optimisation.
#include <algorithm>
#include <memory>
#include <optional>
#include <sstream>

#include "codedag/cli/command.hpp"
#include "codedag/cli/usage.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/graph/model/pipeline_check.hpp"
#include "codedag/graph/optimizer.hpp"

namespace codedag::cli {
namespace {

// The optimizer's own options (graph::OptimizerOptions, the struct Python's OptimizerManager fills
// too) plus what only the command has: files.
struct OptimizeOptions {
  std::string file;
  graph::OptimizerOptions optimizer;
  int64_t workers = 0;  // 0: not given (the device model's, else the DAG's)
  std::string device_model;
  std::string output;
  std::string export_dir;
};

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
  if (opt.workers != 0) o.workers = opt.workers;
  if (!opt.device_model.empty()) o.device_model = graph::DeviceModel::load(opt.device_model);
  o.validate();
  const graph::OptimizeResult r = graph::optimize(dag, o);

  std::string executors;
  for (const auto& e : r.executors) executors += (executors.empty() ? "" : ", ") + e;
  out.header("CodeDAG optimize",
             {{"DAG", opt.file + " (" + std::to_string(dag.nodes().size()) + " contexts)"},
              {"coarsened", std::to_string(r.coarse.dag.nodes().size()) + " contexts, " + std::to_string(r.groups) +
                                " functions (max depth " + std::to_string(o.coarsen_max_depth) + ")"},
              {"executors", executors},
              {"k", std::to_string(r.k)},
              {"workers", std::to_string(r.model.workers)},
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
  if (!opt.export_dir.empty()) {
    graph::export_result(dag, r, opt.export_dir);
    out.ok("wrote dag.json, coarsened_dag.json, partitions.json, plan.json, dag.dot, summary.md to " + opt.export_dir);
  }
  if (!opt.output.empty()) {
    r.plan.save(opt.output);
    out.ok("wrote plan " + opt.output);
  }
  const size_t moved_functions = r.plan.context_device_map.size();
  out.ok("plan: " + std::to_string(moved_functions) + (moved_functions == 1 ? " function" : " functions") +
         " moved, predicted " + fixed(r.breakdown.predicted_speedup, 2) + "x in " + fixed(r.seconds * 1000, 1) + " ms");
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
  cmd->add_option("--workers", opt->workers, "DataLoader workers (default: the device model's, else the DAG's)")
      ->check(whole_number(1, 4096));
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
