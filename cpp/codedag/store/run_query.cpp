#include "codedag/store/run_query.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "codedag/common/error.hpp"
#include "codedag/store/run_format.hpp"

namespace codedag::store {
namespace {

constexpr size_t kMaxFilterLength = 4096;
constexpr size_t kMaxConditions = 32;
constexpr size_t kMaxGroupKeys = 4;
constexpr size_t kVaryingCacheEntries = 16;

// Run fields a filter or sort may name, with their SQL expression and whether they hold numbers.
struct RunField {
  const char* name;
  const char* sql;
  bool number;
  bool date;
};
constexpr RunField kRunFields[] = {
    {"id", "r.test_name", false, false},        {"test_name", "r.test_name", false, false},
    {"name", "r.name", false, false},           {"status", "r.status", false, false},
    {"host", "r.host", false, false},           {"started", "r.started_at", true, true},
    {"started_at", "r.started_at", true, true}, {"ended", "r.ended_at", true, true},
    {"ended_at", "r.ended_at", true, true},     {"duration", "r.duration", true, false},
};

const RunField* run_field(const std::string& key) {
  for (const RunField& f : kRunFields)
    if (key == f.name) return &f;
  return nullptr;
}

const char* kind_name(char kind) {
  switch (kind) {
    case 'b':
      return "best";
    case 'l':
      return "last";
    case 's':
      return "sweep";
    default:
      return "param";
  }
}

std::string display_key(char kind, const std::string& key) {
  if (kind == 'b') return "best." + key;
  if (kind == 'l') return "last." + key;
  return key;  // params as flattened; sweep keys are stored as "sweep.<field>"
}

std::optional<double> as_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The SQL comparison for an operator of the filter language (never user text).
const char* sql_op(const std::string& op) {
  if (op == "=") return "=";
  if (op == "!=") return "!=";
  if (op == ">") return ">";
  if (op == ">=") return ">=";
  if (op == "<") return "<";
  return "<=";
}

// A value identical for every matching run: the first and last of an ordered scan agree.
struct Bound {
  bool num_null = true, txt_null = true;
  double num = 0;
  std::string txt;
  bool operator==(const Bound& o) const {
    return num_null == o.num_null && txt_null == o.txt_null && (num_null || num == o.num) && (txt_null || txt == o.txt);
  }
};

}  // namespace

json value_of_row(bool num_null, double num, bool txt_null, const std::string& txt) {
  if (!txt_null && !num_null && (txt == "true" || txt == "false")) return txt == "true";
  if (!num_null) {
    if (std::floor(num) == num && std::abs(num) < 9.007199254740992e15) return static_cast<long long>(num);
    return num;
  }
  if (!txt_null) return txt;
  return nullptr;
}

std::vector<FilterCondition> parse_filter(const std::string& text) {
  if (text.size() > kMaxFilterLength)
    throw InputError("filter: " + std::to_string(text.size()) + " characters, more than the " +
                     std::to_string(kMaxFilterLength) + " allowed");
  std::vector<FilterCondition> out;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    // One token: up to unquoted whitespace; a double-quoted part may hold spaces.
    std::string token;
    bool quoted = false;
    const size_t start = i;
    for (; i < n; ++i) {
      const char c = text[i];
      if (c == '"') {
        quoted = !quoted;
        continue;
      }
      if (!quoted && std::isspace(static_cast<unsigned char>(c))) break;
      if (c == '\\' && quoted && i + 1 < n) {  // \" and \\ inside quotes
        token += text[++i];
        continue;
      }
      token += c;
    }
    if (quoted)
      throw InputError("filter: the quote opened at character " + std::to_string(start + 1) + " is not closed");
    // The operator: the first of ~ ! < > = in the token (keys do not contain them).
    const size_t at = token.find_first_of("~!<>=");
    FilterCondition c;
    if (at == std::string::npos) {
      c.value = token;
    } else {
      c.key = token.substr(0, at);
      size_t len = 1;
      if ((token[at] == '!' || token[at] == '<' || token[at] == '>' || token[at] == '=') && at + 1 < token.size() &&
          token[at + 1] == '=')
        len = 2;
      c.op = token.substr(at, len);
      if (c.op == "==") c.op = "=";
      if (c.op == "!") throw InputError("filter: '" + token + "': '!' must be followed by '=' (key!=value)");
      c.value = token.substr(at + len);
      if (c.key.empty())
        throw InputError("filter: '" + token + "' has no key before '" + c.op + "' (write key" + c.op + "value)");
    }
    out.push_back(std::move(c));
    if (out.size() > kMaxConditions)
      throw InputError("filter: more than " + std::to_string(kMaxConditions) + " conditions");
  }
  return out;
}

RunTable::RunTable(const std::string& index_path) : reader_(index_path) {}

