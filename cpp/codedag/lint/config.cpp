#include "codedag/lint/config.hpp"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <toml++/toml.h>

#include "codedag/common/error.hpp"

namespace codedag::lint {
namespace fs = std::filesystem;

bool code_matches(const std::string& code, const std::vector<std::string>& list) {
  for (const auto& entry : list)
    if (entry == "ALL" || code.rfind(entry, 0) == 0) return true;
  return false;
}

bool glob_match(std::string_view p, std::string_view s) {
  // Iterative matcher with backtracking for '*' (not across '/') and '**' (across).
  size_t pi = 0, si = 0, star_p = std::string_view::npos, star_s = 0;
  bool star_crosses = false;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star_crosses = pi + 1 < p.size() && p[pi + 1] == '*';
      pi += star_crosses ? 2 : 1;
      if (star_crosses && pi < p.size() && p[pi] == '/') ++pi;  // **/ also matches zero directories
      star_p = pi;
      star_s = si;
      continue;
    }
    if (pi < p.size() && (p[pi] == '?' ? s[si] != '/' : p[pi] == s[si])) {
      ++pi;
      ++si;
      continue;
    }
    if (star_p != std::string_view::npos && (star_crosses || s[star_s] != '/')) {
      pi = star_p;
      si = ++star_s;
      continue;
    }
    return false;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

const std::vector<std::string>& default_excludes() {
  static const std::vector<std::string> d = {".bzr",          ".direnv", ".eggs",          ".git",        ".hg",
                                             ".mypy_cache",   ".nox",    ".pants.d",       ".ruff_cache", ".svn",
                                             ".tox",          ".venv",   "__pypackages__", "_build",      "buck-out",
                                             "build",         "dist",    "node_modules",   "venv",        "__pycache__",
                                             ".pytest_cache", ".cache"};
  return d;
}

namespace {

std::string relative_to_root(const std::string& path, const std::string& root) {
  if (root.empty()) return path;
  std::error_code ec;
  const fs::path rel = fs::relative(fs::absolute(path, ec), root, ec);
  if (ec || rel.empty() || rel.native().rfind("..", 0) == 0) return path;
  return rel.generic_string();
}

std::vector<std::string> string_list(const toml::node_view<const toml::node>& node, const std::string& key,
                                     const std::string& file) {
  std::vector<std::string> out;
  if (!node) return out;
  const toml::array* arr = node.as_array();
  auto where = [&](const toml::node& n) {
    const auto& src = n.source();
    return file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
  };
  if (!arr) throw FormatError(where(*node.node()) + ": [tool.codedag.lint] " + key + " must be a list of strings");
  for (const auto& e : *arr) {
    const auto* s = e.as_string();
    if (!s) throw FormatError(where(e) + ": [tool.codedag.lint] " + key + " must be a list of strings");
    out.push_back(s->get());
  }
  return out;
}

bool boolean(const toml::node_view<const toml::node>& node, const std::string& key, const std::string& file,
             bool fallback) {
  if (!node) return fallback;
  if (const auto* b = node.as_boolean()) return b->get();
  const auto& src = node.node()->source();
  throw FormatError(file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column) +
                    ": [tool.codedag.lint] " + key + " must be true or false");
}

// Reads the table into `s`; false when the file has no [tool.codedag.lint].
bool read_table(const std::string& file, LintSettings& s) {
  toml::table doc;
  try {
    doc = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    throw FormatError(file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column) + ": " +
                      std::string(e.description()) + " (TOML)");
  }
  s.config_path = file;
  s.project_root = fs::path(file).parent_path().string();
  const toml::node_view<const toml::node> lint = std::as_const(doc)["tool"]["codedag"]["lint"];
  if (!lint) return false;
  if (!lint.is_table()) throw FormatError(file + ": [tool.codedag.lint] must be a table");
  static const char* const known[] = {
      "select",         "extend-select",      "ignore",     "per-file-ignores",      "exclude",
      "extend-exclude", "hot-loop-functions", "small-data", "flag-accumulated-syncs"};
  for (const auto& [k, v] : *lint.as_table()) {
    bool ok = false;
    for (const char* n : known) ok = ok || k.str() == n;
    if (!ok)
      throw FormatError(file + ":" + std::to_string(v.source().begin.line) + ": unknown key '" + std::string(k.str()) +
                        "' in [tool.codedag.lint] (known: select, extend-select, ignore, per-file-ignores, exclude, "
                        "extend-exclude, hot-loop-functions, small-data, flag-accumulated-syncs)");
  }
  if (lint["select"]) s.select = string_list(lint["select"], "select", file);
  s.extend_select = string_list(lint["extend-select"], "extend-select", file);
  s.ignore = string_list(lint["ignore"], "ignore", file);
  if (lint["exclude"]) s.exclude = string_list(lint["exclude"], "exclude", file);
  s.extend_exclude = string_list(lint["extend-exclude"], "extend-exclude", file);
  s.hot_loop_functions = string_list(lint["hot-loop-functions"], "hot-loop-functions", file);
  s.small_data = boolean(lint["small-data"], "small-data", file, s.small_data);
  s.flag_accumulated_syncs = boolean(lint["flag-accumulated-syncs"], "flag-accumulated-syncs", file, false);
  if (const auto pfi = lint["per-file-ignores"]) {
    const toml::table* t = pfi.as_table();
    if (!t)
      throw FormatError(file + ":" + std::to_string(pfi.node()->source().begin.line) +
                        ": [tool.codedag.lint] per-file-ignores must be a table of glob = [codes]");
    for (const auto& [glob, codes] : *t)
      s.per_file_ignores.emplace_back(
          std::string(glob.str()),
          string_list(toml::node_view<const toml::node>(&codes), "per-file-ignores." + std::string(glob.str()), file));
  }
  return true;
}

}  // namespace

