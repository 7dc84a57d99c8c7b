#pragma once
// The SQLite index of a store (index.sqlite, WAL): one row per run with the columns listing
// filters on plus a compact JSON summary, and the per-(name, day) counters that make test_names.
// It is a cache of the info/ files: every row can be recreated from them (rebuild()), and a run
// whose index write failed is still on disk. The schema evolves by numbered migrations
// (PRAGMA user_version), applied in order inside a transaction on open.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/store/layout.hpp"

struct sqlite3;

namespace codedag::store {

struct IndexRow {
  std::string test_name;
  std::string name;
  std::string status;
  double started_at = 0;
  double ended_at = 0;
  bool deleted = false;
  std::string host;
  std::string summary;  // compact JSON (see summarize_run)
  // Listing columns (schema 3, see listing_columns.hpp): the default table needs no summary parse.
  bool has_duration = false;
  double duration = 0;
  std::string tags = "[]";
  bool has_metric_values = false;
  std::string metric_values;
};

struct IndexQuery {
  std::string name;    // exact experiment name; empty: all
  std::string status;  // exact status; empty: all
  double since = 0;    // started_at >= since (0: no bound)
  double until = 0;    // started_at < until (0: no bound)
  std::string sweep;   // runs of the sweep with this id (or id prefix); empty: all
  bool include_deleted = false;
  bool only_deleted = false;
};

// The newest schema this build knows; older indexes are migrated up on open.
inline constexpr int kIndexSchemaVersion = 4;

class RunIndex {
 public:
  explicit RunIndex(const Layout& layout);
  ~RunIndex();
  RunIndex(const RunIndex&) = delete;
  RunIndex& operator=(const RunIndex&) = delete;

  // Allocates a fresh test_name for `name` on the local day of `now` inside one IMMEDIATE
  // transaction: the day's counter is read and advanced, the random part is re-drawn if the id is
  // known, and `claim(test_name)` (exclusive creation of the run directory) must succeed before the
  // row is committed. A claim that fails (directory already there: an index lost or shared over
  // machines) moves on to the next number. The committed row has status "running".
  std::string allocate(const std::string& name, double now, const std::function<bool(const std::string&)>& claim);

  // `file_mtime_ns`: the run.json modification time the row was made from (0: unknown), so a
  // listing notices files changed behind the index's back.
  void upsert(const json& run, long long file_mtime_ns = 0);
  // test_name -> (name, file_mtime_ns) of every row, deleted ones included.
  std::map<std::string, std::pair<std::string, long long>> stamps() const;
  // Groups upserts/removes in one transaction (much faster for many rows).
  void begin();
  void commit();
  void rollback() noexcept;
  void remove(const std::string& test_name);
  std::vector<IndexRow> list(const IndexQuery& query) const;
  std::optional<IndexRow> find(const std::string& test_name) const;
  // Rows whose test_name starts with `prefix` (for short ids on the command line).
  std::vector<std::string> match_prefix(const std::string& prefix) const;

  // Replaces every row and counter with what `runs` say (one transaction).
  void replace_all(const std::vector<json>& runs);

  int schema_version() const;
  const std::string& path() const { return path_; }

 private:
  void exec(const char* sql) const;
  void migrate();
  void backfill_listing_columns();
  void backfill_sweep_column();
  sqlite3* db_ = nullptr;
  std::string path_;
};

// What the index keeps of a run.json: identity, status, times, info (params), best and last
// metrics, tags, git commit, argv. Environment, inventory and versions stay in the file.
json summarize_run(const json& run);

// "yymmdd" of a unix time, local time zone.
std::string day_stamp(double unix_seconds);

}  // namespace codedag::store
