#include "codedag/trace/context_tree.hpp"

#include <algorithm>

namespace codedag::trace {

size_t ContextTree::KeyHash::operator()(const Key& k) const noexcept {
  // splitmix-style mixing: the addresses share high bits, so plain xor would collide.
  uint64_t h = k.func * 0x9E3779B97F4A7C15ull;
  h ^= (k.site.code + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2));
  h ^= (static_cast<uint64_t>(static_cast<uint32_t>(k.site.offset)) << 32) | static_cast<uint32_t>(k.parent);
  h *= 0xBF58476D1CE4E5B9ull;
  return static_cast<size_t>(h ^ (h >> 31));
}

int32_t ContextTree::child(int32_t parent, FuncId func, CallSite site, bool builtin) {
  const auto next = static_cast<int32_t>(contexts_.size());
  // One probe for both the lookup and the insert: a context is created at most once per key.
  if (auto [id, inserted] = index_.try_emplace(Key{parent, func, site}, next); !inserted) return *id;
  Context c;
  c.parent = parent;
  c.depth = parent < 0 ? 1 : contexts_[static_cast<size_t>(parent)].depth + 1;
  c.func = func;
  c.site = site;
  c.builtin = builtin;
  contexts_.push_back(std::move(c));
  return next;
}

int32_t ContextTree::find(int32_t parent, FuncId func, CallSite site) const {
  const int32_t* id = index_.find(Key{parent, func, site});
  return id ? *id : -1;
}

void ContextTree::alias(int32_t parent, FuncId func, CallSite site, int32_t ctx) {
  index_.try_emplace(Key{parent, func, site}, ctx);
}

void ContextTree::add_flow(int32_t src, int32_t dst, double bytes) {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(src)) << 32) | static_cast<uint32_t>(dst);
  ++flow_events_;
  // A loop feeds one consumer from one producer again and again: the last flow is kept at hand
  // (valid until the next insertion, which replaces it).
  if (key != last_.key || !last_.flow) {
    auto [f, inserted] = flows_.try_emplace(key);
    if (inserted) {
      f->src = src;
      f->dst = dst;
    }
    last_.flow = f;
    last_.key = key;
  }
  last_.flow->bytes += bytes;
  last_.flow->count += 1;
}

void ContextTree::add_lib_call(int32_t ctx, FuncId func) {
  auto& libs = contexts_[static_cast<size_t>(ctx)].stats.lib_calls;
  if (std::find(libs.begin(), libs.end(), func) == libs.end()) libs.push_back(func);
}

std::vector<Flow> ContextTree::flows() const {
  std::vector<Flow> out;
  out.reserve(flows_.size());
  flows_.for_each([&](uint64_t, const Flow& f) { out.push_back(f); });
  std::sort(out.begin(), out.end(),
            [](const Flow& a, const Flow& b) { return a.src != b.src ? a.src < b.src : a.dst < b.dst; });
  return out;
}

void ContextTree::clear_numbers() {
  for (auto& c : contexts_) c.stats = ContextStats{};
  flows_.clear();
  last_.flow = nullptr;
}

void ContextTree::clear() {
  contexts_.clear();
  index_.clear();
  flows_.clear();
  last_.flow = nullptr;
}

}  // namespace codedag::trace
