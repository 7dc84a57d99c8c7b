// codedag rm ID...: mark runs deleted (hidden from ls; erased only by codedag gc). A run whose
// process still holds its lease is never marked; --force covers only a lease that expired on a
// host this machine cannot check.
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

struct RmOptions {
  std::vector<std::string> ids;
  bool undo = false;
  bool force = false;
};

void run_rm(const RmOptions& o, Context& ctx) {
  store::Store s = open_store();
  std::vector<store::RunRef> refs;
  for (const auto& id : o.ids) refs.push_back(s.resolve(id));  // all ids valid before any change
  term::Printer out;
  int done = 0, refused = 0;
  for (const auto& ref : refs) {
    const std::string shown = term::printable(ref.name + "/" + ref.test_name);
    try {
      s.mark_deleted(ref, !o.undo, o.force);
      out.ok((o.undo ? "restored " : "marked deleted ") + shown);
      ++done;
    } catch (const StateError& e) {
      term::Printer(stderr).fail(term::printable(e.what()));
      ++refused;
    }
  }
  if (!o.undo && done > 0) out.info("files are kept until `codedag gc`; `codedag rm --undo ID` brings a run back");
  if (refused > 0) {
    out.summary(o.undo ? "restored" : "marked deleted", done, refused);
    ctx.exit_code = 1;
  }
}

}  // namespace

void add_rm_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RmOptions>();
  auto* cmd = app.add_subcommand("rm", "Mark runs deleted (nothing is erased until codedag gc)");
  cmd->add_option("ids", o->ids, "Run ids")->required();
  cmd->add_flag("--undo", o->undo, "Unmark: the runs are listed again");
  cmd->add_flag("--force", o->force,
                "Also mark runs still recorded as running whose lease expired on another host (never a live run)");
  cmd->callback([o, &ctx] { run_rm(*o, ctx); });
}

}  // namespace codedag::cli
