#include "codedag/cli/command.hpp"

namespace codedag::cli {

void add_report_command(CLI::App& app, Context& ctx);
void add_monitor_command(CLI::App& app, Context& ctx);

// The monitor area's subcommands: `codedag report` (re-render a result file) and
// `codedag monitor` (sample any command's process tree into the same file format).
void add_monitor_commands(CLI::App& app, Context& ctx) {
  add_report_command(app, ctx);
  add_monitor_command(app, ctx);
}

}  // namespace codedag::cli
