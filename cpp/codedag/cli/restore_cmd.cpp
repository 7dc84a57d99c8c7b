// codedag restore ARCHIVE...: bring backed-up runs into the store (never overwriting).
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/archive.hpp"

namespace codedag::cli {
namespace {

void run_restore(const std::vector<std::string>& archives) {
  store::Store s = open_store();
  term::Printer out;
  for (const auto& a : archives) {
    std::vector<std::string> notes;
    const std::string id = store::restore_run(s, a, notes);
    out.ok("restored " + term::printable(id) + " from " + term::printable(a));
    for (const auto& n : notes) out.info(term::printable(n));
  }
}

}  // namespace

void add_restore_command(CLI::App& app, Context& /*ctx*/) {
  auto archives = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("restore", "Restore runs from archives written by codedag backup");
  cmd->add_option("archives", *archives, "Archive files (*.codedag.tar)")->required()->check(CLI::ExistingFile);
  cmd->callback([archives] { run_restore(*archives); });
}

}  // namespace codedag::cli
