#include "codedag/trace/value_types.hpp"

#include "codedag/common/error.hpp"

namespace codedag::trace {
namespace {
constexpr const char* kNames[] = {"Tensor", "ndarray", "PIL.Image", "bytes", "int",  "float", "str",
                                  "None",   "list",    "tuple",     "dict",  "bool", "other"};
constexpr size_t kCount = sizeof(kNames) / sizeof(kNames[0]);
}  // namespace

std::vector<std::string> value_type_names(uint32_t mask) {
  std::vector<std::string> out;
  for (size_t i = 0; i < kCount; ++i)
    if (mask & (1u << i)) out.emplace_back(kNames[i]);
  return out;
}

uint32_t value_type_mask(const std::vector<std::string>& names) {
  uint32_t mask = 0;
  for (const auto& name : names) {
    size_t i = 0;
    while (i < kCount && name != kNames[i]) ++i;
    if (i == kCount)
      throw InputError("unknown value type '" + name +
                       "': expected one of Tensor, ndarray, PIL.Image, bytes, int, float, str, None, list, tuple, "
                       "dict, bool, other");
    mask |= 1u << i;
  }
  return mask;
}

}  // namespace codedag::trace
