#include "codedag/store/run_query.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "codedag/common/error.hpp"
#include "codedag/store/run_format.hpp"
#include "codedag/store/run_query_detail.hpp"

namespace codedag::store {
namespace {

constexpr size_t kMaxFilterLength = 4096;
constexpr size_t kMaxConditions = 32;
// Each holds the matching runs' ids (100k runs: under 2 MB).
constexpr size_t kMatchingCacheEntries = 4;

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

}  // namespace

using detail::kind_name;

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
  s.row_where = include_deleted ? "1" : "r.deleted = 0";
  // A condition on the run row; its values are written @0, @1 ... and numbered here.
  auto row_condition = [&](const std::string& sql_with_params, const std::vector<SqlValue>& values) {
    std::string numbered = sql_with_params;
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string at = "@" + std::to_string(i);
      s.row_params.push_back(values[i]);
      numbered.replace(numbered.find(at), at.size(), "?" + std::to_string(s.row_params.size()));
    }
    s.row_where += numbered;
  };
  for (const FilterCondition& c : conditions) {
    if (c.key.empty()) {  // a bare word
      row_condition(" AND instr(lower(r.name || ' ' || r.test_name || ' ' || r.status || ' ' || r.tags), @0) > 0",
                    {lower(c.value)});
      continue;
    }
    if (c.key == "tag" || c.key == "tags") {
      if (c.op == "=" || c.op == "!=")
        row_condition(std::string(c.op == "!=" ? " AND NOT" : " AND") +
                          " EXISTS (SELECT 1 FROM json_each(r.tags) WHERE json_each.value = @0)",
                      {c.value});
      else if (c.op == "~")
        row_condition(" AND EXISTS (SELECT 1 FROM json_each(r.tags) WHERE instr(lower(json_each.value), @0) > 0)",
                      {lower(c.value)});
      else
        throw InputError("filter: tags compare with =, != or ~ ('" + c.key + c.op + c.value + "')");
      continue;
    }
    if (const RunField* f = run_field(c.key)) {
      if (c.op == "~") {
        row_condition(std::string(" AND instr(lower(") + f->sql + "), @0) > 0", {lower(c.value)});
        continue;
      }
      if (!f->number) {
        row_condition(std::string(" AND ") + f->sql + " " + sql_op(c.op) + " @0", {c.value});
        continue;
      }
      std::optional<double> v = as_number(c.value);
      if (!v && f->date) v = parse_date(c.value, "filter " + c.key);
      if (!v)
        throw InputError("filter: '" + c.key + c.op + c.value + "': " + c.key + " is a number" +
                         (f->date ? " or a date (2026-03-06, 2026-03-06T12:30)" : " (seconds)"));
      row_condition(std::string(" AND ") + f->sql + " " + sql_op(c.op) + " @0", {*v});
      continue;
    }
    const std::optional<Key> key = find_key(c.key);
    if (!key) {
      warnings.push_back("no run has a value '" + c.key + "': '" + c.key + c.op + c.value + "' matches " +
                         (c.op == "!=" ? "every run" : "no run"));
      row_condition(c.op == "!=" ? " AND 1" : " AND 0", {});
      continue;
    }
    // The rows of run_values that satisfy the condition: one range of (key_id, num, txt).
    ValueSet set;
    auto bind = [&](SqlValue v) {
      set.params.push_back(std::move(v));
      return "?" + std::to_string(set.params.size());
    };
    std::string match;
    if (c.op == "~") {
      match = "instr(lower(coalesce(txt, CAST(num AS TEXT))), " + bind(lower(c.value)) + ") > 0";
    } else if (const std::optional<double> num = as_number(c.value)) {
      match = std::string("num ") + (c.op == "!=" ? "=" : sql_op(c.op)) + " " + bind(*num);
    } else if (c.op == "=" || c.op == "!=") {
      match = c.value == "null" ? "num IS NULL AND txt IS NULL" : "txt = " + bind(c.value);
    } else {
      match = std::string("num IS NULL AND txt ") + sql_op(c.op) + " " + bind(c.value);
    }
    const std::string kid = bind(key->id);
    set.sql = "SELECT run_id FROM run_values WHERE key_id = " + kid + " AND " + match;
    set.negate = c.op == "!=";
    set.key_id = key->id;
    set.pins = c.op == "=";  // every matching run has this one value
    s.sets.push_back(std::move(set));
  }
  return s;
}

void RunTable::invalidate_if_changed() {
  const long long version = reader_.data_version();
  if (version == cache_version_) return;
  varying_cache_.clear();
  matching_cache_.clear();
  any_deleted_.reset();
  cache_version_ = version;
}

bool RunTable::any_deleted() {
  if (!any_deleted_) {
    SqlRows d(reader_, "SELECT EXISTS (SELECT 1 FROM runs WHERE deleted = 1)");
    any_deleted_ = d.next() && d.int64(0) != 0;
  }
  return *any_deleted_;
}

