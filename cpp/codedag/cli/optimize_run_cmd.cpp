// codedag optimize-run SCRIPT: the closed loop (trace -> optimize -> plan -> apply -> verify ->
// measure -> keep or restore) on the DataLoader a training script builds.
//
// Migration patches live Python functions, so the loop itself runs in Python
// (codedag.pipeline.script_runner); this command finds the interpreter that has codedag installed,
// runs it with the options, and passes its output and exit status through.
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "codedag/cli/command.hpp"
#include "codedag/cli/python_interpreter.hpp"
#include "codedag/cli/usage.hpp"
#include "codedag/common/error.hpp"

namespace codedag::cli {
namespace {

namespace fs = std::filesystem;

struct OptimizeRunOptions {
  std::string script;
  std::string loader;
  std::string plan;
  std::string out = "codedag-optimize";
  std::string python;
  int k = 2;
  int verify_batches = 3;
  int batches = 10;
  int repeats = 5;
  double min_speedup = 1.05;
  std::string budget_s;  // empty: no limit; validated by positive_number and passed on as written
  int seed = 0;
  bool require_kept = false;
  bool keep_workers = false;
  std::vector<std::string> script_args;
};

int run(const OptimizeRunOptions& opt) {
  if (!fs::is_regular_file(opt.script))
    throw InputError("optimize-run: script '" + opt.script + "' does not exist or is not a file");
  if (opt.batches < 2 || opt.repeats < 1 || opt.verify_batches < 1 || opt.k < 2)
    throw InputError(
        "optimize-run: --batches must be at least 2, --repeats and --verify-batches at least 1 and --k at least 2");
  const std::string python = find_python(opt.python);
  require_python_modules(python, {"codedag", "torch"}, "optimize-run");
  std::vector<std::string> args = {python,
                                   "-m",
                                   "codedag.pipeline.script_runner",
                                   "--out",
                                   opt.out,
                                   "--k",
                                   std::to_string(opt.k),
                                   "--verify-batches",
                                   std::to_string(opt.verify_batches),
                                   "--batches",
                                   std::to_string(opt.batches),
                                   "--repeats",
                                   std::to_string(opt.repeats),
                                   "--min-speedup",
                                   std::to_string(opt.min_speedup),
                                   "--seed",
                                   std::to_string(opt.seed)};
  if (!opt.loader.empty()) args.insert(args.end(), {"--loader", opt.loader});
  if (!opt.plan.empty()) args.insert(args.end(), {"--plan", opt.plan});
  if (!opt.budget_s.empty()) args.insert(args.end(), {"--budget-s", opt.budget_s});
  if (opt.require_kept) args.emplace_back("--require-kept");
  if (opt.keep_workers) args.emplace_back("--keep-workers");
  // The script comes after every option: the runner hands all that follows it to the script.
  args.push_back(opt.script);
  if (!opt.script_args.empty()) {
    args.emplace_back("--");
    args.insert(args.end(), opt.script_args.begin(), opt.script_args.end());
  }
  return run_python(args, "optimize-run");
}

}  // namespace

void add_optimize_run_command(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<OptimizeRunOptions>();
  auto* cmd = app.add_subcommand(
      "optimize-run",
      "Closed loop on a training script's DataLoader: trace, optimize (placement and worker count), verify outputs, "
      "measure in interleaved rounds; keep a setting only if equal and faster with confidence");
  cmd->add_option("script", opt->script, "Training script that builds a DataLoader at module level")->required();
  cmd->add_option("--loader", opt->loader, "Global DataLoader (or function returning one) to optimize");
  cmd->add_option("--plan", opt->plan, "Try this plan.json instead of tracing and optimizing");
  cmd->add_option("-o,--out", opt->out, "Directory for plan.json and closed_loop.json")->capture_default_str();
  cmd->add_option("--k", opt->k, "Partitions for the optimizer")->capture_default_str();
  cmd->add_option("--verify-batches", opt->verify_batches, "Batches compared baseline vs migrated")
      ->capture_default_str();
  cmd->add_option("--batches", opt->batches, "Timed batches per throughput measurement")->capture_default_str();
  cmd->add_option("--repeats", opt->repeats, "Interleaved measurement rounds (the interval is over rounds)")
      ->capture_default_str();
  cmd->add_option("--min-speedup", opt->min_speedup,
                  "Lower bound of the 95% speedup interval a setting needs to be kept")
      ->capture_default_str();
  cmd->add_option("--budget-s", opt->budget_s,
                  "Seconds the whole loop may take: its phases share them, and measurement stops adding rounds "
                  "when they are spent (kept only if the interval still clears --min-speedup)")
      ->check(positive_number("seconds"))
      ->type_name("SECONDS");
  cmd->add_flag("--keep-workers", opt->keep_workers,
                "Keep the loader's worker count (do not let the optimizer choose it and threads per worker)");
  cmd->add_option("--seed", opt->seed, "Seed for the verified batches")->capture_default_str();
  cmd->add_flag("--require-kept", opt->require_kept, "Exit 1 when the plan is not kept");
  cmd->add_option("--python", opt->python,
                  "Python interpreter with codedag installed (default: $CODEDAG_PYTHON, "
                  "the one beside this executable, python3)");
  cmd->add_option("script_args", opt->script_args, "Arguments for the script (after --)");
  cmd->callback([opt, &ctx] { ctx.exit_code = run(*opt); });
}

}  // namespace codedag::cli
