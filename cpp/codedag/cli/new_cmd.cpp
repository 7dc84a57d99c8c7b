// codedag new NAME [--template audio|image|tabular]: a competition project's skeleton (seed 001 §2).
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/project/scaffold.hpp"

namespace codedag::cli {
namespace {

struct NewOptions {
  std::string directory;
  std::string template_name = "audio";
};

void run_new(const NewOptions& o) {
  term::Printer out;
  const project::CreatedProject p = project::create_project(o.directory, o.template_name);
  const std::string dir = term::printable(p.directory);
  out.header("codedag new", {{"project", term::printable(p.name)}, {"template", o.template_name}, {"directory", dir}});
  for (const auto& f : p.files) out.info(term::printable(f));
  out.ok("wrote " + std::to_string(p.files.size()) + " files into " + dir);
  out.line();
  out.line("next:");
  out.line("  cd " + dir);
  out.line("  ./setup_environment.sh setup     # .venv with torch and codedag (a few minutes the first time)");
  out.line("  ./setup_environment.sh run       # baseline, closed loop, optimised training, report");
}

}  // namespace

void add_new_command(CLI::App& app, Context& /*ctx*/) {
  auto o = std::make_shared<NewOptions>();
  auto* cmd = app.add_subcommand(
      "new", "Start a competition project: set-up script, pinned requirements, Docker files, experiment script");
  cmd->add_option("name", o->directory, "Directory to create; its last part names the project and its runs")
      ->required();
  std::string names;
  for (const auto& t : project::template_names()) names += (names.empty() ? "" : ", ") + t;
  cmd->add_option("-t,--template", o->template_name, "Data pipeline and model to start from: " + names)
      ->capture_default_str();
  cmd->callback([o] { run_new(*o); });
}

}  // namespace codedag::cli
