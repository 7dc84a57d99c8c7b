#pragma once
// Applying fixes: byte-range edits from the rules, applied to the text in one go (a fix whose edits
// overlap an earlier fix's waits for the next pass), repeated until no fix applies — so applying
// twice changes nothing the second time. Files are replaced atomically.
#include <string>
#include <vector>

#include "codedag/lint/config.hpp"
#include "codedag/lint/finding.hpp"
#include "codedag/lint/syntax_tree.hpp"

namespace codedag::lint {

// Whether --fix (and --unsafe-fixes) would apply this finding's fix.
bool fix_applies(const Finding& f, bool unsafe_fixes);

// Applies the applicable fixes of `findings` to `source`; counts the fixes applied.
std::string apply_fixes(const std::string& source, const std::vector<Finding>& findings, bool unsafe_fixes,
                        size_t& applied);

struct FixOutcome {
  std::string fixed;               // the text after every pass
  size_t applied = 0;              // fixes applied over all passes
  std::vector<Finding> remaining;  // findings of the fixed text
};

// Lint → fix → lint ... (at most 8 passes) on one file's text.
FixOutcome fix_source(const std::string& path, const std::string& source, const LintSettings& settings,
                      bool unsafe_fixes, const ParseLimits& limits = {});

// A unified diff (3 lines of context) from `before` to `after`, labelled with `path`; empty when equal.
std::string unified_diff(const std::string& path, const std::string& before, const std::string& after);

}  // namespace codedag::lint
