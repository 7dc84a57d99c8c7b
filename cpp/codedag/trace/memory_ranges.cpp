#include "codedag/trace/memory_ranges.hpp"

#include <algorithm>
#include <vector>

namespace codedag::trace {

void MemoryRanges::add(uint64_t begin, uint64_t end, uint64_t owner, uint64_t tag) {
  if (end <= begin) return;
  if (by_begin_.size() >= capacity_) {
    by_begin_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(by_begin_.emplace(begin, Entry{end, owner, tag, ++seq_}));
  max_length_ = std::max(max_length_, end - begin);
}

std::optional<MemoryRanges::Found> MemoryRanges::find(uint64_t begin, uint64_t end,
                                                      const std::function<bool(const Found&)>& alive) {
  if (end <= begin || by_begin_.empty()) return std::nullopt;
  std::optional<Found> best;
  uint64_t best_seq = 0;
  std::vector<Map::iterator> dead;
  auto it = by_begin_.upper_bound(begin);  // every candidate starts at or before `begin`
  for (size_t scanned = 0; it != by_begin_.begin() && scanned < kMaxScan; ++scanned) {
    --it;
    if (it->first + max_length_ < end) break;  // nothing starting this early reaches `end`
    const Entry& e = it->second;
    if (e.end < end || e.seq <= best_seq) continue;
    const Found candidate{e.owner, e.tag};
    if (!alive(candidate)) {
      dead.push_back(it);
      continue;
    }
    best = candidate;
    best_seq = e.seq;
  }
  if (!dead.empty()) {
    order_.erase(std::remove_if(order_.begin(), order_.end(),
                                [&](Map::iterator o) { return std::find(dead.begin(), dead.end(), o) != dead.end(); }),
                 order_.end());
    for (Map::iterator d : dead) by_begin_.erase(d);
  }
  return best;
}

void MemoryRanges::clear() {
  by_begin_.clear();
  order_.clear();
  max_length_ = 0;
}

}  // namespace codedag::trace