void RunTable::refresh_keys() {
  const long long v = reader_.data_version();
  if (v == keys_version_) return;
  keys_by_id_.clear();
  ids_by_display_.clear();
  SqlRows rows(reader_, "SELECT id, kind, key FROM value_keys ORDER BY kind, key");
  while (rows.next()) {
    Key k;
    k.id = rows.int64(0);
    const std::string kind = rows.text(1);
    k.kind = kind.empty() ? 'p' : kind[0];
    k.display = display_key(k.kind, rows.text(2));
    ids_by_display_.emplace(k.display, k.id);
    keys_by_id_.emplace(k.id, std::move(k));
  }
  keys_version_ = v;
}

std::optional<RunTable::Key> RunTable::find_key(const std::string& display_in) const {
  std::string display = display_in;
  if (display.rfind("param:", 0) == 0) {
    display = display.substr(6);
    for (const auto& [id, k] : keys_by_id_)
      if (k.kind == 'p' && k.display == display) return k;
    return std::nullopt;
  }
  const auto it = ids_by_display_.find(display);
  if (it == ids_by_display_.end()) return std::nullopt;
  return keys_by_id_.at(it->second);
}

std::vector<std::string> RunTable::keys() {
  refresh_keys();
  std::vector<std::string> out;
  for (const auto& [display, id] : ids_by_display_) out.push_back(display);
  return out;
}

RunTable::Sql RunTable::where_clause(const std::vector<FilterCondition>& conditions, bool include_deleted,
                                     std::vector<std::string>& warnings) const {
  Sql s;
  s.where = include_deleted ? "1" : "r.deleted = 0";
  auto param = [&](SqlValue v) {
    s.params.push_back(std::move(v));
    return "?" + std::to_string(s.params.size());
  };
  for (const FilterCondition& c : conditions) {
    if (c.key.empty()) {  // a bare word
      s.where += " AND instr(lower(r.name || ' ' || r.test_name || ' ' || r.status || ' ' || r.tags), " +
                 param(lower(c.value)) + ") > 0";
      continue;
    }
    if (c.key == "tag" || c.key == "tags") {
      if (c.op == "=" || c.op == "!=")
        s.where += std::string(c.op == "!=" ? " AND NOT" : " AND") +
                   " EXISTS (SELECT 1 FROM json_each(r.tags) WHERE json_each.value = " + param(c.value) + ")";
      else if (c.op == "~")
        s.where += " AND EXISTS (SELECT 1 FROM json_each(r.tags) WHERE instr(lower(json_each.value), " +
                   param(lower(c.value)) + ") > 0)";
      else
        throw InputError("filter: tags compare with =, != or ~ ('" + c.key + c.op + c.value + "')");
      continue;
    }
    if (const RunField* f = run_field(c.key)) {
      if (c.op == "~") {
        s.where += std::string(" AND instr(lower(") + f->sql + "), " + param(lower(c.value)) + ") > 0";
        continue;
      }
      if (!f->number) {
        s.where += std::string(" AND ") + f->sql + " " + sql_op(c.op) + " " + param(c.value);
        continue;
      }
      std::optional<double> v = as_number(c.value);
      if (!v && f->date) v = parse_date(c.value, "filter " + c.key);
      if (!v)
        throw InputError("filter: '" + c.key + c.op + c.value + "': " + c.key + " is a number" +
                         (f->date ? " or a date (2026-03-06, 2026-03-06T12:30)" : " (seconds)"));
      s.where += std::string(" AND ") + f->sql + " " + sql_op(c.op) + " " + param(*v);
      continue;
    }
    const std::optional<Key> key = find_key(c.key);
    if (!key) {
      warnings.push_back("no run has a value '" + c.key + "': '" + c.key + c.op + c.value + "' matches " +
                         (c.op == "!=" ? "every run" : "no run"));
      s.where += c.op == "!=" ? " AND 1" : " AND 0";
      continue;
    }
    const std::string kid = param(key->id);
    std::string match;  // rows of run_values that satisfy the condition
    if (c.op == "~") {
      match = "instr(lower(coalesce(txt, CAST(num AS TEXT))), " + param(lower(c.value)) + ") > 0";
    } else if (const std::optional<double> num = as_number(c.value)) {
      match = std::string("num ") + (c.op == "!=" ? "=" : sql_op(c.op)) + " " + param(*num);
    } else if (c.op == "=" || c.op == "!=") {
      match = c.value == "null" ? "num IS NULL AND txt IS NULL" : "txt = " + param(c.value);
    } else {
      match = std::string("num IS NULL AND txt ") + sql_op(c.op) + " " + param(c.value);
    }
    s.where += std::string(" AND r.test_name ") + (c.op == "!=" ? "NOT IN" : "IN") +
               " (SELECT test_name FROM run_values WHERE key_id = " + kid + " AND " + match + ")";
  }
  return s;
}

