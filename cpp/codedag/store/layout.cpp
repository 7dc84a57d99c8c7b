#include "codedag/store/layout.hpp"

#include <cctype>
#include <cstdlib>

#include "codedag/common/error.hpp"

namespace codedag::store {

std::string default_home() {
  if (const char* h = std::getenv("CODEDAG_HOME"); h && *h) return h;
  const char* user_home = std::getenv("HOME");
  return std::string(user_home && *user_home ? user_home : "/tmp") + "/.codedag";
}

Layout::Layout(std::string home) : home_(home.empty() ? default_home() : std::move(home)) {
  while (home_.size() > 1 && home_.back() == '/') home_.pop_back();
}

std::string Layout::info_dir(const std::string& name, const std::string& test_name) const {
  return info_root() + "/" + name + "/" + test_name;
}
std::string Layout::blob_dir(const std::string& name, const std::string& test_name) const {
  return blob_root() + "/" + name + "/" + test_name;
}
std::string Layout::cache_dir(const std::string& name, const std::string& test_name) const {
  return cache_root() + "/" + name + "/" + test_name;
}

void validate_experiment_name(const std::string& name) {
  if (name.empty()) throw InputError("experiment name is empty: give a name such as \"moco\"");
  if (name.size() > 100)
    throw InputError("experiment name '" + name.substr(0, 20) + "...' is " + std::to_string(name.size()) +
                     " characters long: use at most 100");
  if (name[0] == '.')
    throw InputError("experiment name '" + name + "' starts with '.': start it with a letter or digit");
  if (name.find("..") != std::string::npos || name.ends_with(".lock"))
    throw InputError("experiment name '" + name + "' contains '..' or ends with '.lock' (not allowed in git refs)");
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '.')
      throw InputError("experiment name '" + name + "' has '" + std::string(1, name[i]) + "' at position " +
                       std::to_string(i) + ": use letters, digits, '_', '-' or '.'");
  }
}

bool looks_like_test_name(const std::string& s) {
  // yymmdd . digits . alnum
  if (s.size() < 10) return false;
  for (int i = 0; i < 6; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  if (s[6] != '.') return false;
  const size_t dot = s.find('.', 7);
  if (dot == std::string::npos || dot == 7 || dot + 1 >= s.size()) return false;
  for (size_t i = 7; i < dot; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  for (size_t i = dot + 1; i < s.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace codedag::store
