#include "codedag/cli/command.hpp"

namespace codedag::cli {

// The store area's subcommands are added here, one add_<name>_command per <name>_cmd.cpp.
void add_store_commands(CLI::App& /*app*/, Context& /*ctx*/) {}

}  // namespace codedag::cli
