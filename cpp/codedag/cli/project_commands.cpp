#include "codedag/cli/command.hpp"

namespace codedag::cli {

void add_new_command(CLI::App& app, Context& ctx);
void add_completion_command(CLI::App& app, Context& ctx);

// Getting started: a new project's skeleton, and shell completion of the commands above.
// completion is added last: it reads the whole table when it runs, so every command is in it.
void add_project_commands(CLI::App& app, Context& ctx) {
  add_new_command(app, ctx);
  add_completion_command(app, ctx);
}

}  // namespace codedag::cli
