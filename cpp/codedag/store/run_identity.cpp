#include "codedag/store/run_identity.hpp"

#include <cctype>

#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"

namespace codedag::store {
namespace {

bool is_name_char(unsigned char c) { return std::isalnum(c) || c == '_' || c == '-' || c == '.'; }

// The whole UTF-8 character starting at s[i] (at most 4 bytes), for messages.
std::string character_at(std::string_view s, size_t i) {
  size_t n = 1;
  while (n < 4 && i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
  return term::printable(s.substr(i, n));
}

std::string shown(std::string_view s) {
  return term::printable(s.size() > 40 ? std::string(s.substr(0, 40)) + "..." : std::string(s));
}

}  // namespace

void validate_experiment_name(std::string_view name) {
  if (name.empty()) throw InputError("experiment name is empty: give a name such as \"moco\"");
  if (name.size() > 100)
    throw InputError("experiment name '" + shown(name) + "' is " + std::to_string(name.size()) +
                     " bytes long: use at most 100");
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (!is_name_char(c))
      throw InputError("experiment name '" + shown(name) + "' has '" + character_at(name, i) + "' at position " +
                       std::to_string(i) + ": use ASCII letters, digits, '_', '-' or '.' (it names directories " +
                       "and git refs)");
  }
  if (name[0] == '.' || name[0] == '-')
    throw InputError("experiment name '" + shown(name) + "' starts with '" + std::string(1, name[0]) +
                     "': start it with a letter, digit or '_'");
  if (name.find("..") != std::string_view::npos || name.ends_with(".lock") || name.back() == '.')
    throw InputError("experiment name '" + shown(name) +
                     "' contains '..' or ends with '.' or '.lock' (not allowed in git refs)");
}

bool looks_like_test_name(std::string_view s) {
  if (s.size() < 12 || s.size() > 6 + 1 + 9 + 1 + 16) return false;
  for (int i = 0; i < 6; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  if (s[6] != '.') return false;
  const size_t dot = s.find('.', 7);
  if (dot == std::string_view::npos || dot - 7 < 3 || dot - 7 > 9) return false;
  for (size_t i = 7; i < dot; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  const size_t rand = s.size() - dot - 1;
  if (rand < 1 || rand > 16) return false;
  for (size_t i = dot + 1; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (!std::isdigit(c) && !(c >= 'a' && c <= 'z')) return false;
  }
  return true;
}

void validate_test_name(std::string_view test_name) {
  if (!looks_like_test_name(test_name))
    throw InputError("'" + shown(test_name) + "' is not a test_name (<yymmdd>.<nnn>.<rand>, such as 230306.012.d5t)");
}

RunId checked_run_id(std::string_view name, std::string_view test_name, const std::string& origin) {
  try {
    validate_experiment_name(name);
    validate_test_name(test_name);
  } catch (const InputError& e) {
    if (origin.empty()) throw;
    throw FormatError(origin + ": " + e.what());
  }
  return RunId{std::string(name), std::string(test_name)};
}

bool is_safe_relative_path(std::string_view path) {
  if (path.empty() || path.size() > 4096 || path[0] == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || part.size() > 255) return false;
    for (const char ch : part) {
      const unsigned char c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == 0x7F) return false;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace codedag::store
