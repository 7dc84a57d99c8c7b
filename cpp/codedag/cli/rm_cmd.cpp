// codedag rm ID...: mark runs deleted (hidden from ls; erased only by codedag gc).
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

struct RmOptions {
  std::vector<std::string> ids;
  bool undo = false;
};

void run_rm(const RmOptions& o) {
  store::Store s;
  std::vector<store::RunRef> refs;
  for (const auto& id : o.ids) refs.push_back(s.resolve(id));  // all ids valid before any change
  term::Printer out;
  for (const auto& ref : refs) {
    s.update(ref, [&](json& r) {
      r["deleted"] = !o.undo;
      if (o.undo)
        r.erase("deleted_at");
      else
        r["deleted_at"] = store::unix_now();
    });
    out.ok((o.undo ? "restored " : "marked deleted ") + ref.name + "/" + ref.test_name);
  }
  if (!o.undo) out.info("files are kept until `codedag gc`; `codedag rm --undo ID` brings a run back");
}

}  // namespace

void add_rm_command(CLI::App& app, Context& /*ctx*/) {
  auto o = std::make_shared<RmOptions>();
  auto* cmd = app.add_subcommand("rm", "Mark runs deleted (nothing is erased until codedag gc)");
  cmd->add_option("ids", o->ids, "Run ids")->required();
  cmd->add_flag("--undo", o->undo, "Unmark: the runs are listed again");
  cmd->callback([o] { run_rm(*o); });
}

}  // namespace codedag::cli
