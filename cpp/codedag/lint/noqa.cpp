#include "codedag/lint/noqa.hpp"

#include <cctype>

namespace codedag::lint {
namespace {

// Codes after "noqa:" or inside "ignore[...]": CDL001, CDL002 (separated by commas or spaces).
std::vector<std::string> parse_codes(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
    if (j == i) break;
    const std::string code(s.substr(i, j - i));
    // A code is letters then digits (CDL001, E501): stop at the first word that is not one.
    size_t k = 0;
    while (k < code.size() && std::isalpha(static_cast<unsigned char>(code[k]))) ++k;
    if (k == 0 || k == code.size()) break;
    out.push_back(code);
    i = j;
  }
  return out;
}

void parse_comment(std::string_view c, Suppression& s) {
  // Case-insensitive "noqa", as flake8 and ruff accept "# NOQA".
  std::string lower(c);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  size_t at = lower.find("noqa");
  if (at != std::string::npos) {
    std::string_view rest = c.substr(at + 4);
    if (!rest.empty() && rest[0] == ':') {
      const auto codes = parse_codes(rest.substr(1));
      if (codes.empty()) s.all = true;
      s.codes.insert(s.codes.end(), codes.begin(), codes.end());
    } else {
      s.all = true;
    }
  }
  at = lower.find("codedag: ignore");
  if (at != std::string::npos) {
    std::string_view rest = c.substr(at + 15);
    if (!rest.empty() && rest[0] == '[') {
      const size_t close = rest.find(']');
      const auto codes = parse_codes(rest.substr(1, close == std::string_view::npos ? rest.size() - 1 : close - 1));
      s.codes.insert(s.codes.end(), codes.begin(), codes.end());
    } else {
      s.all = true;
    }
  }
}

}  // namespace

std::unordered_map<uint32_t, Suppression> read_suppressions(const Tree& tree) {
  std::unordered_map<uint32_t, Suppression> table;
  const SourceText& src = tree.source();
  const std::string& b = src.bytes();
  const Node root = tree.root();
  // Only lines that mention a marker are looked at; the tree then confirms a comment is there.
  for (const std::string_view marker :
       {std::string_view("noqa"), std::string_view("NOQA"), std::string_view("codedag: ignore")}) {
    size_t at = 0;
    while ((at = b.find(marker, at)) != std::string::npos) {
      const uint32_t line = src.line_of(static_cast<uint32_t>(at));
      const uint32_t start = src.line_start(line);
      size_t hash = b.rfind('#', at);
      at += marker.size();
      if (hash == std::string::npos || hash < start) continue;
      const Node n = root.descendant_for(static_cast<uint32_t>(hash), static_cast<uint32_t>(hash + 1));
      if (!n.is("comment")) continue;
      Suppression& s = table[line];
      Suppression parsed;
      parse_comment(n.text(src), parsed);
      s.all = s.all || parsed.all;
      for (auto& c : parsed.codes) s.codes.push_back(c);
    }
  }
  return table;
}

bool suppressed(const std::unordered_map<uint32_t, Suppression>& table, uint32_t line, const std::string& code) {
  const auto it = table.find(line);
  if (it == table.end()) return false;
  if (it->second.all) return true;
  for (const auto& c : it->second.codes)
    if (code.rfind(c, 0) == 0) return true;
  return false;
}

}  // namespace codedag::lint
