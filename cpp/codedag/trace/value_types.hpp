#pragma once
// What kinds of values a context takes and returns, as a bit mask the hook fills per call without
// allocating; names are produced only when the DAG is built.
#include <cstdint>
#include <string>
#include <vector>

namespace codedag::trace {

enum ValueType : uint32_t {
  kTensor = 1u << 0,
  kNdarray = 1u << 1,
  kPilImage = 1u << 2,
  kBytes = 1u << 3,
  kInt = 1u << 4,
  kFloat = 1u << 5,
  kStr = 1u << 6,
  kNone = 1u << 7,
  kList = 1u << 8,
  kTuple = 1u << 9,
  kDict = 1u << 10,
  kBool = 1u << 11,
  kOther = 1u << 12,
};

// "Tensor", "ndarray", "PIL.Image", "bytes", "int", ... in bit order.
std::vector<std::string> value_type_names(uint32_t mask);
// Inverse of value_type_names; InputError on an unknown name.
uint32_t value_type_mask(const std::vector<std::string>& names);

// Array-like values a device can hold (directly or through the strategy registry).
inline constexpr uint32_t kArrayLike = kTensor | kNdarray | kPilImage;
// Values that do not stop a context from moving: arrays, scalars and containers of them.
inline constexpr uint32_t kDeviceFriendly = kArrayLike | kInt | kFloat | kStr | kNone | kList | kTuple | kDict | kBool;

}  // namespace codedag::trace
