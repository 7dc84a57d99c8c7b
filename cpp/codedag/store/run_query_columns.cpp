// The run table's summaries: which value columns vary among the matching runs (and the constant
// ones), and groups with mean and standard deviation (run_query.hpp).
#include <algorithm>
#include <cmath>

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
  v.total = m.names.size();
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
  while (done < m.names.size()) {
    const size_t end = std::min(m.names.size(), done + kBatch);
    std::string sql = "SELECT key_id, num, txt FROM run_values WHERE test_name IN (";
    std::vector<SqlValue> names;
    for (size_t i = done; i < end; ++i) {
      names.push_back(m.names[i]);
      sql += (names.size() > 1 ? ",?" : "?") + std::to_string(names.size());
    }
    SqlRows rows(reader_, sql + ")", names);
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
    if (!open && done < m.names.size()) {
      stopped_early = true;
      break;
    }
  }
  if (stopped_early) {
    // Keys none of the looked-at runs has: a column (varying: the first runs lack it) when any
    // later matching run has one, found by walking that key's index entries.
    for (const auto& [id, key] : keys_by_id_) {
      if (v.columns.count(id) || decided.count(id)) continue;
      SqlRows rows(reader_, "SELECT test_name FROM run_values WHERE key_id = ?1", {id});
      size_t found = 0;
      while (rows.next())
        if (m.members.count(rows.text(0))) ++found;
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

void RunTable::fill_groups(const RunQuery& q, const Sql& where, RunPage& page, std::vector<std::string>& warnings) {
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
  // Each matching run's group (its values of the group keys, missing ones null) ...
  std::string sql = "SELECT r.test_name";
  std::string join;
  std::vector<SqlValue> params = where.params;
  for (size_t i = 0; i < keys.size(); ++i) {
    params.push_back(keys[i].id);
    const std::string g = "g" + std::to_string(i);
    sql += ", " + g + ".num, " + g + ".txt";
    join += " LEFT JOIN run_values " + g + " ON " + g + ".test_name = r.test_name AND " + g + ".key_id = ?" +
            std::to_string(params.size());
  }
  // Groups ordered by their values (numbers numerically, then strings): json's own ordering.
  struct Moments {
    size_t n = 0;
    double sum = 0, sum_sq = 0;
  };
  struct Group {
    size_t runs = 0;
    std::map<std::string, Moments> metrics;
  };
  std::map<json, Group> groups;
  std::map<std::string, Group*> group_of;  // test_name -> its group
  {
    SqlRows rows(reader_, sql + " FROM runs r" + join + " WHERE " + where.where, params);
    while (rows.next()) {
      json values = json::object();
      for (size_t i = 0; i < keys.size(); ++i) {
        const int col = 1 + 2 * static_cast<int>(i);
        values[keys[i].display] = value_of_row(rows.null(col), rows.real(col), rows.null(col + 1), rows.text(col + 1));
      }
      Group& g = groups[std::move(values)];
      ++g.runs;
      group_of[rows.text(0)] = &g;
    }
  }
  // ... then every metric of those runs, folded into mean and standard deviation per group.
  {
    SqlRows rows(reader_,
                 "SELECT r.test_name, v.key_id, v.num FROM runs r JOIN run_values v ON v.test_name = r.test_name "
                 "JOIN value_keys k ON k.id = v.key_id AND k.kind IN ('b', 'l') WHERE " +
                     where.where + " AND v.num IS NOT NULL",
                 where.params);
    while (rows.next()) {
      const auto g = group_of.find(rows.text(0));
      const auto k = keys_by_id_.find(rows.int64(1));
      if (g == group_of.end() || k == keys_by_id_.end()) continue;
      Moments& m = g->second->metrics[k->second.display];
      const double x = rows.real(2);
      ++m.n;
      m.sum += x;
      m.sum_sq += x * x;
    }
  }
  page.total_groups = groups.size();
  size_t index = 0;
  const size_t limit = std::min(q.limit, kMaxPageSize);
  for (const auto& [values, g] : groups) {
    if (index++ < q.offset) continue;
    if (page.groups.size() >= limit) break;
    json metrics = json::object();
    for (const auto& [key, m] : g.metrics) {
      const double mean = m.sum / static_cast<double>(m.n);
      // Sample standard deviation (n-1): repeats of a cell are a sample of its seeds.
      const double var = m.n > 1 ? std::max(0.0, (m.sum_sq - m.sum * mean) / static_cast<double>(m.n - 1)) : 0.0;
      metrics[key] = json{{"mean", mean}, {"std", m.n > 1 ? json(std::sqrt(var)) : json(nullptr)}, {"n", m.n}};
    }
    page.groups.push_back(json{{"values", values}, {"runs", g.runs}, {"metrics", std::move(metrics)}});
  }
}

}  // namespace codedag::store
