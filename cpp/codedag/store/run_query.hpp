#pragma once
// The panel's run table over a store's index: filter, sort, page, group and "which columns vary",
// answered from the typed value tables (run_values_schema.hpp; keyed by run id since index schema 7):
// each condition on a value is one range of the value index read as run ids, intersected in memory,
// so a page of 100k runs never loads the runs it does not show.
//
// Filter language (`q`), conditions separated by spaces, all must hold:
//   key=value  key!=value  key>n  key>=n  key<n  key<=n  key~text (contains, any case)
//   a bare word: matches the name, test_name, status or a tag (contains, any case)
//   "quoted values" may hold spaces: model="res net"
// Keys: run fields name, status, host, id (test_name), tag, started, ended (dates or unix seconds),
// duration (seconds); best.<metric> and last.<metric>; sweep.<field> (properties.sweep); anything
// else is a param (the flattened info key, e.g. params.lr); param:<key> forces a param.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/store/run_id_list.hpp"
#include "codedag/store/sqlite_query.hpp"

namespace codedag::store {

struct FilterCondition {
  std::string key;  // empty: a bare word
  std::string op;   // "=", "!=", ">", ">=", "<", "<=", "~"; empty for a bare word
  std::string value;
};

// Splits a filter text into conditions; InputError names the part it cannot read.
std::vector<FilterCondition> parse_filter(const std::string& text);

struct RunQuery {
  std::string filter;
  std::string sort;  // "key" ascending, "-key" descending; empty: "-started" (newest first)
  size_t offset = 0;
  size_t limit = 50;                 // at most kMaxPageSize
  std::vector<std::string> columns;  // value columns shown besides those that vary
  bool all_columns = false;          // every value column, not only those that vary
  bool include_deleted = false;
  std::vector<std::string> group_by;  // value keys: one row per distinct combination, metrics as mean ± std
};

inline constexpr size_t kMaxPageSize = 500;

struct ColumnInfo {
  std::string key;   // as written in filters and sorts: "params.lr", "best.acc", "sweep.cell"
  std::string kind;  // "param", "best", "last", "sweep"
  size_t runs = 0;   // matching runs that have it
  bool varies = false;
  bool counted = true;  // false: `runs` is a lower bound (a filtered pass stops once every column is decided)
};

struct RunPage {
  size_t total = 0;                 // matching runs
  json runs = json::array();        // this page: {test_name, name, status, started_at, ended_at, duration, host, tags,
                                    // deleted, values}
  std::vector<ColumnInfo> columns;  // shown: varying (or all / requested), in key order per kind
  json constant = json::object();   // key -> value, for keys every matching run has with one value
  json groups;                      // with group_by: [{values, runs, metrics: {key: {mean, std, n}}}]
  size_t total_groups = 0;
  std::vector<std::string> warnings;  // unknown keys and the like: the page still answers
};

class RunTable {
 public:
  // `index_path`: a migrated index (open the Store's RunIndex first so migrations ran).
  explicit RunTable(const std::string& index_path);

  RunPage query(const RunQuery& query);
  // Every value key the index knows, as written in filters.
  std::vector<std::string> keys();
  // The typed values of one run: key -> value.
  json run_values(const std::string& test_name);

 private:
  struct Key {
    long long id = -1;
    char kind = 'p';
    std::string display;
  };
  struct Varying {
    size_t total = 0;
    std::map<long long, ColumnInfo> columns;
    std::map<long long, json> constant;
  };
  // A condition on a value: the runs it selects (or, negated, leaves out), one range of the value
  // index, read as run ids.
  struct ValueSet {
    std::string sql;
    std::vector<SqlValue> params;
    long long key_id = -1;
    bool negate = false;
    bool pins = false;  // key=value: every matching run has that one value
  };
  // A filter: `row_where` over runs r with the conditions on the run row (name, status, tags, words,
  // deleted), and `sets` with one value-index range per condition on a value.
  struct Sql {
    std::string row_where;
    std::vector<SqlValue> row_params;
    std::vector<ValueSet> sets;
  };
  // The runs a filter matches, as row ids; also newest first (the default page order) when
  // `ordered`, else pages walk the page order's index and pick the members out.
  struct Matching {
    RunIdList ids;
    std::vector<long long> newest_first;
    bool ordered = true;
  };
  void refresh_keys();
  std::optional<Key> find_key(const std::string& display) const;
  Sql where_clause(const std::vector<FilterCondition>& conditions, bool include_deleted,
                   std::vector<std::string>& warnings) const;
  const Varying& varying_all();
  const Matching& matching(const Sql& where, const std::string& cache_key);
  Varying varying_among(const Sql& where, const Matching& m, const std::string& cache_key);
  bool any_deleted();
  // The page's rows, in the order of `ids`: the only place names and row columns are read.
  void fill_rows(const std::vector<long long>& ids, const std::map<long long, ColumnInfo>& shown, RunPage& page);
  // Appends to `ids` the matching runs of a sorted walk (its first column: run ids) from `offset`, at
  // most `limit` of them.
  void walk_page(const std::string& sql, const std::vector<SqlValue>& params, const Matching* m, size_t offset,
                 size_t limit, std::vector<long long>& ids, size_t* walked_matches);
  void invalidate_if_changed();
  void fill_groups(const RunQuery& q, const Matching& m, RunPage& page, std::vector<std::string>& warnings);

  SqlReader reader_;
  long long keys_version_ = -1;
  std::map<long long, Key> keys_by_id_;
  std::map<std::string, long long> ids_by_display_;
  long long cache_version_ = -1;
  std::map<std::string, Varying> varying_cache_;
  std::map<std::string, Matching> matching_cache_;
  std::optional<bool> any_deleted_;
};

// The JSON value a run_values row stands for.
json value_of_row(bool num_null, double num, bool txt_null, const std::string& txt);

}  // namespace codedag::store
