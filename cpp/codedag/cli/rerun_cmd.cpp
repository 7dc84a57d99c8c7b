// codedag rerun ID [--key=value ...] [--at-snapshot]: run a recorded command again.
#include <filesystem>
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/runner/rerun.hpp"
#include "codedag/store/run_format.hpp"

namespace codedag::cli {
namespace {

struct RerunOptions {
  std::string id;
  bool at_snapshot = false;
  bool dry_run = false;
};

void run_rerun(const RerunOptions& o, const std::vector<std::string>& overrides, Context& ctx) {
  store::Store s = open_store();
  const runner::RerunPlan plan = runner::plan_rerun(s, o.id, overrides, o.at_snapshot);
  term::Printer out(stderr);  // stdout belongs to the re-run program
  out.header("rerun " + plan.from,
             {{"command", term::printable(store::shell_join(plan.argv))},
              {"cwd", term::printable(plan.cwd)},
              {"code", plan.commit.empty() ? "the working tree as it is now" : "snapshot " + plan.commit.substr(0, 12)},
              {"overrides", overrides.empty() ? "-" : term::printable(store::shell_join(overrides))}});
  if (o.dry_run) {
    out.info("dry run: nothing executed");
    if (!plan.snapshot_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(plan.snapshot_dir, ec);
    }
    return;
  }
  const int code = runner::execute_rerun(plan);
  if (code == 0) {
    out.ok("rerun of " + plan.from + " finished (exit 0)");
  } else {
    out.fail("rerun of " + plan.from + " exited with " + std::to_string(code));
    ctx.exit_code = 1;
  }
}

}  // namespace

void add_rerun_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RerunOptions>();
  auto* cmd = app.add_subcommand(
      "rerun", "Run a recorded command again (argv with --key=value overrides, no shell), linking both runs");
  cmd->add_option("id", o->id, "Run id to re-run")->required();
  cmd->add_flag("--at-snapshot", o->at_snapshot,
                "Run the recorded code: a temporary checkout of the run's git snapshot, not the working tree");
  cmd->add_flag("--dry-run", o->dry_run, "Print the command that would run, without running it");
  cmd->allow_extras();
  cmd->footer(
      "Overrides: --key=value replaces --key=old, --key old or key=old in the recorded argv; anything not "
      "present is appended.");
  cmd->callback([o, cmd, &ctx] {
    std::vector<std::string> overrides = cmd->remaining();
    if (!overrides.empty() && overrides.front() == "--") overrides.erase(overrides.begin());
    run_rerun(*o, overrides, ctx);
  });
}

}  // namespace codedag::cli
