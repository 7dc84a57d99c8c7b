#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/terminal.hpp"

namespace codedag::cli {

store::Store open_store() {
  store::Store s;
  s.set_notice_handler([](const std::string& message) { term::Printer(stderr).warn(term::printable(message)); });
  return s;
}

void print_warnings(const std::vector<std::string>& warnings) {
  term::Printer err(stderr);
  for (const auto& w : warnings) err.warn(term::printable(w));
}

void add_ls_command(CLI::App& app, Context& ctx);
void add_show_command(CLI::App& app, Context& ctx);
void add_diff_command(CLI::App& app, Context& ctx);
void add_rerun_command(CLI::App& app, Context& ctx);
void add_tag_command(CLI::App& app, Context& ctx);
void add_rm_command(CLI::App& app, Context& ctx);
void add_gc_command(CLI::App& app, Context& ctx);
void add_backup_command(CLI::App& app, Context& ctx);
void add_restore_command(CLI::App& app, Context& ctx);
void add_index_command(CLI::App& app, Context& ctx);

// The store area's subcommands: recorded runs (list, inspect, compare, re-run, label, delete,
// back up) and the index. One add_<name>_command per <name>_cmd.cpp.
void add_store_commands(CLI::App& app, Context& ctx) {
  add_ls_command(app, ctx);
  add_show_command(app, ctx);
  add_diff_command(app, ctx);
  add_rerun_command(app, ctx);
  add_tag_command(app, ctx);
  add_rm_command(app, ctx);
  add_gc_command(app, ctx);
  add_backup_command(app, ctx);
  add_restore_command(app, ctx);
  add_index_command(app, ctx);
}

}  // namespace codedag::cli