RunTable::Varying RunTable::varying(const Sql& where, bool plain, const std::string& cache_key) {
  const long long version = reader_.data_version();
  if (version != cache_version_) {
    varying_cache_.clear();
    cache_version_ = version;
  }
  if (const auto it = varying_cache_.find(cache_key); it != varying_cache_.end()) return it->second;
  Varying v;
  {
    SqlRows count(reader_, "SELECT count(*) FROM runs r WHERE " + where.where, where.params);
    v.total = count.next() ? static_cast<size_t>(count.int64(0)) : 0;
  }
  bool any_deleted = false;
  if (plain) {
    SqlRows d(reader_, "SELECT EXISTS (SELECT 1 FROM runs WHERE deleted = 1)");
    any_deleted = d.next() && d.int64(0) != 0;
  }
  if (plain && !any_deleted) {
    // Every run matches: per key, how many runs have it and the first and last value in index
    // order (equal only when all are equal). Two index seeks and one range count per key.
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
  } else {
    // Filtered: one pass over the matching runs' values, folded per key.
    std::map<long long, Bound> first;
    SqlRows rows(
        reader_,
        "SELECT v.key_id, v.num, v.txt FROM runs r JOIN run_values v ON v.test_name = r.test_name WHERE " + where.where,
        where.params);
    while (rows.next()) {
      const long long id = rows.int64(0);
      const auto k = keys_by_id_.find(id);
      if (k == keys_by_id_.end()) continue;  // a key added after refresh_keys(): next query sees it
      const Bound b{rows.null(1), rows.null(2), rows.real(1), rows.text(2)};
      auto [it, added] = v.columns.try_emplace(id, ColumnInfo{k->second.display, kind_name(k->second.kind), 0, false});
      ++it->second.runs;
      if (added)
        first.emplace(id, b);
      else if (!it->second.varies && !(first[id] == b))
        it->second.varies = true;
    }
    for (auto& [id, c] : v.columns) {
      if (c.runs < v.total) c.varies = true;
      if (!c.varies) {
        const Bound& b = first[id];
        v.constant[id] = value_of_row(b.num_null, b.num, b.txt_null, b.txt);
      }
    }
  }
  if (varying_cache_.size() >= kVaryingCacheEntries) varying_cache_.erase(varying_cache_.begin());
  varying_cache_.emplace(cache_key, v);
  return v;
}

