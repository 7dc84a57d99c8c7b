#include "codedag/cli/command.hpp"

namespace codedag::cli {

void add_trace_command(CLI::App& app, Context& ctx);

// The trace area's subcommands, one add_<name>_command per <name>_cmd.cpp.
void add_trace_commands(CLI::App& app, Context& ctx) { add_trace_command(app, ctx); }

}  // namespace codedag::cli
