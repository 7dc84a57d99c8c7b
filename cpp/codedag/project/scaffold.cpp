#include "codedag/project/scaffold.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <set>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/version.hpp"
#include "codedag/project/template_files.hpp"
#include "codedag/store/run_identity.hpp"

namespace codedag::project {
namespace {
namespace fs = std::filesystem;

constexpr std::string_view kCommon = "common/";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The name goes into Python string literals, shell scripts, a Docker image name and the store's
// experiment names: letters, digits, '_' and '-' only, starting with a letter.
void validate_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 && std::isalpha(static_cast<unsigned char>(name[0])) &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                  });
  if (!ok)
    throw InputError("project name '" + name +
                     "': use 1 to 64 letters, digits, '_' or '-', starting with a letter (e.g. birdclef_2026)");
  store::validate_experiment_name(name);
}

// Template files are stored without a leading dot (a hidden file is easy to lose in a source tree).
std::string output_path(std::string_view relative) {
  return relative == "gitignore" ? std::string(".gitignore") : std::string(relative);
}

}  // namespace

std::vector<std::string> template_names() {
  std::set<std::string> names;
  for (size_t i = 0; i < kTemplateFileCount; ++i) {
    const std::string_view p = kTemplateFiles[i].path;
    const size_t slash = p.find('/');
    if (slash != std::string_view::npos && p.substr(0, slash + 1) != kCommon) names.emplace(p.substr(0, slash));
  }
  return {names.begin(), names.end()};
}

std::vector<std::pair<std::string, std::string>> render_project(const std::string& name,
                                                                const std::string& template_name) {
  validate_name(name);
  const std::vector<std::string> known = template_names();
  if (std::find(known.begin(), known.end(), template_name) == known.end()) {
    std::string list;
    for (const auto& t : known) list += (list.empty() ? "" : ", ") + t;
    throw InputError("unknown template '" + template_name + "'; the templates are: " + list);
  }
  std::string image = name;
  std::transform(image.begin(), image.end(), image.begin(), [](unsigned char c) { return std::tolower(c); });
  const std::string own = template_name + "/";
  std::vector<std::pair<std::string, std::string>> files;
  for (size_t i = 0; i < kTemplateFileCount; ++i) {
    const std::string_view p = kTemplateFiles[i].path;
    std::string_view relative;
    if (p.substr(0, kCommon.size()) == kCommon)
      relative = p.substr(kCommon.size());
    else if (p.substr(0, own.size()) == own)
      relative = p.substr(own.size());
    else
      continue;
    std::string text(kTemplateFiles[i].content);
    text = replace_all(text, "{{NAME}}", name);
    text = replace_all(text, "{{IMAGE}}", image);
    text = replace_all(text, "{{TEMPLATE}}", template_name);
    text = replace_all(text, "{{CODEDAG_VERSION}}", kVersion);
    text = replace_all(text, "{{TORCH_VERSION}}", kTestedTorchVersion);
    files.emplace_back(output_path(relative), std::move(text));
  }
  return files;
}

CreatedProject create_project(const std::string& directory, const std::string& template_name) {
  fs::path target(directory);
  while (target.has_relative_path() && target.filename().empty()) target = target.parent_path();  // "x/" -> "x"
  CreatedProject created{directory, target.filename().string(), {}};
  const auto files = render_project(created.name, template_name);
  struct stat st {};
  if (::lstat(target.c_str(), &st) == 0)
    throw InputError(directory + " already exists: codedag new never overwrites; choose another name or move it away");
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(parent))
    throw InputError("the directory " + parent.string() + " (where " + created.name +
                     " would go) does not exist: create it first");

  const fs::path staging = parent / ("." + created.name + ".codedag-new-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(staging, ec);
  try {
    make_directories(staging.string());
    for (const auto& [relative, content] : files) {
      const fs::path path = staging / relative;
      write_file_atomic(path.string(), content);
      if (path.extension() == ".sh" && ::chmod(path.c_str(), 0755) != 0)
        throw_system_error("cannot make the script executable", path.string());
      created.files.push_back(relative);
    }
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST || errno == ENOTEMPTY)
        throw InputError(directory +
                         " appeared while the project was written: codedag new never overwrites; "
                         "choose another name");
      throw_system_error("cannot move the new project into place", target.string());
    }
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
  return created;
}

}  // namespace codedag::project
