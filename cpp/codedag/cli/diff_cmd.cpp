// codedag diff A B: what differs between two runs: status, argv, params, versions, metrics, code.
#include <iostream>
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/run_diff.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/run_format.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

struct DiffOptions {
  std::string a, b;
  bool json_out = false, stat = false, no_code = false;
};

void run_diff(const DiffOptions& o, Context& ctx) {
  store::Store s = open_store();
  const store::RunRef ra = s.resolve(o.a), rb = s.resolve(o.b);
  const store::RunId ia = ra.id(), ib = rb.id();
  const json a = store::load_run(ra.info_dir, &ia), b = store::load_run(rb.info_dir, &ib);
  store::RunDiffOptions options;
  options.code = !o.no_code;
  options.code_stat = o.stat;
  const json report = store::diff_runs(ra, a, rb, b, options);
  const std::string code = report.value("code", std::string());
  const std::string code_note = report.value("code_note", std::string());
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
