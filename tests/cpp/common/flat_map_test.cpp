#include "codedag/common/flat_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace codedag {
namespace {

// Runs a seeded mix of operations against std::unordered_map and checks every answer, then the
// full contents. key_of maps a random draw to a key.
template <class KeyOf>
void check_against_oracle(uint64_t seed, int ops, KeyOf key_of) {
  FlatMap<uint64_t, int64_t> m;
  std::unordered_map<uint64_t, int64_t> oracle;
  std::mt19937_64 rng(seed);
  for (int op = 0; op < ops; ++op) {
    const uint64_t k = key_of(rng);
    const auto kind = rng() % 4;
    if (kind == 0) {
      const auto v = static_cast<int64_t>(rng());
      auto [p, inserted] = m.try_emplace(k, v);
      auto [it, o_inserted] = oracle.try_emplace(k, v);
      ASSERT_EQ(inserted, o_inserted) << "op " << op;
      ASSERT_EQ(*p, it->second) << "op " << op;
    } else if (kind == 1) {
      m[k] += 3;
      oracle[k] += 3;
    } else if (kind == 2) {
      ASSERT_EQ(m.erase(k), oracle.erase(k) == 1) << "op " << op;
    } else {
      const int64_t* p = m.find(k);
      auto it = oracle.find(k);
      ASSERT_EQ(p != nullptr, it != oracle.end()) << "op " << op;
      if (p) ASSERT_EQ(*p, it->second) << "op " << op;
    }
    ASSERT_EQ(m.size(), oracle.size()) << "op " << op;
  }
  size_t seen = 0;
  m.for_each([&](const uint64_t& k, int64_t& v) {
    ++seen;
    auto it = oracle.find(k);
    ASSERT_NE(it, oracle.end()) << k;
    EXPECT_EQ(v, it->second) << k;
  });
  EXPECT_EQ(seen, oracle.size());
}

TEST(FlatMap, MatchesUnorderedMapOnSmallKeyRange) {
  // 512 keys for 200k operations: long probe runs, constant deletes and backward shifts.
  check_against_oracle(42, 200'000, [](std::mt19937_64& rng) { return rng() % 512; });
}

TEST(FlatMap, MatchesUnorderedMapOnPointerLikeKeys) {
  // Heap-address shape: shared high bits, 16-byte aligned.
  check_against_oracle(7, 200'000, [](std::mt19937_64& rng) { return 0x7f3a'0000'0000ull + (rng() % 4096) * 16; });
}

TEST(FlatMap, KeyZeroIsAnOrdinaryKey) {
  FlatMap<uint64_t, int> m;
  EXPECT_EQ(m.find(0), nullptr);
  m[0] = 5;
  ASSERT_NE(m.find(0), nullptr);
  EXPECT_EQ(*m.find(0), 5);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_TRUE(m.erase(0));
  EXPECT_EQ(m.find(0), nullptr);
  EXPECT_TRUE(m.empty());
}

TEST(FlatMap, GrowthKeepsEveryEntryAndLoadAtMostHalf) {
  FlatMap<int*, size_t> m;
  std::vector<std::unique_ptr<int>> owners;
  for (size_t i = 0; i < 10'000; ++i) {
    owners.push_back(std::make_unique<int>(0));
    EXPECT_TRUE(m.try_emplace(owners.back().get(), i).second);
    EXPECT_LE(m.size() * 2, m.capacity());
  }
  for (size_t i = 0; i < owners.size(); ++i) {
    const size_t* v = m.find(owners[i].get());
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(*v, i);
  }
  EXPECT_EQ(m.capacity() & (m.capacity() - 1), 0u) << "power of two";
}

TEST(FlatMap, EraseOfAbsentKeyReturnsFalse) {
  FlatMap<uint64_t, int> m;
  EXPECT_FALSE(m.erase(1));  // never allocated
  m[1] = 1;
  EXPECT_FALSE(m.erase(2));
  EXPECT_TRUE(m.erase(1));
  EXPECT_FALSE(m.erase(1));
  EXPECT_EQ(m.size(), 0u);
}

TEST(FlatMap, TryEmplaceKeepsExistingValue) {
  FlatMap<uint64_t, std::string> m;
  EXPECT_TRUE(m.try_emplace(9, "first").second);
  auto [v, inserted] = m.try_emplace(9, "second");
  EXPECT_FALSE(inserted);
  EXPECT_EQ(*v, "first");
}

TEST(FlatMap, ForEachVisitsExactlyTheLiveEntries) {
  FlatMap<uint32_t, int> m;
  for (uint32_t k = 0; k < 100; ++k) m[k] = static_cast<int>(k) * 2;
  for (uint32_t k = 0; k < 100; k += 3) m.erase(k);
  std::map<uint32_t, int> seen;
  m.for_each([&](const uint32_t& k, int& v) { EXPECT_TRUE(seen.emplace(k, v).second) << "visited twice: " << k; });
  std::map<uint32_t, int> expected;
  for (uint32_t k = 0; k < 100; ++k) {
    if (k % 3 != 0) expected[k] = static_cast<int>(k) * 2;
  }
  EXPECT_EQ(seen, expected);

  const auto& cm = m;
  size_t n = 0;
  cm.for_each([&](const uint32_t&, const int&) { ++n; });
  EXPECT_EQ(n, expected.size());
}

TEST(FlatMap, ClearEmptiesAndStaysUsable) {
  FlatMap<uint64_t, std::string> m;
  for (uint64_t k = 0; k < 50; ++k) m[k] = "v";
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(3), nullptr);
  m[3] = "again";
  EXPECT_EQ(*m.find(3), "again");
  EXPECT_EQ(m.size(), 1u);
}

TEST(FlatMap, ReserveAvoidsRehash) {
  FlatMap<uint64_t, int> m;
  m.reserve(1000);
  const size_t cap = m.capacity();
  EXPECT_GE(cap, 2000u);
  for (uint64_t k = 0; k < 1000; ++k) m[k] = 1;
  EXPECT_EQ(m.capacity(), cap);
}

TEST(FlatMap, CopyAndMoveKeepContents) {
  FlatMap<uint64_t, std::string> m;
  for (uint64_t k = 0; k < 40; ++k) m[k] = std::to_string(k);
  FlatMap<uint64_t, std::string> copy = m;
  m[0] = "changed";
  EXPECT_EQ(*copy.find(0), "0");
  EXPECT_EQ(copy.size(), 40u);
  FlatMap<uint64_t, std::string> moved = std::move(copy);
  EXPECT_EQ(moved.size(), 40u);
  EXPECT_EQ(*moved.find(39), "39");
  copy = moved;
  EXPECT_EQ(*copy.find(17), "17");
}

struct PairKey {
  uint32_t a = 0, b = 0;
  bool operator==(const PairKey&) const = default;
};
struct PairHash {
  size_t operator()(const PairKey& k) const noexcept { return mix64((uint64_t{k.a} << 32) | k.b); }
};

TEST(FlatMap, StructKeysWithCustomHash) {
  FlatMap<PairKey, int, PairHash> m;
  m[{1, 2}] = 12;
  m[{2, 1}] = 21;
  EXPECT_EQ(*m.find({1, 2}), 12);
  EXPECT_EQ(*m.find({2, 1}), 21);
  EXPECT_EQ(m.find({1, 1}), nullptr);
}

TEST(FlatMap, SteadyStateRingKeepsFindWorkingAndCapacityBounded) {
  // The call-stack pattern: insert the newest, erase the oldest, forever. With tombstones this
  // would fill the table and degrade; backward shift keeps it as it was after warm-up.
  constexpr uint64_t kLive = 16384;
  FlatMap<uint64_t, uint64_t> m;
  auto key = [](uint64_t i) { return 0x5555'0000'0000ull + i * 16; };
  for (uint64_t i = 0; i <= kLive; ++i) m[key(i)] = i;  // peak: kLive + 1 live
  m.erase(key(0));
  const size_t cap = m.capacity();
  for (uint64_t i = kLive + 1; i < 40 * kLive; ++i) {
    m[key(i)] = i;
    ASSERT_TRUE(m.erase(key(i - kLive))) << i;
    if (i % 997 == 0) {
      ASSERT_EQ(m.find(key(i - kLive)), nullptr) << i;
      const uint64_t* v = m.find(key(i - kLive / 2));
      ASSERT_NE(v, nullptr) << i;
      ASSERT_EQ(*v, i - kLive / 2);
    }
  }
  EXPECT_EQ(m.size(), kLive);
  EXPECT_EQ(m.capacity(), cap);
  EXPECT_LE(cap, 4 * kLive);
  for (uint64_t i = 39 * kLive; i < 40 * kLive; ++i) ASSERT_NE(m.find(key(i)), nullptr) << i;
}

}  // namespace
}  // namespace codedag
