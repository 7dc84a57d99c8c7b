// codedag report RESULTS.json [--out DIR]: re-render the comparison report of an ExperimentMonitor
// result file and print its summary table.
#include <filesystem>
#include <memory>
#include <optional>

#include "codedag/cli/command.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/plan/plan.hpp"
#include "codedag/report/comparison.hpp"
#include "codedag/report/dag_svg.hpp"
#include "codedag/report/html_report.hpp"

namespace codedag::cli {
namespace {

struct ReportOptions {
  std::string file;
  std::string out_dir;
  std::string baseline;
  std::string candidate;
  std::string dag;   // a pipeline DAG drawn into the report
  std::string plan;  // colours the DAG's contexts by this plan's placement
};

void run_report(const ReportOptions& opt) {
  term::Printer out;
  const monitor::ExperimentResult result = monitor::ExperimentResult::load(opt.file);
  const report::Comparison c = report::compare(result, opt.baseline, opt.candidate);
  std::string modes;
  for (const monitor::ModeResult* m : c.modes) modes += (modes.empty() ? "" : ", ") + m->name;
  out.header("report", {{"file", opt.file},
                        {"experiment", result.experiment_name},
                        {"recorded", result.datetime},
                        {"modes", modes.empty() ? "none" : modes}});
  if (c.modes.empty()) {
    out.warn("the file has no modes: nothing to compare (call start_mode/stop_mode before save_json)");
  } else {
    std::vector<std::string> headers{"metric"};
    for (const monitor::ModeResult* m : c.modes) headers.push_back(m->name);
    if (c.candidate) headers.push_back("change");
    std::vector<std::vector<std::string>> rows;
    for (const report::ComparisonRow& r : c.rows) {
      std::vector<std::string> row{r.metric};
      row.insert(row.end(), r.values.begin(), r.values.end());
      if (c.candidate) {
        row.push_back(r.better > 0 ? out.green(r.change) : r.better < 0 ? out.red(r.change) : r.change);
      }
      rows.push_back(std::move(row));
    }
    out.line();
    out.table(headers, rows);
    out.line();
  }
  const std::filesystem::path path(opt.file);
  const std::string dir =
      opt.out_dir.empty() ? (path.has_parent_path() ? path.parent_path().string() : ".") : opt.out_dir;
  std::string dag_svg;
  if (!opt.dag.empty()) {
    const graph::Dag dag = graph::Dag::load(opt.dag);
    std::optional<graph::MigrationPlan> plan;
    if (!opt.plan.empty()) plan = graph::MigrationPlan::load(opt.plan);
    report::DagSvgOptions so;
    so.title = opt.dag + (plan ? " with " + opt.plan : std::string());
    dag_svg = report::render_dag_svg(dag, plan ? &*plan : nullptr, so);
  } else if (!opt.plan.empty()) {
    throw InputError("--plan colours a DAG: give the DAG too (--dag dag.json --plan " + opt.plan + ")");
  }
  const report::ReportFiles files = report::write_report(result, c, dir, path.stem().string(), dag_svg);
  out.ok("wrote " + files.html);
  out.ok("wrote " + files.svg);
  if (c.speedup) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2fx", *c.speedup);
    out.info(std::string("batch-time speedup ") + buf + " (" + c.candidate->name + " vs " + c.baseline->name + ")");
  }
}

}  // namespace

void add_report_command(CLI::App& app, Context& /*ctx*/) {
  auto opt = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand("report",
                                 "Re-render the comparison report (HTML + SVG) of an ExperimentMonitor "
                                 "result file and print its summary table");
  cmd->add_option("results", opt->file, "Result file written by ExperimentMonitor.save_json or codedag monitor")
      ->required();
  cmd->add_option("-o,--out", opt->out_dir, "Directory for <name>_report.html and .svg (default: beside the file)");
  cmd->add_option("--baseline", opt->baseline, "Mode to compare against (default: 'baseline', else the first)");
  cmd->add_option("--candidate", opt->candidate, "Mode compared (default: 'optimization', else the last other)");
  cmd->add_option("--dag", opt->dag, "Pipeline DAG (dag.json) to draw in the report");
  cmd->add_option("--plan", opt->plan, "Migration plan (plan.json) whose placement colours the DAG (needs --dag)");
  cmd->callback([opt] { run_report(*opt); });
}

}  // namespace codedag::cli
