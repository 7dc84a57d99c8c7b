// codedag show ID: everything recorded about one run.
#include <iostream>
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/layout.hpp"
#include "codedag/store/metric_log.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/run_format.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

struct ShowOptions {
  std::string id;
  bool json_out = false;
  bool env = false;
};

void section(term::Printer& out, const std::string& title, const json& object) {
  const json flat = store::flatten(object);
  if (flat.empty()) return;
  out.line();
  out.line(out.bold(title));  // our own words
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : flat.items()) rows.push_back({term::printable(k), term::printable(store::format_value(v))});
  out.table({"key", "value"}, rows);
}

void run_show(const ShowOptions& o) {
  store::Store s = open_store();
  const store::RunRef ref = s.resolve(o.id);
  std::vector<std::string> warnings;
  const store::RunId id = ref.id();
  const json run = s.check_liveness(ref, store::load_run(ref.info_dir, &id), &warnings);
  const store::MetricSeries series = store::read_metric_series(ref.info_dir + "/" + store::kMetricsFile, warnings);
  print_warnings(warnings);
  if (o.json_out) {
    json j = run;
    j["info_dir"] = ref.info_dir;
    j["series_points"] = series.lines;
    std::cout << j.dump(1) << "\n";
    return;
  }
  term::Printer out;
  std::vector<std::string> argv;
  for (const auto& a : run.value("argv", json::array())) argv.push_back(store::format_value(a));
  const json git = run.value("git", json::object());
  std::string code = "-";
  if (git.value("present", false))
    code = git.value("commit", std::string()).substr(0, 12) +
           (git.value("dirty", false) ? " (dirty working tree)" : "") + "  " + git.value("ref", std::string());
  else if (git.contains("reason"))
    code = "absent: " + git.value("reason", std::string());
  std::string tags;
  for (const auto& t : run.value("tags", json::array())) tags += (tags.empty() ? "" : ", ") + store::format_value(t);
  // Everything below was read from the run's files: escaped (p) before it reaches the terminal.
  const auto p = [](const std::string& text) { return term::printable(text); };
  out.header(
      "run " + ref.name + "/" + ref.test_name,
      {{"status", p(run.value("status", std::string("?"))) + (run.value("deleted", false) ? " (marked deleted)" : "")},
       {"started", store::format_time(run.value("started_at", 0.0))},
       {"ended", store::format_time(run.value("ended_at", 0.0))},
       {"duration", store::format_duration(run.contains("duration") ? run.value("duration", -1.0) : -1.0)},
       {"command", p(store::shell_join(argv))},
       {"cwd", p(run.value("cwd", std::string()))},
       {"host / user", p(run.value("host", std::string()) + " / " + run.value("user", std::string()))},
       {"pid", std::to_string(run.value("pid", 0L))},
       {"code", p(code)},
       {"tags", tags.empty() ? "-" : p(tags)},
       {"info dir", p(ref.info_dir)}});
  section(out, "params (dump_info)", run.value("info", json::object()));
  json best = json::object();
  const json recorded_best = run.value("metrics", json::object());
  for (const auto& [k, v] : recorded_best.items()) best[k] = v;
  section(out, "best metrics (dump_metric)", best);
  json last = run.value("last", json::object());
  if (last.empty()) last = series.last;
  json last_values = json::object();
  for (const auto& [k, v] : last.items())
    last_values[k] = store::format_value(v) + "  (step " + store::format_value(v.value("step", json(nullptr))) + ", " +
                     std::to_string(series.series.contains(k) ? series.series[k].size() : 0) + " points)";
  section(out, "metric series (log_metric, last value)", last_values);
  section(out, "versions", run.value("versions", json::object()));
  section(out, "properties", run.value("properties", json::object()));
  section(out, "attachments", run.value("attachments", json::object()));
  if (o.env) section(out, "environment", run.value("env", json::object()));
  for (const auto& n : run.value("notes", json::array()))
    out.info("note: " + p(store::format_value(n.is_object() ? n.value("text", json("")) : n)));
  const std::string status = run.value("status", std::string());
  if (run.contains("exception")) {
    const json e = run["exception"].is_object() ? run["exception"] : json{{"message", run["exception"]}};
    const auto text = [&](const char* k) { return e.contains(k) ? store::format_value(e[k]) : std::string(); };
    out.line();
    out.fail(p(status + ": " + text("type") + ": " + text("message")));
    if (e.contains("traceback")) out.line(term::printable(text("traceback"), /*keep_newlines=*/true));
  } else if (run.contains("signal")) {
    out.fail(p(status + " by " + store::format_value(run["signal"])));
  } else if (status == "dead") {
    out.fail("dead: its lease expired and its process is gone (last heartbeat " +
             store::format_time(run.value("dead", json::object()).value("last_heartbeat", 0.0)) + ")");
  } else if (status == "finished") {
    out.ok("finished in " + store::format_duration(run.value("duration", -1.0)));
  } else {
    out.info(p(status));
  }
}

}  // namespace

void add_show_command(CLI::App& app, Context& /*ctx*/) {
  auto o = std::make_shared<ShowOptions>();
  auto* cmd = app.add_subcommand("show", "Show everything recorded about one run");
  cmd->add_option("id", o->id, "Run id: test_name, name/test_name, or an unambiguous prefix")->required();
  cmd->add_flag("--json", o->json_out, "Print run.json as JSON");
  cmd->add_flag("--env", o->env, "Also list the recorded environment variables");
  cmd->callback([o] { run_show(*o); });
}

}  // namespace codedag::cli
