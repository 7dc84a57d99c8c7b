// codedag diff A B: what differs between two runs: status, argv, params, versions, metrics, code.
#include <iostream>
#include <memory>
#include <set>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/git_snapshot.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/run_format.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

struct DiffOptions {
  std::string a, b;
  bool json_out = false, stat = false, no_code = false;
};

// Keys whose flattened values differ: {key: [a, b]} (missing side null).
json differing(const json& a, const json& b) {
  const json fa = store::flatten(a), fb = store::flatten(b);
  std::set<std::string> keys;
  for (const auto& [k, v] : fa.items()) keys.insert(k);
  for (const auto& [k, v] : fb.items()) keys.insert(k);
  json out = json::object();
  for (const auto& k : keys) {
    const json va = fa.contains(k) ? fa[k] : json(nullptr), vb = fb.contains(k) ? fb[k] : json(nullptr);
    if (va != vb) out[k] = json::array({va, vb});
  }
  return out;
}

json metric_values(const json& run) {
  json m = json::object();
  const json last = run.value("last", json::object()), best = run.value("metrics", json::object());
  for (const auto& [k, v] : last.items()) m["last." + k] = v.value("value", json(nullptr));
  for (const auto& [k, v] : best.items()) m["best." + k] = v.value("value", json(nullptr));
  return m;
}

void run_diff(const DiffOptions& o, Context& ctx) {
  store::Store s = open_store();
  const store::RunRef ra = s.resolve(o.a), rb = s.resolve(o.b);
  const store::RunId ia = ra.id(), ib = rb.id();
  const json a = store::load_run(ra.info_dir, &ia), b = store::load_run(rb.info_dir, &ib);
  json report = json::object();
  report["a"] = ra.test_name;
  report["b"] = rb.test_name;
  report["status"] = differing(json{{"status", a.value("status", "")}}, json{{"status", b.value("status", "")}});
  report["argv"] = a.value("argv", json::array()) == b.value("argv", json::array())
                       ? json::object()
                       : json{{"argv", json::array({a.value("argv", json::array()), b.value("argv", json::array())})}};
  report["params"] = differing(a.value("info", json::object()), b.value("info", json::object()));
  report["versions"] = differing(a.value("versions", json::object()), b.value("versions", json::object()));
  report["metrics"] = differing(metric_values(a), metric_values(b));
  const json ga = a.value("git", json::object()), gb = b.value("git", json::object());
  std::string code, code_note;
  if (!ga.value("present", false) || !gb.value("present", false)) {
    code_note = "no code snapshot for " + std::string(!ga.value("present", false) ? ra.test_name : rb.test_name);
  } else if (ga.value("commit", "") == gb.value("commit", "")) {
    code_note = "identical code (snapshot " + ga.value("commit", std::string()).substr(0, 12) + ")";
  } else if (ga.value("toplevel", "") != gb.value("toplevel", "")) {
    code_note = "the runs come from different repositories";
  } else if (!o.no_code) {
    code = store::snapshot_diff(ga.value("toplevel", std::string()), ga.value("commit", std::string()),
                                gb.value("commit", std::string()), o.stat);
    code_note = code.empty() ? "identical code" : "";
  }
  report["code"] = code;
  if (!code_note.empty()) report["code_note"] = code_note;
  if (o.json_out) {
    std::cout << report.dump(1) << "\n";
    return;
  }
  term::Printer out;
  out.header("diff", {{"A", term::printable(ra.name + "/" + ra.test_name)},
                      {"B", term::printable(rb.name + "/" + rb.test_name)}});
  int sections_differing = 0;
  for (const char* sec : {"status", "argv", "params", "versions", "metrics"}) {
    const json& d = report[sec];
    if (d.empty()) {
      out.ok(std::string(sec) + ": same");
      continue;
    }
    ++sections_differing;
    out.line();
    out.line(out.bold(sec));
    std::vector<std::vector<std::string>> rows;
    for (const auto& [k, v] : d.items()) {
      auto show = [](const json& x) {
        if (x.is_array()) {
          std::vector<std::string> args;
          for (const auto& e : x) args.push_back(store::format_value(e));
          return store::shell_join(args);
        }
        return store::format_value(x);
      };
      // Keys and values are as recorded: escaped before they reach the terminal.
      rows.push_back({term::printable(k), term::printable(show(v[0])), term::printable(show(v[1]))});
    }
    out.table({"key", "A", "B"}, rows);
  }
  out.line();
  if (!code.empty()) {
    ++sections_differing;
    out.line(out.bold("code"));
    std::cout << term::printable(code, /*keep_newlines=*/true);
    std::cout.flush();
  } else {
    out.info("code: " + term::printable(code_note));
  }
  out.line();
  if (sections_differing == 0)
    out.ok("the runs do not differ in what was recorded");
  else
    out.info(std::to_string(sections_differing) + " section(s) differ");
  (void)ctx;
}

}  // namespace

void add_diff_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DiffOptions>();
  auto* cmd = app.add_subcommand("diff", "Compare two runs: status, argv, params, versions, metrics, code");
  cmd->add_option("a", o->a, "First run id")->required();
  cmd->add_option("b", o->b, "Second run id")->required();
  cmd->add_flag("--json", o->json_out, "Print the differences as JSON");
  cmd->add_flag("--stat", o->stat, "Code: only which files changed (git diff --stat)");
  cmd->add_flag("--no-code", o->no_code, "Skip the code diff");
  cmd->callback([o, &ctx] { run_diff(*o, ctx); });
}

}  // namespace codedag::cli
