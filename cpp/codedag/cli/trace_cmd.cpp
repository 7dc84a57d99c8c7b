// codedag trace script.py [args...]: run a script under the tracer (Python side:
// codedag.pipeline.trace_main) and summarise the DAG it wrote.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/python_interpreter.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/model/pipeline_check.hpp"
#include "codedag/graph/model/summary.hpp"

namespace codedag::cli {
namespace {
namespace fs = std::filesystem;

struct TraceOptions {
  std::string out = "codedag-trace";
  int batches = 0;
  int max_depth = 10;
  std::vector<std::string> include, exclude;
  size_t top = 15;
};

void summarize(const TraceOptions& opt, const fs::path& dag_path) {
  term::Printer out;
  const graph::Dag dag = graph::Dag::load(dag_path.string());
  const graph::DagSummary s = graph::summarize(dag, opt.top);
  std::vector<std::vector<std::string>> rows;
  for (const graph::Node* n : s.hottest)
    rows.push_back({std::to_string(n->id), n->name, std::to_string(n->calls), term::format_ns(n->cpu_ns),
                    term::format_ns(n->total_ns), term::format_bytes(n->out_bytes), n->gpu_eligible ? "yes" : "no"});
  out.line();
  out.line(out.bold("hottest contexts (per batch)"));
  out.table({"id", "context", "calls", "cpu", "total", "out", "gpu"}, rows);
  out.line();
  const std::string counts = std::to_string(s.nodes) + " contexts, " + std::to_string(s.data_edges) + " data edges, " +
                             std::to_string(s.gpu_eligible) + " GPU-eligible; CPU per batch " +
                             term::format_ns(s.total_cpu_ns);
  // An empty or trivial DAG is a tracing mistake far more often than a pipeline: said, with its cause.
  const graph::PipelineVerdict verdict = graph::check_pipeline(dag);
  if (verdict.usable)
    out.ok(counts);
  else
    out.warn(counts + " — nothing to optimize (" + verdict.message() + ")");
}

int run(const TraceOptions& opt, const std::vector<std::string>& rest) {
  if (rest.empty()) throw InputError("trace: give the script to trace: codedag trace [options] script.py [args...]");
  const std::string& script = rest.front();
  if (!fs::is_regular_file(script))
    throw InputError("trace: no such script '" + script + "' (give the path of a Python file)");
  // Options after the script are the script's (it may have a --batches of its own): said, not guessed.
  for (size_t i = 1; i < rest.size(); ++i) {
    const std::string flag = rest[i].substr(0, rest[i].find('='));
    for (const char* own : {"--batches", "--max-depth", "--out", "--include", "--exclude", "--top"})
      if (flag == own)
        term::Printer(stderr).warn(std::string(own) + " after the script goes to the script, not to codedag trace; " +
                                   "to trace with it, put it before the script: codedag trace " + own + " ... " +
                                   term::printable(script));
  }
  if (opt.batches < 0) throw InputError("trace: --batches must be >= 0");
  if (opt.max_depth < 1) throw InputError("trace: --max-depth must be >= 1");
  term::Printer out;
  const std::string python = find_python();
  require_python_modules(python, {"codedag"}, "trace");
  out.header("codedag trace",
             {{"script", script},
              {"batches", opt.batches ? std::to_string(opt.batches) + " (first DataLoader)" : "whole script"},
              {"max depth", std::to_string(opt.max_depth)},
              {"out", opt.out},
              {"python", python}});
  std::fflush(stdout);
  std::vector<std::string> args = {python,
                                   "-m",
                                   "codedag.pipeline.trace_main",
                                   "--out",
                                   opt.out,
                                   "--batches",
                                   std::to_string(opt.batches),
                                   "--max-depth",
                                   std::to_string(opt.max_depth)};
  for (const auto& p : opt.include) args.insert(args.end(), {"--include", p});
  for (const auto& p : opt.exclude) args.insert(args.end(), {"--exclude", p});
  args.push_back("--");
  args.insert(args.end(), rest.begin(), rest.end());
  const int rc = run_python(args, "trace");
  const fs::path dag_path = fs::path(opt.out) / "dag.json";
  if (!fs::exists(dag_path)) {
    term::Printer(stderr).fail("trace: no DAG was written (the interpreter exited with " + std::to_string(rc) + ")");
    return rc ? rc : 1;
  }
  summarize(opt, dag_path);
  if (rc != 0)
    term::Printer(stderr).warn("the script exited with status " + std::to_string(rc) + "; the DAG holds what ran");
  return rc;
}

}  // namespace

void add_trace_command(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<TraceOptions>();
  auto* cmd = app.add_subcommand("trace", "Run a Python script under the tracer; write dag.json and trace.json");
  cmd->add_option("--out", opt->out, "Directory for dag.json and trace.json")->capture_default_str();
  cmd->add_option("--batches", opt->batches,
                  "Trace only the first N batches of the first DataLoader the script iterates, then stop it "
                  "(0: trace the whole script)")
      ->capture_default_str();
  cmd->add_option("--max-depth", opt->max_depth, "Deepest recorded call level")->capture_default_str();
  cmd->add_option("--include", opt->include, "Record functions matching this pattern (module.qualname or file)");
  cmd->add_option("--exclude", opt->exclude, "Fold functions matching this pattern");
  cmd->add_option("--top", opt->top, "How many of the hottest contexts to list")->capture_default_str();
  cmd->prefix_command();  // everything from the script on belongs to the script
  // prefix_command hides the script from CLI11's usage line: the footer says it.
  cmd->footer(
      "Usage: codedag trace [OPTIONS] SCRIPT.py [SCRIPT ARGS...]\n"
      "  Options go before the script; everything after the script is passed to it, e.g.\n"
      "  codedag trace --batches 1 examples/trace_demo.py");
  cmd->callback([opt, cmd, &ctx] { ctx.exit_code = run(*opt, cmd->remaining()); });
}

}  // namespace codedag::cli
