#include "codedag/cli/command.hpp"

namespace codedag::cli {

void add_lint_command(CLI::App& app, Context& ctx);

// The lint area's subcommands: checks of training code (one add_<name>_command per <name>_cmd.cpp).
void add_lint_commands(CLI::App& app, Context& ctx) { add_lint_command(app, ctx); }

}  // namespace codedag::cli
