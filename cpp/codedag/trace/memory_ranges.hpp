#pragma once
// Which produced value a piece of memory belongs to: the tracer's index of produced array *views*
// by the address range their elements span. numpy collapses a view's `.base` to the array owning
// the memory, so a view of a view (a row of a reshape of a slice) names the owner, not the view a
// traced call returned; when the owner was produced by no traced call (np.load's buffer), the
// range is what still tells which produced view the memory was cut from: the newest produced range
// that contains it.
//
// Bounded: at most `capacity` ranges (the oldest is forgotten first: an edge lost, never one
// invented), and a look-up walks at most kMaxScan entries. Owners are opaque keys; the caller says
// which are still alive (a dead owner's range is dropped when met).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>

namespace codedag::trace {

class MemoryRanges {
 public:
  struct Found {
    uint64_t owner = 0;
    uint64_t tag = 0;
  };
  static constexpr size_t kMaxScan = 64;

  explicit MemoryRanges(size_t capacity = 4096) : capacity_(capacity ? capacity : 1) {}

  // Records that [begin, end) belongs to `owner` (with the caller's `tag`, e.g. its producer);
  // a later range wins over an earlier one where both contain a look-up. Empty ranges are ignored.
  void add(uint64_t begin, uint64_t end, uint64_t owner, uint64_t tag);
  // The newest range containing [begin, end) whose owner `alive` accepts; ranges met whose owner it
  // rejects are dropped. nullopt when none.
  std::optional<Found> find(uint64_t begin, uint64_t end, const std::function<bool(const Found&)>& alive);
  void clear();
  size_t size() const { return by_begin_.size(); }

 private:
  struct Entry {
    uint64_t end = 0, owner = 0, tag = 0, seq = 0;
  };
  using Map = std::multimap<uint64_t, Entry>;
  size_t capacity_;
  uint64_t seq_ = 0;
  uint64_t max_length_ = 0;  // no range is longer: where a backward walk can stop
  Map by_begin_;
  std::deque<Map::iterator> order_;  // insertion order, for forgetting the oldest
};

}  // namespace codedag::trace