namespace {
// The run ids a query's first column lists, in any order.
RunIdList read_ids(SqlRows& rows) {
  std::vector<long long> ids;
  while (rows.next()) ids.push_back(rows.int64(0));
  return RunIdList(std::move(ids));
}
}  // namespace

const RunTable::Matching& RunTable::matching(const Sql& where, const std::string& cache_key) {
  if (const auto it = matching_cache_.find(cache_key); it != matching_cache_.end()) return it->second;
  // Each value condition is one range of the value index (run ids, no run row read); their runs
  // are intersected here as sorted integer lists.
  std::optional<RunIdList> include;
  RunIdList exclude;
  for (const ValueSet& set : where.sets) {
    if (!set.negate && include && include->empty()) continue;
    SqlRows rows(reader_, set.sql, set.params);
    RunIdList ids = read_ids(rows);
    if (set.negate)
      exclude = exclude.unite(ids);
    else
      include = include ? include->intersect(ids) : std::move(ids);
  }
  Matching m;
  if (include && where.row_params.empty() && where.row_where == "r.deleted = 0") {
    // Only value conditions: the intersection minus the deleted runs is the answer; pages walk the
    // page order's index until they are full (no walk of every run here).
    SqlRows deleted(reader_, "SELECT id FROM runs WHERE deleted = 1");
    m.ids = include->without(exclude.unite(read_ids(deleted)));
    m.ordered = false;
  } else if (!include || !include->empty()) {
    // Conditions on the row (name, status, tags, words): the matching runs in page order, from a
    // walk of the (deleted, started_at, test_name) index that reads rows only for those conditions.
    SqlRows rows(reader_,
                 "SELECT r.id FROM runs r WHERE " + where.row_where + " ORDER BY r.started_at DESC, r.test_name DESC",
                 where.row_params);
    while (rows.next()) {
      const long long id = rows.int64(0);
      if ((include && !include->contains(id)) || exclude.contains(id)) continue;
      m.newest_first.push_back(id);
    }
    m.ids = RunIdList(m.newest_first);
  }
  if (matching_cache_.size() >= kMatchingCacheEntries) matching_cache_.erase(matching_cache_.begin());
  return matching_cache_.emplace(cache_key, std::move(m)).first->second;
}

void RunTable::walk_page(const std::string& sql, const std::vector<SqlValue>& params, const Matching* m, size_t offset,
                         size_t limit, std::vector<long long>& ids, size_t* walked_matches) {
  size_t matches = 0;
  const size_t full = ids.size() + limit;  // `ids` may hold an earlier walk's runs
  SqlRows rows(reader_, sql, params);
  while (rows.next()) {
    const long long id = rows.int64(0);
    if (m && !m->ids.contains(id)) continue;
    if (matches++ < offset) continue;
    if (ids.size() >= full) break;
    ids.push_back(id);
  }
  // Only a walk that ran out before the page was full counted every match.
  if (walked_matches) *walked_matches = matches;
}

