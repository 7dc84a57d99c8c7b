#include "codedag/store/layout.hpp"

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

}  // namespace codedag::store
