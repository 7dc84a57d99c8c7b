#pragma once
// Qualified names through imports and aliases: with `import torch.nn as nn` and
// `from torch.utils.data import DataLoader as DL`, the expressions `nn.functional.mse_loss` and `DL`
// name torch.nn.functional.mse_loss and torch.utils.data.DataLoader.
#include <string>
#include <string_view>
#include <unordered_map>

#include "codedag/lint/syntax_tree.hpp"

namespace codedag::lint {

class ImportTable {
 public:
  // Records the names an import statement binds (import_statement / import_from_statement).
  void add(Node statement, const SourceText& src);
  // "nn.functional.x" -> "torch.nn.functional.x"; a head bound by no import stays as written
  // (so builtins read "print", "float" and local names their own spelling).
  std::string resolve(std::string_view dotted) const;
  bool binds(std::string_view local_name) const { return names_.count(std::string(local_name)) != 0; }
  // The local spelling of a module, e.g. "torch" or "th" for `import torch as th`; empty if none.
  std::string local_name_of(std::string_view qualified_module) const;

 private:
  std::unordered_map<std::string, std::string> names_;  // local name -> qualified name
};

// "a.b.c" for identifier/attribute chains; empty for anything else (calls, subscripts...).
std::string dotted_name(Node expr, const SourceText& src);

// The last component of a dotted name ("torch.nn.MSELoss" -> "MSELoss").
std::string_view last_component(std::string_view dotted);

// True when `qualified` is `prefix` or lies under it ("torch.optim.Adam" is under "torch.optim").
bool is_under(std::string_view qualified, std::string_view prefix);

// Names as people spell them: compared in lower case, by prefix or suffix.
std::string lower(std::string_view s);
inline bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
inline bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

}  // namespace codedag::lint
