#include "codedag/runner/sweep_report.hpp"
#include "codedag/common/terminal.hpp"

#include "codedag/common/error.hpp"
#include "codedag/runner/cell_run.hpp"
#include "codedag/runner/failure.hpp"
#include "codedag/runner/log_tail.hpp"
#include "codedag/store/run_format.hpp"

namespace codedag::runner {
namespace {

// The metric's value in a run record: the best (dump_metric) first, else the last logged value.
json metric_value(const json& record, const std::string& key) {
  if (key.empty() || !record.is_object()) return nullptr;
  for (const char* where : {"metrics", "last"}) {
    const json group = record.value(where, json::object());
    if (!group.is_object() || !group.contains(key)) continue;
    const json& v = group[key];
    if (v.is_number()) return v;
    if (v.is_object() && v.contains("value") && v["value"].is_number()) return v["value"];
  }
  return nullptr;
}

std::string text_of(const json& v, const std::string& fallback = "-") {
  if (v.is_null()) return fallback;
  if (v.is_string()) return v.get<std::string>();
  return store::format_value(v);
}

}  // namespace

std::pair<std::string, std::string> parse_metric_option(const std::string& text) {
  if (text.empty()) return {"", ""};
  const size_t colon = text.find(':');
  const std::string key = text.substr(0, colon);
  const std::string dir = colon == std::string::npos ? "max" : text.substr(colon + 1);
  if (key.empty() || (dir != "max" && dir != "min"))
    throw InputError("--metric '" + text + "': write NAME, NAME:max or NAME:min (e.g. --metric acc:max)");
  return {key, dir};
}

json cell_json(const Manifest& m, const SweepDir& dir, const CellState& s) {
  const ManifestCell& cell = m.cells[static_cast<size_t>(s.cell)];
  json params = json::object();
  for (const auto& p : cell.params) params[p.key] = p.value;
  json runs = json::array();
  for (const auto& a : s.attempts) runs.push_back(a.ref.test_name);
  json j{{"cell", s.cell},     {"params", params},     {"run", nullptr},
         {"status", s.status}, {"exit_code", nullptr}, {"attempts", s.attempts.size()},
         {"runs", runs}};
  const AttemptState* cur = s.current();
  if (!cur) return j;
  const json& r = cur->record;
  j["run"] = cur->ref.test_name;
  const json exit = r.value("exit", json::object());
  if (exit.is_object() && exit.contains("code")) j["exit_code"] = exit["code"];
  if (exit.is_object() && exit.contains("signal")) j["signal"] = exit["signal"];
  if (r.contains("duration") && r["duration"].is_number()) j["duration"] = r["duration"];
  const std::string metric_key = parse_metric_option(m.policy.metric).first;
  if (!metric_key.empty()) j["metric"] = metric_value(r, metric_key);
  j["log"] = r.value("log", dir.log_path(s.cell, cur->ref.test_name));
  if (s.status != "finished" && !s.in_flight()) {
    const json failure = r.value("failure", json::object());
    j["cause"] = failure.is_object() ? failure.value("cause", std::string()) : std::string();
    j["kind"] = failure.is_object() ? failure.value("kind", std::string()) : std::string();
    if (s.status == "dead" && j["cause"] == "") {
      const json dead = r.value("dead", json::object());
      j["cause"] =
          "dead: " + (dead.is_object() ? dead.value("reason", std::string("process vanished")) : "process vanished");
      j["kind"] = "dead";
    }
    std::vector<std::string> tail;
    const std::string log = j["log"].is_string() ? j["log"].get<std::string>() : "";
    tail = last_lines(read_log_tail(log, 16 * 1024), 5);
    if (tail.empty() && r.contains("log_tail") && r["log_tail"].is_array())
      for (const auto& l : r["log_tail"])
        if (l.is_string()) tail.push_back(l.get<std::string>());
    if (tail.size() > 5) tail.erase(tail.begin(), tail.end() - 5);
    j["log_tail"] = tail;
  }
  return j;
}

json summary_json(const Manifest& m, const SweepDir& dir, const std::vector<CellState>& states,
                  const std::string& stopped) {
  json cells = json::array();
  for (const CellState& s : states) cells.push_back(cell_json(m, dir, s));
  json counts = json::object();
  for (const auto& [status, n] : count_statuses(states)) counts[status] = n;
  json j{{"schema", "codedag.sweep_summary/1"},
         {"sweep", m.id},
         {"name", m.name},
         {"dir", dir.path()},
         {"command", m.command},
         {"status", counts},
         {"stopped", stopped.empty() ? json(nullptr) : json(stopped)},
         {"metric", m.policy.metric.empty() ? json(nullptr) : json(m.policy.metric)},
         {"best", nullptr},
         {"cells", cells}};
  const auto [key, direction] = parse_metric_option(m.policy.metric);
  if (!key.empty()) {
    const json* best = nullptr;
    for (const json& c : j["cells"]) {
      if (c["status"] != "finished" || !c.contains("metric") || !c["metric"].is_number()) continue;
      const double v = c["metric"].get<double>();
      if (!best || (direction == "max" ? v > (*best)["metric"].get<double>() : v < (*best)["metric"].get<double>()))
        best = &c;
    }
    if (best) j["best"] = json{{"cell", (*best)["cell"]}, {"run", (*best)["run"]}, {"metric", (*best)["metric"]}};
  }
  return j;
}

void print_summary(term::Printer& out, const json& summary, double seconds, size_t tail_lines) {
  const bool has_metric = summary["metric"].is_string();
  std::vector<std::string> headers = {"", "cell", "params", "status", "cause", "duration"};
  if (has_metric) headers.push_back(summary["metric"].get<std::string>());
  headers.push_back("run");
  std::vector<std::vector<std::string>> rows;
  int passed = 0, failed = 0;
  for (const json& c : summary["cells"]) {
    const std::string status = c["status"].get<std::string>();
    const bool ok = status == "finished";
    passed += ok;
    failed += !ok;
    std::string ptext;
    for (const auto& [k, v] : c["params"].items()) ptext += (ptext.empty() ? "" : " ") + k + "=" + text_of(v);
    std::vector<std::string> row = {ok ? out.green("✓") : out.red("✗"),
                                    std::to_string(c["cell"].get<int>()),
                                    term::printable(ptext.empty() ? "-" : ptext),
                                    status,
                                    term::printable(c.value("cause", std::string(ok ? "" : "-"))),
                                    store::format_duration(c.value("duration", -1.0))};
    if (row[4].empty()) row[4] = "-";
    if (has_metric) row.push_back(text_of(c.value("metric", json(nullptr))));
    row.push_back(text_of(c["run"]));
    rows.push_back(std::move(row));
  }
  if (rows.empty()) {
    out.warn("the sweep has no cells");
  } else {
    out.table(headers, rows);
  }
  for (const json& c : summary["cells"]) {
    if (c["status"] == "finished" || c["status"] == "running" || c["status"] == "queued" || c["status"] == "pending")
      continue;
    out.line();
    out.fail("cell " + std::to_string(c["cell"].get<int>()) + " " + c["status"].get<std::string>() + ": " +
             term::printable(c.value("cause", std::string("-"))));
    if (c.contains("log") && c["log"].is_string()) out.line("  log: " + term::printable(c["log"].get<std::string>()));
    const json tail = c.value("log_tail", json::array());
    const size_t skip = tail.size() > tail_lines ? tail.size() - tail_lines : 0;
    for (size_t i = skip; i < tail.size(); ++i) out.line("  | " + term::printable(tail[i].get<std::string>()));
  }
  if (summary["best"].is_object())
    out.ok("best: cell " + std::to_string(summary["best"]["cell"].get<int>()) + " (" +
           summary["metric"].get<std::string>() + " = " + text_of(summary["best"]["metric"]) + ", run " +
           text_of(summary["best"]["run"]) + ")");
  if (summary["stopped"].is_string()) out.warn(term::printable(summary["stopped"].get<std::string>()));
  std::string counts;
  for (const char* status : kStatusOrder)
    if (summary["status"].contains(status))
      counts += (counts.empty() ? "" : ", ") + std::to_string(summary["status"][status].get<int>()) + " " + status;
  out.info("sweep " + summary["sweep"].get<std::string>() + ": " + (counts.empty() ? "no cells" : counts) +
           " — details: codedag sweep status " + summary["sweep"].get<std::string>());
  out.summary("cells", passed, failed, seconds);
}

void print_cell_event(term::Printer& out, const json& c) {
  std::string params;
  for (const auto& [k, v] : c["params"].items()) params += (params.empty() ? "" : " ") + k + "=" + text_of(v);
  const std::string head =
      "cell " + std::to_string(c["cell"].get<int>()) + (params.empty() ? "" : " " + term::printable(params));
  const std::string run = c["run"].is_string() ? " (run " + c["run"].get<std::string>() + ")" : "";
  const std::string status = c["status"].get<std::string>();
  if (status == "finished") {
    std::string metric;
    if (c.contains("metric") && c["metric"].is_number()) metric = ", metric " + text_of(c["metric"]);
    out.ok(head + " finished in " + store::format_duration(c.value("duration", -1.0)) + metric + run);
  } else {
    out.fail(head + " " + status + ": " + term::printable(c.value("cause", std::string("-"))) + run);
    if (c.contains("log") && c["log"].is_string()) out.line("  log: " + term::printable(c["log"].get<std::string>()));
  }
}

}  // namespace codedag::runner
