#include "codedag/cli/command.hpp"

namespace codedag::cli {

void add_dag_command(CLI::App& app, Context& ctx);
void add_optimize_command(CLI::App& app, Context& ctx);

void add_graph_commands(CLI::App& app, Context& ctx) {
  add_dag_command(app, ctx);
  add_optimize_command(app, ctx);
}

}  // namespace codedag::cli
