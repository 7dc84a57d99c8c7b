// The run table's summaries: which value columns vary among the matching runs (and the constant
// ones), and groups with mean and standard deviation (run_query.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <tuple>
#include <unordered_map>

#include "codedag/store/run_query.hpp"
#include "codedag/store/run_query_detail.hpp"

namespace codedag::store {
namespace {
constexpr size_t kVaryingCacheEntries = 16;
constexpr size_t kMaxGroupKeys = 4;
}  // namespace

using detail::Bound;
using detail::kind_name;

// Over every row of the index, deleted ones too (the unfiltered page when none is deleted): per key,
// how many runs have it and the first and last value in index order (equal only when all are
// equal). Two index seeks and one range count per key.
const RunTable::Varying& RunTable::varying_all() {
  if (const auto it = varying_cache_.find(""); it != varying_cache_.end()) return it->second;
  Varying v;
  {
    SqlRows count(reader_, "SELECT count(*) FROM runs");
    v.total = count.next() ? static_cast<size_t>(count.int64(0)) : 0;
  }
  for (const auto& [id, key] : keys_by_id_) {
    ColumnInfo c{key.display, kind_name(key.kind), 0, false};
    {
      SqlRows n(reader_, "SELECT count(*) FROM run_values WHERE key_id = ?1", {id});
      c.runs = n.next() ? static_cast<size_t>(n.int64(0)) : 0;
    }
    if (c.runs == 0) continue;
    Bound lo, hi;
    for (const auto& [bound, order] : {std::pair{&lo, "ASC"}, std::pair{&hi, "DESC"}}) {
      SqlRows b(reader_,
                std::string("SELECT num, txt FROM run_values WHERE key_id = ?1 ORDER BY num ") + order + ", txt " +
                    order + " LIMIT 1",
                {id});
      if (b.next()) *bound = Bound{b.null(0), b.null(1), b.real(0), b.text(1)};
    }
    c.varies = c.runs < v.total || !(lo == hi);
    if (!c.varies) v.constant[id] = value_of_row(lo.num_null, lo.num, lo.txt_null, lo.txt);
    v.columns[id] = std::move(c);
  }
  return varying_cache_.emplace("", std::move(v)).first->second;
}

RunTable::Varying RunTable::varying_among(const Sql& where, const Matching& m, const std::string& cache_key) {
  if (const auto it = varying_cache_.find(cache_key); it != varying_cache_.end()) return it->second;
  Varying v;
  v.total = m.ids.size();
  // Decided before looking: a key every run of the store has with one value, and a key the
  // filter pins (key=value), are constant among the matching runs.
  // (varying_all() looks at every row, deleted ones too: one value in all of them is one value in any subset.)
  std::map<long long, bool> decided;  // key -> constant
  const Varying& all = varying_all();
  for (const auto& [id, c] : all.columns)
    if (!c.varies && v.total > 0) {
      v.columns[id] = ColumnInfo{c.key, c.kind, v.total, false};
      v.constant[id] = all.constant.at(id);
      decided[id] = true;
    }
  for (const ValueSet& set : where.sets)
    if (set.pins && !set.negate && !decided.count(set.key_id) && v.total > 0) decided[set.key_id] = true;
  // The other keys: the matching runs' values, a batch of runs at a time, until every key seen
  // varies (then the counts are lower bounds). A key still constant needs the whole pass.
  constexpr size_t kBatch = 64;
  std::map<long long, Bound> first;
  size_t done = 0;
  bool stopped_early = false;
  // Newest first when the filter listed the runs in page order (the runs the page shows first).
  const std::vector<long long>& runs = m.ordered ? m.newest_first : m.ids.ids();
  while (done < runs.size()) {
    const size_t end = std::min(runs.size(), done + kBatch);
    std::string sql = "SELECT key_id, num, txt FROM run_values WHERE run_id IN (";
    std::vector<SqlValue> batch;
    for (size_t i = done; i < end; ++i) {
      batch.push_back(runs[i]);
      sql += (batch.size() > 1 ? ",?" : "?") + std::to_string(batch.size());
    }
    SqlRows rows(reader_, sql + ")", batch);
    while (rows.next()) {
      const long long id = rows.int64(0);
      const auto k = keys_by_id_.find(id);
      if (k == keys_by_id_.end()) continue;  // a key added after refresh_keys(): next query sees it
      const auto d = decided.find(id);
      if (d != decided.end() && v.columns.count(id) && v.constant.count(id)) continue;  // store-wide constant
      const Bound b{rows.null(1), rows.null(2), rows.real(1), rows.text(2)};
      auto [it, added] = v.columns.try_emplace(id, ColumnInfo{k->second.display, kind_name(k->second.kind), 0, false});
      ++it->second.runs;
      if (added)
        first.emplace(id, b);
      else if (!it->second.varies && !(first[id] == b))
        it->second.varies = true;
    }
    done = end;
    // A key some looked-at run lacks varies too. Stop once every key met varies or was decided,
    // unless one never met might still be had by a later run (then its column must be found).
    bool open = false;
    for (auto& [id, c] : v.columns) {
      if (decided.count(id)) continue;
      if (c.runs < done) c.varies = true;
      open = open || !c.varies;
    }
    if (!open && done < runs.size()) {
      stopped_early = true;
      break;
    }
  }
  if (stopped_early) {
    // Keys none of the looked-at runs has: a column (varying: the first runs lack it) when any
    // later matching run has one, found by walking that key's index entries.
    for (const auto& [id, key] : keys_by_id_) {
      if (v.columns.count(id) || decided.count(id)) continue;
      SqlRows rows(reader_, "SELECT run_id FROM run_values WHERE key_id = ?1", {id});
      size_t found = 0;
      while (rows.next())
        if (m.ids.contains(rows.int64(0))) ++found;
      if (found) v.columns[id] = ColumnInfo{key.display, kind_name(key.kind), found, true};
    }
    for (auto& [id, c] : v.columns)
      if (!decided.count(id)) c.counted = false;
  }
  for (auto& [id, c] : v.columns) {
    if (decided.count(id)) {
      c.runs = v.total;
      c.varies = false;
      if (!v.constant.count(id)) {  // pinned by the filter: the value the first run has
        const auto f = first.find(id);
        v.constant[id] = f == first.end()
                             ? json(nullptr)
                             : value_of_row(f->second.num_null, f->second.num, f->second.txt_null, f->second.txt);
      }
      continue;
    }
    if (!stopped_early && c.runs < v.total) c.varies = true;
    if (!c.varies) {
      const Bound& b = first[id];
      v.constant[id] = value_of_row(b.num_null, b.num, b.txt_null, b.txt);
    }
  }
  if (varying_cache_.size() >= kVaryingCacheEntries) varying_cache_.erase(std::next(varying_cache_.begin()));
  varying_cache_.emplace(cache_key, v);
  return v;
}

namespace {

// Calls f(position of the run in `runs`, key id, value) for every value of `key_ids` the runs have.
// Many runs: each key's range of the value index, once. Few: each run's own rows (its primary key
// range), a batch of runs at a time, so a small filter never reads a whole key.
template <class F>
void each_value(const SqlReader& reader, const RunIdList& runs, size_t all_runs, const std::vector<long long>& key_ids,
                F&& f) {
  if (key_ids.empty() || runs.empty()) return;
  if (runs.size() * 8 >= all_runs) {
    // Ids are handed out densely: a table from id to position (else a binary search per value).
    const std::vector<long long>& ids = runs.ids();
    const long long lo = ids.front(), hi = ids.back();
    const bool dense = static_cast<unsigned long long>(hi - lo) < 4 * ids.size() + 4096;
    std::vector<uint32_t> at;
    if (dense) {
      at.assign(static_cast<size_t>(hi - lo) + 1, UINT32_MAX);
      for (size_t i = 0; i < ids.size(); ++i) at[static_cast<size_t>(ids[i] - lo)] = static_cast<uint32_t>(i);
    }
    for (const long long k : key_ids) {
      SqlRows rows(reader, "SELECT run_id, num, txt FROM run_values WHERE key_id = ?1", {k});
      while (rows.next()) {
        const long long id = rows.int64(0);
        size_t pos = runs.size();
        if (!dense)
          pos = runs.position(id);
        else if (id >= lo && id <= hi && at[static_cast<size_t>(id - lo)] != UINT32_MAX)
          pos = at[static_cast<size_t>(id - lo)];
        if (pos < runs.size()) f(pos, k, Bound{rows.null(1), rows.null(2), rows.real(1), rows.text(2)});
      }
    }
    return;
  }
  const std::set<long long> wanted(key_ids.begin(), key_ids.end());
  constexpr size_t kBatch = 256;
  const std::vector<long long>& ids = runs.ids();
  for (size_t done = 0; done < ids.size(); done += kBatch) {
    std::string sql = "SELECT run_id, key_id, num, txt FROM run_values WHERE run_id IN (";
    std::vector<SqlValue> batch;
    for (size_t i = done; i < std::min(ids.size(), done + kBatch); ++i) {
      batch.push_back(ids[i]);
      sql += (batch.size() > 1 ? ",?" : "?") + std::to_string(batch.size());
    }
    SqlRows rows(reader, sql + ")", batch);
    while (rows.next()) {
      const long long k = rows.int64(1);
      if (wanted.count(k))
        f(runs.position(rows.int64(0)), k, Bound{rows.null(2), rows.null(3), rows.real(2), rows.text(3)});
    }
  }
}

}  // namespace

void RunTable::fill_groups(const RunQuery& q, const Matching& m, RunPage& page, std::vector<std::string>& warnings) {
  if (q.group_by.size() > kMaxGroupKeys) throw InputError("group: at most " + std::to_string(kMaxGroupKeys) + " keys");
  std::vector<Key> keys;
  for (const std::string& name : q.group_by) {
    const std::optional<Key> k = find_key(name);
    if (!k) {
      warnings.push_back("cannot group by '" + name + "': no run has it");
      continue;
    }
    keys.push_back(*k);
  }
  page.groups = json::array();
  if (keys.empty()) return;
  const size_t n = m.ids.size();
  const size_t all_runs = varying_all().total;
  // Each matching run's value of each group key as a small number: 0 for none (missing or null),
  // else 1 + the value's place among that key's distinct values.
  std::vector<long long> key_ids;
  std::map<long long, size_t> slot;  // key id -> its column in `codes`
  for (const Key& k : keys)
    if (slot.emplace(k.id, key_ids.size()).second) key_ids.push_back(k.id);
  std::vector<std::vector<uint32_t>> codes(key_ids.size(), std::vector<uint32_t>(n, 0));
  std::vector<std::vector<Bound>> distinct(key_ids.size());
  std::vector<std::map<std::tuple<bool, double, bool, std::string>, uint32_t>> code_of(key_ids.size());
  each_value(reader_, m.ids, all_runs, key_ids, [&](size_t pos, long long key, const Bound& b) {
    if (b.num_null && b.txt_null) return;  // null: the same group as a run without the key
    const size_t col = slot.at(key);
    const auto [it, added] = code_of[col].try_emplace(
        std::make_tuple(b.num_null, b.num_null ? 0.0 : b.num, b.txt_null, b.txt_null ? std::string() : b.txt),
        static_cast<uint32_t>(distinct[col].size() + 1));
    if (added) distinct[col].push_back(b);
    codes[col][pos] = it->second;
  });
  // Welford's running mean and sum of squared deviations: sum(x^2) - n*mean^2 cancels to noise for
  // metrics far from zero (a timestamp-like 1.7e9 +- 1 gave a standard deviation of 0 or hundreds).
  struct Moments {
    size_t n = 0;
    double mean = 0, m2 = 0;
    void add(double x) {
      ++n;
      const double d = x - mean;
      mean += d / static_cast<double>(n);
      m2 += d * (x - mean);
    }
    void merge(const Moments& o) {  // Chan et al.'s pairwise update
      if (o.n == 0) return;
      const double total = static_cast<double>(n + o.n), d = o.mean - mean;
      mean += d * static_cast<double>(o.n) / total;
      m2 += o.m2 + d * d * static_cast<double>(n) * static_cast<double>(o.n) / total;
      n += o.n;
    }
  };
  // Every metric key has a slot in each group's moments.
  std::vector<long long> metric_ids;
  std::unordered_map<long long, size_t> metric_slot;
  for (const auto& [id, k] : keys_by_id_)
    if (k.kind == 'b' || k.kind == 'l') {
      metric_slot.emplace(id, metric_ids.size());
      metric_ids.push_back(id);
    }
  struct Group {
    size_t runs = 0;
    std::vector<Moments> metrics;
  };
  // Runs with the same codes form a group, numbered one key at a time: (group so far, code of the next key) ->
  // a dense number, with `parents` to read each final group's codes back.
  std::vector<uint32_t> group_of(n, 0);
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> parents(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::vector<uint32_t>& code = codes[slot.at(keys[i].id)];
    std::unordered_map<uint64_t, uint32_t> numbered;
    for (size_t pos = 0; pos < n; ++pos) {
      const uint64_t pair = (static_cast<uint64_t>(group_of[pos]) << 32) | code[pos];
      const auto [it, added] = numbered.try_emplace(pair, static_cast<uint32_t>(parents[i].size()));
      if (added) parents[i].emplace_back(group_of[pos], code[pos]);
      group_of[pos] = it->second;
    }
  }
  std::vector<Group> found(parents.back().size(), Group{0, std::vector<Moments>(metric_ids.size())});
  for (size_t pos = 0; pos < n; ++pos) ++found[group_of[pos]].runs;
  // ... and every metric of those runs is folded into mean and standard deviation per group.
  each_value(reader_, m.ids, all_runs, metric_ids, [&](size_t pos, long long key, const Bound& b) {
    if (!b.num_null) found[group_of[pos]].metrics[metric_slot.at(key)].add(b.num);
  });
  // Groups ordered by their values (numbers numerically, then strings): json's own ordering.
  std::map<json, Group> groups;
  for (size_t index = 0; index < found.size(); ++index) {
    json values = json::object();
    uint32_t g = static_cast<uint32_t>(index);
    for (size_t i = keys.size(); i-- > 0;) {
      const auto [parent, code] = parents[i][g];
      const Bound& b = code == 0 ? Bound{} : distinct[slot.at(keys[i].id)][code - 1];
      values[keys[i].display] = value_of_row(b.num_null, b.num, b.txt_null, b.txt);
      g = parent;
    }
    // Two stored values may read as one (-0 and 0): their runs are one group.
    const auto [it, added] = groups.try_emplace(std::move(values), found[index]);
    if (added) continue;
    it->second.runs += found[index].runs;
    for (size_t k = 0; k < metric_ids.size(); ++k) it->second.metrics[k].merge(found[index].metrics[k]);
  }
  page.total_groups = groups.size();
  size_t index = 0;
  const size_t limit = std::min(q.limit, kMaxPageSize);
  for (const auto& [values, g] : groups) {
    if (index++ < q.offset) continue;
    if (page.groups.size() >= limit) break;
    json metrics = json::object();
    for (size_t k = 0; k < metric_ids.size(); ++k) {
      const Moments& m = g.metrics[k];
      if (m.n == 0) continue;  // no run of the group has it
      const std::string& key = keys_by_id_.at(metric_ids[k]).display;
      // Sample standard deviation (n-1): repeats of a cell are a sample of its seeds.
      const double var = m.n > 1 ? std::max(0.0, m.m2 / static_cast<double>(m.n - 1)) : 0.0;
      metrics[key] = json{{"mean", m.mean}, {"std", m.n > 1 ? json(std::sqrt(var)) : json(nullptr)}, {"n", m.n}};
    }
    page.groups.push_back(json{{"values", values}, {"runs", g.runs}, {"metrics", std::move(metrics)}});
  }
}

}  // namespace codedag::store
