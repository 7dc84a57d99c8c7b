#pragma once
// The SQLite index of a store (see index_location.hpp for where it lives): one row per run with the
// columns listing filters on plus a compact JSON summary. It is a cache of the info/ files: every
// row can be recreated from them (Store::rebuild), a run whose index row is missing or stale is
// re-read at the next listing, and training processes never open it (they only write files). The
// schema evolves by numbered migrations (PRAGMA user_version), applied in order inside a
// transaction on open.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/error.hpp"
#include "codedag/common/json_file.hpp"
#include "codedag/store/index_location.hpp"
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

// What a sync compares with a run's files: the row's identity, status and run.json mtime.
struct RowStamp {
  std::string test_name;
  std::string name;
  std::string status;
  long long file_mtime = 0;
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
inline constexpr int kIndexSchemaVersion = 8;
// PRAGMA application_id of a CodeDAG index ("CDAG"): a SQLite file without it that holds other
// tables is someone else's database, never ours to migrate or overwrite.
inline constexpr int kIndexApplicationId = 0x43444147;
// How long a command waits for another process holding the index's write lock before it says so.
inline constexpr int kIndexBusyMilliseconds = 5000;

// The index file is not a CodeDAG index any more (corrupt, not a database, another program's):
// the store moves it aside and rebuilds it from the run files.
class IndexDamaged : public Error {
 public:
  using Error::Error;
};

// The index file cannot be opened or written (read-only, full disk, I/O error): the store uses an
// index elsewhere (user cache, memory) and the run files stay the truth.
class IndexUnavailable : public Error {
 public:
  using Error::Error;
};

class RunIndex {
 public:
  explicit RunIndex(IndexPlacement placement);
  ~RunIndex();
  RunIndex(const RunIndex&) = delete;
  RunIndex& operator=(const RunIndex&) = delete;

  // `file_mtime_ns`: the run.json modification time the row was made from (0: unknown), so a
  // listing notices files changed behind the index's back.
  void upsert(const json& run, long long file_mtime_ns = 0);
  // test_name -> (name, file_mtime_ns) of every row, deleted ones included.
  std::map<std::string, std::pair<std::string, long long>> stamps() const;
  void remove(const std::string& test_name);
  // Stamps of one run, of every run of experiment `name`, and of the runs whose status can still
  // change without their process writing again (running, queued, pending): what an incremental
  // sync looks at instead of stamps() of every row.
  std::optional<RowStamp> stamp_of(const std::string& test_name) const;
  std::vector<RowStamp> stamps_of_name(const std::string& name) const;
  std::vector<RowStamp> unsettled_stamps() const;
  // Where the last sync left off (journal position, directory mtimes ...; see store_sync.cpp), as
  // the JSON text the store wrote; nullopt when none was recorded.
  std::optional<std::string> sync_state() const;
  void set_sync_state(const std::string& state);
  std::vector<IndexRow> list(const IndexQuery& query) const;
  std::optional<IndexRow> find(const std::string& test_name) const;
  // Rows whose test_name starts with `prefix` (for short ids on the command line).
  std::vector<std::string> match_prefix(const std::string& prefix) const;

  // Replaces every row with what `runs` say (one transaction).
  void replace_all(const std::vector<json>& runs);
  // True when the file was created by this open (it must be filled from the run files).
  bool fresh() const { return fresh_; }

  // Groups upserts and removes in one write transaction (much faster for many rows); rolled back
  // unless commit() is called. Other threads of the process wait; other processes get
  // kIndexBusyMilliseconds and then a clear error.
  class Transaction {
   public:
    explicit Transaction(RunIndex& index);
    ~Transaction();
    void commit();

   private:
    RunIndex& index_;
    std::unique_lock<std::recursive_mutex> lock_;
    int file_lock_ = -1;
    bool done_ = false;
  };

  int schema_version() const;
  // The schema this open migrated the index from (then 0 for a later call), 0 when it was current or new:
  // the store says so once, since a large index takes seconds to upgrade.
  int take_migrated_from();
  const std::string& path() const { return placement_.path; }
  const IndexPlacement& placement() const { return placement_; }
  // The process that opened the connection (a forked child must open its own).
  long owner_pid() const { return owner_pid_; }

 private:
  friend class Transaction;
  void exec(const char* sql) const;
  void identify();
  void migrate();
  void backfill_listing_columns();
  void backfill_sweep_column();
  void backfill_run_values();
  int lock_file() const;  // the rollback-journal mode's exclusive lock; -1 in WAL mode
  sqlite3* db_ = nullptr;
  IndexPlacement placement_;
  bool fresh_ = false;
  int migrated_from_ = 0;
  long owner_pid_ = 0;
  mutable std::recursive_mutex mutex_;
  // value_keys (kind, key) -> id: rows there are never deleted or renumbered.
  std::map<std::pair<char, std::string>, long long> key_ids_;
};

// The process's connection to the index a placement names: one per file, shared by every Store
// (and so every Watcher) of the process, closed when the last of them goes. Never cached for an
// in-memory index.
std::shared_ptr<RunIndex> open_shared_index(const IndexPlacement& placement);
// Drops the shared connection to `path` (after the file was found damaged and moved aside).
void forget_shared_index(const std::string& path);

// What the index keeps of a run.json: identity, status, times, info (params), best and last
// metrics, tags, git commit, argv. Environment, inventory and versions stay in the file.
json summarize_run(const json& run);

}  // namespace codedag::store
