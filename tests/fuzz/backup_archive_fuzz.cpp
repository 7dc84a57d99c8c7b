// Fuzz target: a backup archive (ustar + codedag-backup.json manifest + run.json) — bytes are
// accepted as a checked archive or rejected with codedag::Error; nothing is written.
#include "codedag/store/archive.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return codedag::fuzz::accept_or_reject(
      data, size, [](const std::string& bytes) { (void)codedag::store::check_archive(bytes, "fuzz.tar"); });
}
