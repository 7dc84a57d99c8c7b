// codedag dag show FILE | dot FILE | svg FILE [--plan plan.json]: look at a pipeline DAG.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "codedag/cli/command.hpp"
#include "codedag/common/atomic_file.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/model/dot.hpp"
#include "codedag/graph/model/pipeline_check.hpp"
#include "codedag/graph/model/summary.hpp"
#include "codedag/graph/plan/plan.hpp"
#include "codedag/report/dag_svg.hpp"

namespace codedag::cli {
namespace {

struct DagOptions {
  std::string file;
  std::string output;
  size_t top = 15;
  std::string plan;  // svg: colour by this plan's placement
  std::string title;
  bool no_calls = false;
};

void show(const DagOptions& opt, Context& ctx) {
  term::Printer out;
  const graph::Dag dag = graph::Dag::load(opt.file);
  const graph::DagSummary s = graph::summarize(dag, opt.top);
  std::vector<std::pair<std::string, std::string>> fields = {
      {"file", opt.file},
      {"nodes", std::to_string(s.nodes)},
      {"data edges", std::to_string(s.data_edges)},
      {"call edges", std::to_string(s.call_edges)},
      {"max depth", std::to_string(s.max_depth)},
      {"CPU per batch", term::format_ns(s.total_cpu_ns)},
      {"GPU-eligible", std::to_string(s.gpu_eligible) + " of " + std::to_string(s.nodes)}};
  for (const auto& [key, value] : dag.meta.items())
    fields.emplace_back("meta." + key, value.is_string() ? value.get<std::string>() : value.dump());
  out.header("DAG", fields);
  std::vector<std::vector<std::string>> rows;
  for (const graph::Node* n : s.hottest)
    rows.push_back({std::to_string(n->id), n->name, std::to_string(n->calls), term::format_ns(n->cpu_ns),
                    term::format_ns(n->total_ns), term::format_bytes(n->out_bytes), n->gpu_eligible ? "yes" : "no"});
  out.line();
  out.table({"id", "context", "calls", "cpu", "total", "out", "gpu"}, rows);
  out.line();
  // A valid file can still hold nothing to optimize (an empty trace): that is a failure, with its cause.
  if (const graph::PipelineVerdict v = graph::check_pipeline(dag); !v.usable) {
    out.fail("valid " + std::string(graph::kDagSchema) + ", but " + v.problem + ": " + v.cause);
    ctx.exit_code = 1;
    return;
  }
  out.ok("valid " + std::string(graph::kDagSchema) + ": " + std::to_string(s.nodes) + " contexts, hottest " +
         (s.hottest.empty() ? std::string("none") : s.hottest.front()->name));
}

void dot(const DagOptions& opt) {
  const graph::Dag dag = graph::Dag::load(opt.file);
  const std::string text = graph::to_dot(dag);
  if (opt.output.empty() || opt.output == "-") {
    std::cout << text;
    return;
  }
  write_file_atomic(opt.output, text);
  term::Printer(stderr).ok("wrote " + opt.output + " (render with Graphviz: dot -Tsvg " + opt.output +
                           " -o dag.svg; without it: codedag dag svg " + opt.file + " -o dag.svg)");
}

void svg(const DagOptions& opt) {
  term::Printer err(stderr);
  const graph::Dag dag = graph::Dag::load(opt.file);
  std::optional<graph::MigrationPlan> plan;
  if (!opt.plan.empty()) plan = graph::MigrationPlan::load(opt.plan);
  report::DagSvgOptions so;
  so.title = opt.title.empty() ? opt.file + (plan ? " with " + opt.plan : std::string()) : opt.title;
  so.call_edges = !opt.no_calls;
  const std::string text = report::render_dag_svg(dag, plan ? &*plan : nullptr, so);
  if (opt.output == "-") {
    std::cout << text;
  } else {
    write_file_atomic(opt.output, text);
  }
  if (dag.nodes().empty()) {
    err.warn("the DAG has no context (an empty trace): the picture only says so");
    return;
  }
  const report::NodePlacementInfo where = report::node_executors(dag, plan ? &*plan : nullptr);
  size_t moved = 0;
  for (const std::string& e : where.executor) moved += e != "cpu";
  const std::string placement =
      plan ? std::to_string(moved) + " of " + std::to_string(dag.nodes().size()) + " contexts off the cpu workers"
           : "no plan: every context on cpu";
  if (plan && moved == 0) err.warn("the plan moves no context of this DAG (are they the same pipeline?)");
  if (opt.output != "-")
    err.ok("wrote " + opt.output + ": " + std::to_string(dag.nodes().size()) + " contexts, " + placement);
}

}  // namespace

void add_dag_command(CLI::App& app, Context& ctx) {
  auto* dag = app.add_subcommand("dag", "Inspect a pipeline DAG file (codedag.dag/1)");
  dag->require_subcommand(1);
  auto opt = std::make_shared<DagOptions>();

  auto* show_cmd = dag->add_subcommand("show", "Validate a DAG file and print its summary and hottest contexts");
  show_cmd->add_option("file", opt->file, "DAG file (dag.json)")->required();
  show_cmd->add_option("--top", opt->top, "How many of the hottest contexts to list")->capture_default_str();
  show_cmd->callback([opt, &ctx] { show(*opt, ctx); });

  auto* dot_cmd = dag->add_subcommand("dot", "Write a DAG as Graphviz DOT");
  dot_cmd->add_option("file", opt->file, "DAG file (dag.json)")->required();
  dot_cmd->add_option("-o,--output", opt->output, "Where to write (default: standard output)");
  dot_cmd->callback([opt] { dot(*opt); });

  auto* svg_cmd = dag->add_subcommand(
      "svg", "Draw a DAG as SVG (layered layout; contexts coloured by the executor a plan gives them)");
  svg_cmd->add_option("file", opt->file, "DAG file (dag.json)")->required();
  svg_cmd->add_option("--plan", opt->plan, "Migration plan (plan.json) whose placement colours the contexts");
  svg_cmd->add_option("-o,--output", opt->output, "Where to write the SVG ('-': standard output)")->required();
  svg_cmd->add_option("--title", opt->title, "Title above the picture (default: the file names)");
  svg_cmd->add_flag("--no-calls", opt->no_calls, "Leave out the parent -> child call edges");
  svg_cmd->callback([opt] { svg(*opt); });
}

}  // namespace codedag::cli
