#pragma once
// Suppression comments, as ruff reads them: `# noqa` (every code on the line), `# noqa: CDL001,
// CDL002`, and codedag's own `# codedag: ignore` / `# codedag: ignore[CDL001, CDL002]`. Only real
// comments count (a "# noqa" inside a string does not), so the tree tells which '#' starts one.
#include <string>
#include <unordered_map>
#include <vector>

#include "codedag/lint/syntax_tree.hpp"

namespace codedag::lint {

struct Suppression {
  bool all = false;
  std::vector<std::string> codes;
};

// Line (1-based) -> what its comment suppresses.
std::unordered_map<uint32_t, Suppression> read_suppressions(const Tree& tree);

bool suppressed(const std::unordered_map<uint32_t, Suppression>& table, uint32_t line, const std::string& code);

}  // namespace codedag::lint