RunPage RunTable::query(const RunQuery& q) {
  RunPage page;
  refresh_keys();
  invalidate_if_changed();
  const std::vector<FilterCondition> conditions = parse_filter(q.filter);
  const Sql where = where_clause(conditions, q.include_deleted, page.warnings);
  // No filter and no deleted run: counts and constants come from the value index alone. Else the
  // matching runs are listed once (cached per filter until the index changes).
  const bool plain = conditions.empty() && !q.include_deleted && !any_deleted();
  const std::string cache_key = (q.include_deleted ? "D|" : "|") + q.filter;
  const Matching* m = plain ? nullptr : &matching(where, cache_key);
  const Varying var = plain ? varying_all() : varying_among(where, *m, cache_key);
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
    fill_groups(q, m ? *m : matching(where, cache_key), page, page.warnings);
    return page;
  }

  // The page's runs in order: a run field's order, a value key's (runs without it last, whatever
  // the direction), or newest first. Each is a walk of an index (about offset + limit entries, no
  // sort of every run), the matching runs picked out by membership.
  std::string sort_key = q.sort.empty() ? "-started" : q.sort;
  const bool descending = sort_key[0] == '-';
  if (descending || sort_key[0] == '+') sort_key = sort_key.substr(1);
  const std::string dir = descending ? " DESC" : " ASC";
  const size_t limit = std::min(q.limit, kMaxPageSize);
  const RunField* field = run_field(sort_key);
  const std::optional<Key> key = field ? std::nullopt : find_key(sort_key);
  if (!field && !key) page.warnings.push_back("cannot sort by '" + sort_key + "': no run has it; newest first instead");
  const bool newest_first = !key && (!field || (std::string(field->sql) == "r.started_at" && descending));
  std::vector<long long> ids;
  if (newest_first && m && m->ordered) {
    for (size_t i = q.offset; i < m->newest_first.size() && ids.size() < limit; ++i) ids.push_back(m->newest_first[i]);
  } else if (!key) {
    const std::string order = newest_first ? std::string("r.started_at DESC, r.test_name DESC")
                                           : std::string(field->sql) + dir + ", r.test_name" + dir;
    if (m) {
      walk_page("SELECT r.id FROM runs r WHERE " + where.row_where + " ORDER BY " + order, where.row_params, m,
                q.offset, limit, ids, nullptr);
    } else {
      std::vector<SqlValue> params = where.row_params;
      params.push_back(static_cast<long long>(limit));
      params.push_back(static_cast<long long>(q.offset));
      SqlRows rows(reader_,
                   "SELECT r.id FROM runs r WHERE " + where.row_where + " ORDER BY " + order + " LIMIT ?" +
                       std::to_string(params.size() - 1) + " OFFSET ?" + std::to_string(params.size()),
                   params);
      while (rows.next()) ids.push_back(rows.int64(0));
    }
  } else {
    // Runs with the key in the value index's order (equal values by run id: the order they were
    // indexed, oldest first after a rebuild; ordering them by test_name needed a row read each, 7-14 ms
    // at offset 6000), then the matching runs without it.
    size_t with_key = 0;
    walk_page("SELECT run_id FROM run_values WHERE key_id = ?1 ORDER BY num" + dir + ", txt" + dir + ", run_id" + dir,
              {key->id}, m, q.offset, limit, ids, &with_key);
    if (ids.size() < limit) {
      const size_t skip = q.offset > with_key ? q.offset - with_key : 0;
      walk_page("SELECT r.id FROM runs r WHERE " + where.row_where +
                    " AND NOT EXISTS (SELECT 1 FROM run_values s WHERE s.run_id = r.id AND s.key_id = " +
                    std::to_string(key->id) + ") ORDER BY r.test_name" + dir,
                where.row_params, m, skip, limit - ids.size(), ids, nullptr);
    }
  }
  fill_rows(ids, shown, page);
  return page;
}

void RunTable::fill_rows(const std::vector<long long>& ids, const std::map<long long, ColumnInfo>& shown,
                         RunPage& page) {
  if (ids.empty()) return;
  std::map<long long, size_t> position;
  std::string in;
  std::vector<SqlValue> params;
  for (const long long id : ids) {
    position.emplace(id, position.size());
    params.push_back(id);
    in += (params.size() > 1 ? ",?" : "?") + std::to_string(params.size());
  }
  std::vector<json> rows_in_order(ids.size());
  {
    SqlRows rows(reader_,
                 "SELECT r.id, r.test_name, r.name, r.status, r.started_at, r.ended_at, r.duration, r.host, r.tags, "
                 "r.deleted FROM runs r WHERE r.id IN (" +
                     in + ")",
                 params);
    while (rows.next()) {
      json r = json::object();
      r["test_name"] = rows.text(1);
      r["name"] = rows.text(2);
      r["status"] = rows.text(3);
      r["started_at"] = rows.real(4);
      r["ended_at"] = rows.real(5);
      r["duration"] = rows.null(6) ? json(nullptr) : json(rows.real(6));
      r["host"] = rows.text(7);
      const std::optional<json> tags = try_parse_json(rows.text(8));
      r["tags"] = tags && tags->is_array() ? *tags : json::array();
      r["deleted"] = rows.int64(9) != 0;
      r["values"] = json::object();
      rows_in_order[position.at(rows.int64(0))] = std::move(r);
    }
  }
  if (!shown.empty()) {
    // The shown values of the page's runs: one indexed lookup per run.
    SqlRows v(reader_, "SELECT run_id, key_id, num, txt FROM run_values WHERE run_id IN (" + in + ")", params);
    while (v.next()) {
      const auto col = shown.find(v.int64(1));
      json& row = rows_in_order[position.at(v.int64(0))];
      if (col == shown.end() || row.is_null()) continue;
      row["values"][col->second.key] = value_of_row(v.null(2), v.real(2), v.null(3), v.text(3));
    }
  }
  for (json& r : rows_in_order)
    if (!r.is_null()) page.runs.push_back(std::move(r));  // a row gone meanwhile is left out
}

json RunTable::run_values(const std::string& test_name) {
  refresh_keys();
  json out = json::object();
  SqlRows v(reader_,
            "SELECT v.key_id, v.num, v.txt FROM run_values v JOIN runs r ON r.id = v.run_id WHERE r.test_name = ?1",
            {test_name});
  while (v.next()) {
    const auto k = keys_by_id_.find(v.int64(0));
    if (k != keys_by_id_.end()) out[k->second.display] = value_of_row(v.null(1), v.real(1), v.null(2), v.text(2));
  }
  return out;
}

}  // namespace codedag::store
