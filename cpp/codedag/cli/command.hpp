#pragma once
// The CLI is a table of subcommands. Each area adds its own in one add_<area>_commands function
// (in <area>_commands.cpp), and each subcommand lives in its own <name>_cmd.cpp with an
// add_<name>_command(app, ctx) that declares its options and its run function.
#include <CLI/CLI.hpp>

namespace codedag::cli {

// What every command shares: the exit status it sets (0 ok, 1 the work failed, 2 bad input).
struct Context {
  int exit_code = 0;
};

void add_graph_commands(CLI::App& app, Context& ctx);     // dag, optimize
void add_trace_commands(CLI::App& app, Context& ctx);     // trace
void add_monitor_commands(CLI::App& app, Context& ctx);   // report, monitor
void add_store_commands(CLI::App& app, Context& ctx);     // ls, show, diff, rerun, tag, rm, gc, backup, ...
void add_pipeline_commands(CLI::App& app, Context& ctx);  // optimize-run (the closed loop)
void add_server_commands(CLI::App& app, Context& ctx);    // panel
void add_runner_commands(CLI::App& app, Context& ctx);    // sweep
void add_lint_commands(CLI::App& app, Context& ctx);      // lint

}  // namespace codedag::cli
