#include "codedag/common/sha256.hpp"

#include <gtest/gtest.h>

namespace {

// FIPS 180-4 test vectors, and streaming in odd pieces equals one call.
TEST(Sha256, KnownDigests) {
  EXPECT_EQ(codedag::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(codedag::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(codedag::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  EXPECT_EQ(codedag::sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  codedag::Sha256 pieces;
  for (size_t i = 0; i < million.size();) {
    const size_t n = std::min<size_t>(1 + i % 97, million.size() - i);
    pieces.update(million.data() + i, n);
    i += n;
  }
  EXPECT_EQ(pieces.hex(), codedag::sha256_hex(million));
}

}  // namespace
