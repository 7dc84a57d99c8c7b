#pragma once
// An open-addressing hash map for the tracer's per-event hot path, where std::unordered_map costs a
// node allocation per insert and a pointer chase per lookup. Linear probing over one contiguous slot
// array at load factor <= 0.5 keeps probes short and in cache; backward-shift deletion leaves no
// tombstones, so the insert-new/erase-oldest pattern of a call stack never degrades lookups or forces
// a rehash. Occupancy lives in its own byte array so every key value (0 included) stays usable.
//
// Pointers and references into the map are invalidated by any insertion or erasure.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace codedag {

// splitmix64's finaliser: the slot is `hash & mask`, so every input bit must reach the low bits.
// Addresses share their low zero bits (alignment) and their high bits (one heap), which would
// otherwise pile onto a few slots.
[[gnu::always_inline]] inline uint64_t mix64(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Integers, enums and pointers are mixed directly; other keys mix std::hash (often the identity).
// A custom Hash must itself spread entropy into the low bits (wrap it in mix64 if unsure).
template <class K>
struct FlatHash {
  size_t operator()(const K& k) const noexcept {
    if constexpr (std::is_pointer_v<K>) {
      return static_cast<size_t>(mix64(reinterpret_cast<uintptr_t>(k)));
    } else if constexpr (std::is_integral_v<K> || std::is_enum_v<K>) {
      return static_cast<size_t>(mix64(static_cast<uint64_t>(k)));
    } else {
      return static_cast<size_t>(mix64(static_cast<uint64_t>(std::hash<K>{}(k))));
    }
  }
};

template <class K, class V, class Hash = FlatHash<K>>
class FlatMap {
  // Shifts, probes and rehashes copy and compare keys freely; the hot-path keys are ids and
  // addresses, and limiting K to trivially copyable types keeps those copies free and noexcept.
  static_assert(std::is_trivially_copyable_v<K>, "FlatMap keys must be trivially copyable");
  struct Slot {
    K key;
    V value;
  };

 public:
  FlatMap() = default;
  explicit FlatMap(Hash hash) : hash_(std::move(hash)) {}
  FlatMap(const FlatMap& o) : hash_(o.hash_) {
    if (o.size_ == 0) return;
    reserve(o.size_);
    o.for_each([this](const K& k, const V& v) { insert_new(k, v); });
  }
  FlatMap(FlatMap&& o) noexcept { swap(o); }
  FlatMap& operator=(FlatMap o) noexcept {  // by value: copy- and move-assignment in one
    swap(o);
    return *this;
  }
  ~FlatMap() {
    for_each_slot([](Slot& s) { std::destroy_at(&s); });
  }

  void swap(FlatMap& o) noexcept {
    std::swap(hash_, o.hash_);
    std::swap(slots_, o.slots_);
    std::swap(used_, o.used_);
    std::swap(mask_, o.mask_);
    std::swap(size_, o.size_);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return slots_ ? mask_ + 1 : 0; }

  // No iterator object: the hook's lookups compile down to a probe loop and a pointer test.
  [[gnu::always_inline]] V* find(const K& k) {
    if (size_ == 0) return nullptr;  // also covers the unallocated map (mask_ is meaningless then)
    for (size_t i = hash_(k) & mask_; used_[i]; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return &slots_[i].value;
    }
    return nullptr;
  }
  const V* find(const K& k) const { return const_cast<FlatMap*>(this)->find(k); }

  template <class... Args>
  std::pair<V*, bool> try_emplace(const K& k, Args&&... args) {
    if ((size_ + 1) * 2 > capacity()) {
      if (V* v = find(k)) return {v, false};  // a present key must not trigger a growth
      grow(capacity() * 2);
    }
    // One hash and one probe: the run ends either at k or at the free slot k belongs in.
    size_t i = hash_(k) & mask_;
    for (; used_[i]; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return {&slots_[i].value, false};
    }
    return {emplace_at(i, k, std::forward<Args>(args)...), true};
  }
  V& operator[](const K& k) { return *try_emplace(k).first; }

  bool erase(const K& k) {
    if (size_ == 0) return false;
    size_t i = hash_(k) & mask_;
    for (; used_[i]; i = (i + 1) & mask_) {
      if (slots_[i].key == k) break;
    }
    if (!used_[i]) return false;
    std::destroy_at(&slots_[i]);
    // Backward shift: pull later entries of the run into the hole unless that would put them
    // before their home slot, so every probe run stays unbroken without tombstones.
    for (size_t j = (i + 1) & mask_; used_[j]; j = (j + 1) & mask_) {
      const size_t home = hash_(slots_[j].key) & mask_;
      if (((j - home) & mask_) < ((j - i) & mask_)) continue;  // home lies in (i, j]: stays
      std::construct_at(&slots_[i], std::move(slots_[j]));
      std::destroy_at(&slots_[j]);
      i = j;
    }
    used_[i] = 0;
    --size_;
    return true;
  }

  void clear() {
    for_each_slot([](Slot& s) { std::destroy_at(&s); });
    if (used_) std::fill_n(used_.get(), mask_ + 1, uint8_t{0});
    size_ = 0;
  }

  // Room for n entries without rehashing.
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    if (cap > capacity()) grow(cap);
  }

  template <class F>
  void for_each(F&& f) {
    for_each_slot([&](Slot& s) { f(std::as_const(s.key), s.value); });
  }
  template <class F>
  void for_each(F&& f) const {
    const_cast<FlatMap*>(this)->for_each_slot([&](Slot& s) { f(std::as_const(s.key), std::as_const(s.value)); });
  }

 private:
  template <class F>
  void for_each_slot(F&& f) {
    for (size_t i = 0; slots_ && i <= mask_; ++i) {
      if (used_[i]) f(slots_[i]);
    }
  }

  // Caller guarantees k is absent and a free slot exists (load <= 0.5 keeps one).
  template <class... Args>
  V* insert_new(const K& k, Args&&... args) {
    size_t i = hash_(k) & mask_;
    while (used_[i]) i = (i + 1) & mask_;
    return emplace_at(i, k, std::forward<Args>(args)...);
  }

  template <class... Args>
  V* emplace_at(size_t i, const K& k, Args&&... args) {
    ::new (static_cast<void*>(&slots_[i])) Slot{k, V(std::forward<Args>(args)...)};  // V built in place
    used_[i] = 1;
    ++size_;
    return &slots_[i].value;
  }

  void grow(size_t cap) {
    if (cap < 16) cap = 16;
    FlatMap next(hash_);
    next.slots_.reset(static_cast<Slot*>(::operator new (cap * sizeof(Slot), std::align_val_t{alignof(Slot)})));
    next.used_ = std::make_unique<uint8_t[]>(cap);  // value-initialised: all free
    next.mask_ = cap - 1;
    for_each_slot([&](Slot& s) { next.insert_new(s.key, std::move(s.value)); });
    swap(next);  // `next` now holds the old slots and destroys them
  }

  struct Free {
    void operator()(Slot* p) const noexcept { ::operator delete (p, std::align_val_t{alignof(Slot)}); }
  };
  [[no_unique_address]] Hash hash_{};
  std::unique_ptr<Slot[], Free> slots_;  // raw storage: only slots with used_[i] hold a live Slot
  std::unique_ptr<uint8_t[]> used_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace codedag
