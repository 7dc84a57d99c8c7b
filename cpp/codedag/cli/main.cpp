// codedag: the command-line face of the engine.
#include <cstdio>
#include <exception>

#include "codedag/cli/command.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/common/version.hpp"

namespace {

// Input problems (bad files, unknown ids, wrong arguments) exit 2; failures of the work exit 1.
int exit_code_for(const codedag::Error& e) {
  if (dynamic_cast<const codedag::InputError*>(&e) || dynamic_cast<const codedag::NotFoundError*>(&e)) return 2;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "CodeDAG: trace a PyTorch data pipeline into a DAG, place it on the right executors, "
      "and record every run so it can be found, compared and re-run.",
      "codedag"};
  app.set_version_flag("--version", std::string("codedag ") + codedag::kVersion);
  app.require_subcommand(1);
  app.fallthrough(false);

  codedag::cli::Context ctx;
  using Registrar = void (*)(CLI::App&, codedag::cli::Context&);
  for (const Registrar add :
       {codedag::cli::add_graph_commands, codedag::cli::add_trace_commands, codedag::cli::add_monitor_commands,
        codedag::cli::add_store_commands, codedag::cli::add_pipeline_commands, codedag::cli::add_runner_commands,
        codedag::cli::add_lint_commands, codedag::cli::add_server_commands})
    add(app, ctx);

  codedag::term::Printer err(stderr);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a usage error is bad input like any other: 2.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const codedag::Error& e) {
    // Messages quote ids, paths and file contents: escaped, so none of them can drive the terminal.
    err.fail(codedag::term::printable(e.what(), true));
    return exit_code_for(e);
  } catch (const std::exception& e) {
    err.fail(codedag::term::printable(std::string("internal error: ") + e.what() +
                                      " (please report this with the command you ran)"));
    return 1;
  }
  return ctx.exit_code;
}
