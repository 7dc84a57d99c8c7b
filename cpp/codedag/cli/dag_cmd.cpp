// codedag dag show FILE | codedag dag dot FILE: look at a pipeline DAG.
#include <algorithm>
#include <iostream>
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/common/atomic_file.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/model/dot.hpp"
#include "codedag/graph/model/summary.hpp"

namespace codedag::cli {
namespace {

struct DagOptions {
  std::string file;
  std::string output;
  size_t top = 15;
};

void show(const DagOptions& opt) {
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
  term::Printer(stderr).ok("wrote " + opt.output + " (render: dot -Tsvg " + opt.output + " -o dag.svg)");
}

}  // namespace

void add_dag_command(CLI::App& app, Context& /*ctx*/) {
  auto* dag = app.add_subcommand("dag", "Inspect a pipeline DAG file (codedag.dag/1)");
  dag->require_subcommand(1);
  auto opt = std::make_shared<DagOptions>();

  auto* show_cmd = dag->add_subcommand("show", "Validate a DAG file and print its summary and hottest contexts");
  show_cmd->add_option("file", opt->file, "DAG file (dag.json)")->required();
  show_cmd->add_option("--top", opt->top, "How many of the hottest contexts to list")->capture_default_str();
  show_cmd->callback([opt] { show(*opt); });

  auto* dot_cmd = dag->add_subcommand("dot", "Write a DAG as Graphviz DOT");
  dot_cmd->add_option("file", opt->file, "DAG file (dag.json)")->required();
  dot_cmd->add_option("-o,--output", opt->output, "Where to write (default: standard output)");
  dot_cmd->callback([opt] { dot(*opt); });
}

}  // namespace codedag::cli
