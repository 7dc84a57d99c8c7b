#pragma once
// The lint engine's entry points: one source text, or paths (files and directories, walked in
// parallel). Problems with a file itself (unreadable, not UTF-8, too large, syntax errors) are
// findings with code CDL000, which select/ignore/noqa do not hide: the file was not fully checked.
#include <cstddef>
#include <string>
#include <vector>

#include "codedag/lint/config.hpp"
#include "codedag/lint/finding.hpp"
#include "codedag/lint/syntax_tree.hpp"

namespace codedag::lint {

inline constexpr const char* kFileProblemCode = "CDL000";

// Lints one file's bytes: findings sorted by position, noqa comments applied.
std::vector<Finding> lint_source(const std::string& path, const std::string& bytes, const LintSettings& settings,
                                 const ParseLimits& limits = {});

struct DiscoveredFiles {
  std::vector<std::string> files;
  size_t excluded = 0;               // entries skipped by exclude/extend-exclude
  std::vector<std::string> missing;  // paths given that do not exist
  bool truncated = false;            // more than max_files: the rest is not checked
};

// Python files (*.py, *.pyi) under `paths`; files named explicitly are taken whatever their
// extension or exclusion (as ruff does). Sorted, without duplicates, at most `max_files`.
DiscoveredFiles discover_files(const std::vector<std::string>& paths, const LintSettings& settings,
                               size_t max_files = 200000);

struct LintRun {
  std::vector<Finding> findings;  // sorted by path, line, column, code
  size_t files_checked = 0;
  size_t files_with_problems = 0;  // had a CDL000
  double seconds = 0;
};

// Lints every file with `jobs` threads; `progress(done, total)` is called from the calling thread.
LintRun lint_files(const std::vector<std::string>& files, const LintSettings& settings, int jobs,
                   const ParseLimits& limits = {}, void (*progress)(size_t, size_t, void*) = nullptr,
                   void* progress_arg = nullptr);

// Reads a file for linting: the CDL000 finding (as `problem`) when it cannot be read.
bool read_source(const std::string& path, std::string& bytes, Finding& problem);

}  // namespace codedag::lint