RunPage RunTable::query(const RunQuery& q) {
  RunPage page;
  refresh_keys();
  const std::vector<FilterCondition> conditions = parse_filter(q.filter);
  const Sql where = where_clause(conditions, q.include_deleted, page.warnings);
  const Varying var =
      varying(where, conditions.empty() && !q.include_deleted, (q.include_deleted ? "D|" : "|") + q.filter);
  page.total = var.total;

  // Which value columns the page shows.
  std::map<long long, ColumnInfo> shown;
  for (const auto& [id, c] : var.columns)
    if (c.varies || q.all_columns) shown.emplace(id, c);
  for (const std::string& name : q.columns) {
    if (name.empty()) continue;
    const std::optional<Key> k = find_key(name);
    if (!k) {
      page.warnings.push_back("no run has a value '" + name + "': column left out");
      continue;
    }
    const auto it = var.columns.find(k->id);
    shown.emplace(k->id, it != var.columns.end() ? it->second : ColumnInfo{k->display, kind_name(k->kind), 0, false});
  }
  // Params first, then sweep fields, best and last metrics; each by key.
  std::vector<std::pair<long long, ColumnInfo>> ordered(shown.begin(), shown.end());
  auto rank = [](const std::string& kind) {
    return kind == "param" ? 0 : kind == "sweep" ? 1 : kind == "best" ? 2 : 3;
  };
  std::stable_sort(ordered.begin(), ordered.end(), [&](const auto& a, const auto& b) {
    return std::make_pair(rank(a.second.kind), a.second.key) < std::make_pair(rank(b.second.kind), b.second.key);
  });
  for (const auto& [id, c] : ordered) page.columns.push_back(c);
  for (const auto& [id, value] : var.constant)
    if (!shown.count(id)) page.constant[keys_by_id_.at(id).display] = value;

  if (!q.group_by.empty()) {
    fill_groups(q, where, page, page.warnings);
    return page;
  }

  // The sort: a run field, a value key (runs without it last, whatever the direction), or newest first.
  std::string sort_key = q.sort.empty() ? "-started" : q.sort;
  const bool descending = sort_key[0] == '-';
  if (descending || sort_key[0] == '+') sort_key = sort_key.substr(1);
  const std::string dir = descending ? " DESC" : " ASC";
  const size_t limit = std::min(q.limit, kMaxPageSize);
  static const std::string kColumns =
      "SELECT r.test_name, r.name, r.status, r.started_at, r.ended_at, r.duration, r.host, r.tags, r.deleted ";
  std::map<std::string, size_t> position;
  // Appends the rows of a page query whose last two parameters are LIMIT and OFFSET.
  auto read_page = [&](const std::string& from_where_order, std::vector<SqlValue> params, size_t lim, size_t off) {
    params.push_back(static_cast<long long>(lim));
    params.push_back(static_cast<long long>(off));
    const std::string n = std::to_string(params.size());
    SqlRows rows(reader_,
                 kColumns + from_where_order + " LIMIT ?" + std::to_string(params.size() - 1) + " OFFSET ?" + n,
                 params);
    size_t read = 0;
    while (rows.next()) {
      json r = json::object();
      r["test_name"] = rows.text(0);
      r["name"] = rows.text(1);
      r["status"] = rows.text(2);
      r["started_at"] = rows.real(3);
      r["ended_at"] = rows.real(4);
      r["duration"] = rows.null(5) ? json(nullptr) : json(rows.real(5));
      r["host"] = rows.text(6);
      const std::optional<json> tags = try_parse_json(rows.text(7));
      r["tags"] = tags && tags->is_array() ? *tags : json::array();
      r["deleted"] = rows.int64(8) != 0;
      r["values"] = json::object();
      position[rows.text(0)] = page.runs.size();
      page.runs.push_back(std::move(r));
      ++read;
    }
    return read;
  };
  const RunField* field = run_field(sort_key);
  const std::optional<Key> key = field ? std::nullopt : find_key(sort_key);
  if (!field && !key) page.warnings.push_back("cannot sort by '" + sort_key + "': no run has it; newest first instead");
  if (key) {
    // Runs with the key, walked in the value index's order (no sort of every run: a page costs
    // about offset + limit rows), then the runs without it.
    std::vector<SqlValue> params = where.params;
    params.push_back(key->id);
    const std::string kid = "?" + std::to_string(params.size());
    const std::string with_key =
        "FROM run_values s CROSS JOIN runs r ON r.test_name = s.test_name WHERE s.key_id = " + kid + " AND " +
        where.where;
    const size_t got = read_page(with_key + " ORDER BY s.num" + dir + ", s.txt" + dir + ", s.test_name" + dir, params,
                                 limit, q.offset);
    if (got < limit) {
      size_t skip = 0;  // runs without the key to skip: the offset beyond the runs with it
      if (got == 0 && q.offset > 0) {
        SqlRows count(reader_, "SELECT count(*) " + with_key, params);
        const size_t with = count.next() ? static_cast<size_t>(count.int64(0)) : 0;
        skip = q.offset > with ? q.offset - with : 0;
      }
      read_page("FROM runs r WHERE " + where.where +
                    " AND NOT EXISTS (SELECT 1 FROM run_values s WHERE s.test_name = r.test_name AND s.key_id = " +
                    kid + ") ORDER BY r.test_name" + dir,
                params, limit - got, skip);
    }
  } else {
    const std::string order = field ? std::string(field->sql) + dir + ", r.test_name" + dir
                                    : std::string("r.started_at DESC, r.test_name DESC");
    read_page("FROM runs r WHERE " + where.where + " ORDER BY " + order, where.params, limit, q.offset);
  }
  if (!page.runs.empty() && !shown.empty()) {
    // The shown values of the page's runs: one indexed lookup per run.
    std::string sql = "SELECT test_name, key_id, num, txt FROM run_values WHERE test_name IN (";
    std::vector<SqlValue> names;
    for (const auto& [name, at] : position) {
      names.push_back(name);
      sql += (names.size() > 1 ? ",?" : "?") + std::to_string(names.size());
    }
    SqlRows v(reader_, sql + ")", names);
    while (v.next()) {
      const auto col = shown.find(v.int64(1));
      if (col == shown.end()) continue;
      page.runs[position.at(v.text(0))]["values"][col->second.key] =
          value_of_row(v.null(2), v.real(2), v.null(3), v.text(3));
    }
  }
  return page;
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

json RunTable::run_values(const std::string& test_name) {
  refresh_keys();
  json out = json::object();
  SqlRows v(reader_, "SELECT key_id, num, txt FROM run_values WHERE test_name = ?1", {test_name});
  while (v.next()) {
    const auto k = keys_by_id_.find(v.int64(0));
    if (k != keys_by_id_.end()) out[k->second.display] = value_of_row(v.null(1), v.real(1), v.null(2), v.text(2));
  }
  return out;
}

}  // namespace codedag::store
