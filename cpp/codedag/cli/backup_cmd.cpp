// codedag backup ID... --to DIR: one self-contained archive per run.
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/atomic_file.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/archive.hpp"

namespace codedag::cli {
namespace {

struct BackupOptions {
  std::vector<std::string> ids;
  std::string to;
};

void run_backup(const BackupOptions& o) {
  store::Store s = open_store();
  make_directories(o.to);
  term::Printer out;
  for (const auto& id : o.ids) out.ok("wrote " + term::printable(store::backup_run(s, id, o.to)));
}

}  // namespace

void add_backup_command(CLI::App& app, Context& /*ctx*/) {
  auto o = std::make_shared<BackupOptions>();
  auto* cmd = app.add_subcommand("backup", "Write runs to self-contained archives (info, blobs, code snapshot)");
  cmd->add_option("ids", o->ids, "Run ids")->required();
  cmd->add_option("--to", o->to, "Directory for the archives (created if missing)")->required();
  cmd->callback([o] { run_backup(*o); });
}

}  // namespace codedag::cli
