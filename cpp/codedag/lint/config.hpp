#pragma once
// Which rules run where: [tool.codedag.lint] in pyproject.toml (read with toml++), then the
// command line on top, as ruff does.
//
//   [tool.codedag.lint]
//   select = ["CDL"]                 # codes or prefixes; default: every rule
//   extend-select = []
//   ignore = ["CDL012"]
//   per-file-ignores = { "tests/*" = ["CDL004"] }
//   exclude = [".venv", "build"]     # replaces the default exclusions
//   extend-exclude = ["generated"]
//   hot-loop-functions = ["train_one_batch"]   # bodies that run once per step
//   small-data = false               # datasets fit in memory: CDL006 stays quiet
//   flag-accumulated-syncs = false   # CDL001 also flags `total += loss.item()`
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace codedag::lint {

struct LintSettings {
  std::vector<std::string> select;  // empty: all rules
  std::vector<std::string> extend_select;
  std::vector<std::string> ignore;
  std::vector<std::pair<std::string, std::vector<std::string>>> per_file_ignores;  // glob -> codes
  std::vector<std::string> exclude;
  std::vector<std::string> extend_exclude;
  std::vector<std::string> hot_loop_functions;
  bool small_data = false;
  bool flag_accumulated_syncs = false;
  std::string config_path;   // the pyproject.toml it came from, empty when none
  std::string project_root;  // its directory: per-file-ignores and excludes are relative to it

  // Whether `code` reports in `path` (select/extend-select minus ignore and per-file-ignores).
  bool enabled(const std::string& code, const std::string& path) const;
  // Whether a directory entry is excluded (matched against its name and its path from the root).
  bool excluded(const std::string& path) const;
};

// The default exclusions (ruff's, plus the usual build and environment folders).
const std::vector<std::string>& default_excludes();

// Reads [tool.codedag.lint] from `pyproject` (a path), or from the first pyproject.toml found
// walking up from `start_dir` when `pyproject` is empty; none found ⇒ defaults. A malformed file or
// a wrong type is a FormatError naming the file, line and key.
LintSettings load_settings(const std::string& start_dir, const std::string& pyproject = "");

// Does `code` match an entry of `list` (a full code "CDL001", a prefix "CDL00", or "ALL")?
bool code_matches(const std::string& code, const std::vector<std::string>& list);

// fnmatch-style glob with ** across directories.
bool glob_match(std::string_view pattern, std::string_view path);

}  // namespace codedag::lint
