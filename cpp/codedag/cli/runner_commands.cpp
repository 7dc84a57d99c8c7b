#include "codedag/cli/command.hpp"

namespace codedag::cli {

void add_sweep_command(CLI::App& app, Context& ctx);

// The runner area's subcommands: running many runs (sweep). One add_<name>_command per <name>_cmd.cpp.
void add_runner_commands(CLI::App& app, Context& ctx) { add_sweep_command(app, ctx); }

}  // namespace codedag::cli
