#include "codedag/cli/command.hpp"

namespace codedag::cli {

void add_panel_command(CLI::App& app, Context& ctx);

// The server area's subcommands: the panel.
void add_server_commands(CLI::App& app, Context& ctx) { add_panel_command(app, ctx); }

}  // namespace codedag::cli