bool LintSettings::enabled(const std::string& code, const std::string& path) const {
  const bool selected = select.empty() ? true : code_matches(code, select);
  if (!selected && !code_matches(code, extend_select)) return false;
  if (code_matches(code, ignore)) return false;
  if (!per_file_ignores.empty()) {
    const std::string rel = relative_to_root(path, project_root);
    const std::string name = fs::path(path).filename().string();
    for (const auto& [glob, codes] : per_file_ignores)
      if ((glob_match(glob, rel) || glob_match(glob, name)) && code_matches(code, codes)) return false;
  }
  return true;
}

bool LintSettings::excluded(const std::string& path) const {
  const std::string name = fs::path(path).filename().string();
  const std::string rel = relative_to_root(path, project_root);
  const auto& base = exclude.empty() ? default_excludes() : exclude;
  for (const auto* list : {&base, &extend_exclude})
    for (const auto& pattern : *list)
      if (glob_match(pattern, name) || glob_match(pattern, rel)) return true;
  return false;
}

LintSettings load_settings(const std::string& start_dir, const std::string& pyproject) {
  LintSettings s;
  if (const char* env = std::getenv("CODEDAG_LINT_SMALL_DATA"); env && *env && std::string(env) != "0")
    s.small_data = true;
  if (!pyproject.empty()) {
    std::error_code ec;
    if (!fs::is_regular_file(pyproject, ec)) throw NotFoundError("--config: no file '" + pyproject + "'");
    read_table(pyproject, s);
    return s;
  }
  std::error_code ec;
  fs::path dir = fs::absolute(start_dir.empty() ? "." : start_dir, ec);
  if (!fs::is_directory(dir, ec)) dir = dir.parent_path();
  // The closest pyproject.toml with a [tool.codedag.lint] table, as ruff looks for [tool.ruff].
  std::string first_found;
  for (int guard = 0; guard < 256 && !dir.empty(); ++guard) {
    const fs::path candidate = dir / "pyproject.toml";
    if (fs::is_regular_file(candidate, ec)) {
      LintSettings attempt = s;
      if (read_table(candidate.string(), attempt)) return attempt;
      if (first_found.empty()) first_found = dir.string();
    }
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  s.project_root = first_found;
  return s;
}

}  // namespace codedag::lint
