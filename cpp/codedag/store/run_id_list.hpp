#pragma once
// A set of runs as their index row ids (runs.id, schema 7), sorted and without repeats: the panel's
// filters intersect and subtract these instead of sets of test_names, so a condition matching 80k
// runs costs 80k integers read and sorted, not 80k strings copied and hashed. Names are read only
// for the page shown.
#include <algorithm>
#include <iterator>
#include <vector>

namespace codedag::store {

class RunIdList {
 public:
  RunIdList() = default;
  // Any order, repeats allowed (a value index range lists runs in value order).
  explicit RunIdList(std::vector<long long> ids) : ids_(std::move(ids)) {
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
  }

  bool contains(long long id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }
  // Where `id` is in the list (its rank), or size() when it is not there.
  size_t position(long long id) const {
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    return it != ids_.end() && *it == id ? static_cast<size_t>(it - ids_.begin()) : ids_.size();
  }
  size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }
  const std::vector<long long>& ids() const { return ids_; }

  RunIdList intersect(const RunIdList& other) const {
    RunIdList out;
    std::set_intersection(ids_.begin(), ids_.end(), other.ids_.begin(), other.ids_.end(), std::back_inserter(out.ids_));
    return out;
  }
  RunIdList without(const RunIdList& other) const {
    RunIdList out;
    std::set_difference(ids_.begin(), ids_.end(), other.ids_.begin(), other.ids_.end(), std::back_inserter(out.ids_));
    return out;
  }
  RunIdList unite(const RunIdList& other) const {
    RunIdList out;
    std::set_union(ids_.begin(), ids_.end(), other.ids_.begin(), other.ids_.end(), std::back_inserter(out.ids_));
    return out;
  }

 private:
  std::vector<long long> ids_;
};

}  // namespace codedag::store
