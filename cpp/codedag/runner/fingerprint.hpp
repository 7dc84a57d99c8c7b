#pragma once
// SHA-256 (FIPS 180-4), for cell fingerprints: the same command and parameters in the same
// directory give the same fingerprint on every machine, so a resumed sweep recognises a cell's runs.
#include <string>
#include <string_view>

namespace codedag::runner {

// Lower-case hex digest of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace codedag::runner
