#pragma once
// What every fuzz target shares: the input as text, and the rule that a loader either accepts the
// bytes or rejects them with a codedag::Error — any other exception, a crash or a hang is a finding
// (libFuzzer reports an escaping exception as a crash; the replay aborts on it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "codedag/common/error.hpp"

namespace codedag::fuzz {

template <class F>
int accept_or_reject(const uint8_t* data, size_t size, F&& load) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    load(text);
  } catch (const codedag::Error&) {
    // A clear rejection is the expected outcome for most inputs.
  }
  return 0;
}

}  // namespace codedag::fuzz
