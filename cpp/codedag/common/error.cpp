#include "codedag/common/error.hpp"

#include <cerrno>
#include <cstring>

namespace codedag {

void throw_system_error(const std::string& what, const std::string& path) {
  const int err = errno;
  throw SystemCallError(what + " '" + path + "': " + std::strerror(err));
}

}  // namespace codedag
