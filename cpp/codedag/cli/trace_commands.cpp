#include "codedag/cli/command.hpp"

namespace codedag::cli {

// The trace area's subcommands are added here, one add_<name>_command per <name>_cmd.cpp.
void add_trace_commands(CLI::App& /*app*/, Context& /*ctx*/) {}

}  // namespace codedag::cli
