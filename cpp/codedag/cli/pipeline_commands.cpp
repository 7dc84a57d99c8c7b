#include "codedag/cli/command.hpp"

namespace codedag::cli {

void add_optimize_run_command(CLI::App& app, Context& ctx);

// The pipeline area's subcommands (the closed loop), one add_<name>_command per <name>_cmd.cpp.
void add_pipeline_commands(CLI::App& app, Context& ctx) { add_optimize_run_command(app, ctx); }

}  // namespace codedag::cli
