#include "codedag/trace/filter_rules.hpp"

#include <algorithm>

namespace codedag::trace {

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: linear for the patterns people write.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {
bool starts_with_any(std::string_view s, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return !p.empty() && s.substr(0, p.size()) == p; });
}
bool contains_any(std::string_view s, const std::vector<std::string>& needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](const std::string& n) { return s.find(n) != std::string_view::npos; });
}
std::string_view top_level(std::string_view module) { return module.substr(0, module.find('.')); }
size_t longest_prefix(std::string_view s, const std::vector<std::string>& prefixes) {
  size_t best = 0;
  for (const std::string& p : prefixes)
    if (p.size() > best && s.substr(0, p.size()) == p) best = p.size();
  return best;
}
}  // namespace

bool FilterRules::library_file(std::string_view file) const {
  const size_t library = longest_prefix(file, library_prefixes), user = longest_prefix(file, user_prefixes);
  if (library || user) return library > user;
  return contains_any(file, library_markers);
}

bool FilterRules::user_pattern(const std::vector<std::string>& patterns, std::string_view qualified,
                               std::string_view file) const {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return glob_match(p, qualified) || glob_match(p, file); });
}

Decision FilterRules::python(std::string_view file, std::string_view module, std::string_view qualname,
                             std::string_view name) const {
  Decision d;
  const bool comprehension = !name.empty() && name.front() == '<' && name != "<lambda>";
  const bool tooling =
      std::find(tooling_modules.begin(), tooling_modules.end(), top_level(module)) != tooling_modules.end();
  if (starts_with_any(file, own_prefixes) || tooling) {
    d = {false, false, false, false, false};
  } else if (starts_with_any(file, machinery_prefixes)) {
    const bool collate =
        std::find(recorded_machinery.begin(), recorded_machinery.end(), name) != recorded_machinery.end();
    d = {collate, false, false, false, false};
  } else if (library_file(file)) {
    const bool hidden = std::any_of(hidden_library_names.begin(), hidden_library_names.end(),
                                    [&](const std::string& p) { return glob_match(p, name); });
    d = {!comprehension && !hidden, true, name == "__call__" || name == "forward", !hidden, false};
  } else if (starts_with_any(file, stdlib_prefixes) || (file.substr(0, 1) == "<" && file != "<stdin>")) {
    // The standard library, and generated code ("<frozen runpy>", namedtuple's "<string>").
    d = {false, true, false, false, false};
  } else {
    d = {!comprehension, false, false, false, true};
  }
  std::string qualified = std::string(module) + "." + std::string(qualname);
  if (std::find(transparent_functions.begin(), transparent_functions.end(), qualified) != transparent_functions.end()) {
    d.record = false;
    d.transparent = true;
    return d;
  }
  if (std::any_of(warmup_functions.begin(), warmup_functions.end(),
                  [&](const std::string& p) { return glob_match(p, qualified); })) {
    d.record = false;
    d.warmup = true;
    return d;
  }
  if (include.empty() && exclude.empty()) return d;
  if (user_pattern(exclude, qualified, file))
    d.record = false;
  else if (user_pattern(include, qualified, file))
    d.record = d.transform_step = true;
  return d;
}

Decision FilterRules::builtin(std::string_view module, std::string_view qualname) const {
  const std::string_view top = top_level(module);
  const bool standard = module.empty() || top == "builtins" ||
                        std::find(stdlib_modules.begin(), stdlib_modules.end(), top) != stdlib_modules.end() ||
                        std::find(tooling_modules.begin(), tooling_modules.end(), top) != tooling_modules.end();
  Decision d{!standard, true, false, !standard, false};
  if (include.empty() && exclude.empty()) return d;
  std::string qualified = std::string(module) + "." + std::string(qualname);
  if (user_pattern(exclude, qualified, ""))
    d.record = false;
  else if (user_pattern(include, qualified, ""))
    d.record = d.transform_step = true;
  return d;
}

}  // namespace codedag::trace
