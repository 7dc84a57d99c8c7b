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

// A recorded number that is a moment: a key such as "at", "time", "started_at" holding Unix seconds
// (between 2001 and 2286) is shown as a local date, not as 1.79616e+09.
bool is_timestamp(const std::string& key, const json& v) {
  if (!v.is_number()) return false;
  const std::string last = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
  const bool named = last == "at" || last == "time" || last == "timestamp" ||
                     (last.size() > 3 && last.compare(last.size() - 3, 3, "_at") == 0);
  const double t = v.get<double>();
  return named && t > 1e9 && t < 1e10;
}

std::string shown_value(const std::string& key, const json& v) {
  return is_timestamp(key, v) ? store::format_time(v.get<double>()) : store::format_value(v);
}

// A titled key/value listing; values stay left-aligned (a column of numbers and text).
void section(term::Printer& out, const std::string& title, const json& object) {
  const json flat = store::flatten(object);
  if (flat.empty()) return;
  out.line();
  out.line(out.bold(title));  // our own words
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : flat.items()) rows.push_back({term::printable(k), term::printable(shown_value(k, v))});
  out.table({"key", "value"}, rows, /*align_numbers=*/false);
}

// Best metrics, one row each: the value, when it was reached, and what dump_metric recorded with it
// (epoch=3, cls_acc=0.91), instead of one row per field of each entry.
void best_metrics(term::Printer& out, const json& best) {
  if (!best.is_object() || best.empty()) return;
  out.line();
  out.line(out.bold("best metrics (dump_metric)"));
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : best.items()) {
    std::string with, when = "-", direction;
    if (v.is_object()) {
      for (const auto& [field, x] : v.items()) {
        if (field == "value") continue;
        if (field == "at") {
          when = shown_value(field, x);
        } else if (field == "cmp") {
          direction = store::format_value(x);
        } else {
          with += (with.empty() ? "" : " ") + field + "=" + store::format_value(x);
        }
      }
    }
    rows.push_back({term::printable(k), term::printable(store::format_value(v)), term::printable(direction), when,
                    with.empty() ? "-" : term::printable(with)});
  }
  out.table({"metric", "best", "cmp", "reached", "recorded with"}, rows, /*align_numbers=*/false);
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
  best_metrics(out, run.value("metrics", json::object()));
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
