#pragma once
// `codedag new NAME`: a competition project in seed 001 §2's shape (set-up script, pinned
// requirements, Dockerfile and compose file, an experiment script on ExperimentMonitor, Experiment
// and optimize_pipeline, a README), written from the templates compiled into the engine.
#include <string>
#include <utility>
#include <vector>

namespace codedag::project {

// The templates there are (audio, image, tabular), sorted.
std::vector<std::string> template_names();

// The files of a project named `name` from `template_name`: relative path -> content, placeholders
// filled. InputError for an unknown template or a name that cannot be an experiment name.
std::vector<std::pair<std::string, std::string>> render_project(const std::string& name,
                                                                const std::string& template_name);

struct CreatedProject {
  std::string directory;           // as given
  std::string name;                // its last component
  std::vector<std::string> files;  // relative paths, in the order written
};

// Writes the project into `directory` (which must not exist; its parent must). The files are
// written into a staging directory beside it that is renamed into place without replacing
// anything, so the project appears whole or not at all and nothing is ever overwritten.
CreatedProject create_project(const std::string& directory, const std::string& template_name);

}  // namespace codedag::project
