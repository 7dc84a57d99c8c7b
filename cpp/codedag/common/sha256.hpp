#pragma once
// SHA-256 (FIPS 180-4), streamed: backups record each member's digest so that restore can check
// every byte it writes against the manifest, without a crypto library dependency.
#include <cstdint>
#include <string>
#include <string_view>

namespace codedag {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Lower-case hexadecimal digest; the object is spent afterwards.
  std::string hex();

 private:
  void block(const unsigned char* p);
  uint32_t h_[8];
  unsigned char buf_[64];
  size_t used_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);

}  // namespace codedag
