#pragma once
// A store: the files under one CODEDAG_HOME plus their SQLite index. The files are the truth; the
// index is a cache that heals itself (a damaged, foreign or unwritable index is moved aside or
// replaced and rebuilt from the files, with a notice saying so). Every change to a run goes through
// here so the file is written first and the index follows.
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/store/layout.hpp"
#include "codedag/store/run_index.hpp"

namespace codedag::store {

struct RunRef {
  std::string name;
  std::string test_name;
  std::string info_dir;

  RunId id() const { return RunId{name, test_name}; }
};

// Filters applied after the index query: on info (params) and best/last metrics.
struct RunFilter {
  IndexQuery index;
  // "key=value" (string compare on info values; dotted keys reach into dicts), "key>1.5", "key<=3" ...
  std::vector<std::string> params;
  std::vector<std::string> metrics;
  std::vector<std::string> tags;  // every tag must be present
};

// How the last sync brought the index in line with the files (for `codedag index status`, the
// bench and tests): "journal" (read the change journal and the changed directories) or "full"
// (stat'ed every run), and why a full one was needed.
struct SyncReport {
  std::string path;          // "journal", "full" or "" (no sync yet)
  std::string reason;        // why full: "no sync recorded", "interval", "journal replaced" ...
  size_t journal_lines = 0;  // valid lines read
  size_t checked = 0;        // runs stat'ed
  size_t changed = 0;        // rows re-read from their run.json
  size_t removed = 0;        // rows dropped
};

struct SyncState;

// Seconds between full syncs, which pick up changes no journal line names (hand edits, files
// copied by rsync or from another host): $CODEDAG_FULL_SYNC_SECONDS, default 60 (0: every listing).
double full_sync_interval();

// Whether the process recording a run still holds it.
enum class Lease {
  not_running,      // the run is not "running" (ended, dead, queued ...)
  alive,            // lease valid, or the process is seen alive on this host
  expired_gone,     // lease expired and the process is gone: the run is dead
  expired_unknown,  // lease expired, the process is on another host and cannot be checked (yet)
};

class Store {
 public:
  explicit Store(std::string home = "");
  Store(Store&&) = default;

  const Layout& layout() const { return layout_; }
  // The index, opened (and healed if needed) on first use; shared with every Store of the process.
  RunIndex& index();

  // Notices about the index (moved aside, rebuilt, kept elsewhere) go to `handler` as they happen;
  // without a handler they are kept for take_notices().
  void set_notice_handler(std::function<void(const std::string&)> handler) { notice_handler_ = std::move(handler); }
  std::vector<std::string> take_notices();

  // A run by its test_name, "<name>/<test_name>" (both must match), or an unambiguous prefix of a
  // test_name. Empty ids, wildcards and anything that is not an id are InputErrors; NotFoundError
  // and InputError say which ids exist or match. `use_index` false: look on disk only (a training
  // process never opens the index).
  RunRef resolve(const std::string& id, bool use_index = true);

  // Reads and changes run.json under its lock, then refreshes the index row (best effort).
  json update(const RunRef& run, const std::function<void(json&)>& change);
  void reindex(const json& run);

  // Rows of the index matching `filter`, after marking runs dead whose lease expired and whose
  // process is gone (their last metrics are read from metrics.jsonl). Each element is the run's
  // summary (see summarize_run) with "info_dir" added.
  std::vector<json> list(const RunFilter& filter, std::vector<std::string>* warnings = nullptr, bool sync_files = true);
  // The same runs as index rows, without parsing their summaries unless a param filter needs them:
  // listing 10k runs must not parse 10k JSON texts. See listing_fields() and run_json_text().
  // Each summary is checked to be one sound object (damaged rows are skipped and named) unless
  // `check_summaries` is false: the caller parses every summary itself and skips the damaged ones.
  std::vector<IndexRow> list_rows(const RunFilter& filter, std::vector<std::string>* warnings = nullptr,
                                  bool sync_files = true, bool check_summaries = true);

  // Brings the index in line with the files: runs whose run.json changed (or appeared) since
  // indexing are re-read, rows whose directory is gone are dropped, a run directory left without
  // run.json past the grace period (its process died while starting) gets a "dead" record.
  // Unreadable run.json files are named in `warnings` and their test_names returned (listing skips them).
  // Incremental when it can be (the change journal's new lines, changed directories, recently
  // changed and unfinished runs), full otherwise and every full_sync_interval(): see store_sync.cpp.
  std::set<std::string> sync(std::vector<std::string>* warnings);
  const SyncReport& last_sync() const { return last_sync_; }

  // Scans info/ and rewrites the index from the files. Unreadable run.json files are skipped and
  // named in `warnings`. Returns how many runs were indexed.
  size_t rebuild(std::vector<std::string>& warnings);

  // Whether the run's process still holds it (heartbeat lease, then the process on this host).
  Lease lease_of(const RunRef& run, const json& record) const;
  // Checks one running run and marks it dead when its lease expired and its process is gone.
  // Returns the (possibly updated) run.
  json check_liveness(const RunRef& run, json record, std::vector<std::string>* warnings);

  // Marks a run deleted (or not). A run whose lease is alive is never marked (StateError); one whose
  // lease expired but whose process cannot be checked (another host) only with `force`.
  json mark_deleted(const RunRef& run, bool deleted, bool force);

  // Erases every run marked deleted (info, blob, cache, its own git ref), each under its run lock
  // after re-reading run.json and re-checking its lease; runs found alive or unreadable are kept and
  // named in `warnings`. Returns the erased ids.
  std::vector<std::string> collect_garbage(std::vector<std::string>& warnings);

  // Removes what killed processes leave behind: temporary files of atomic writes and restore staging
  // directories older than `min_age_seconds`. Returns the removed paths.
  std::vector<std::string> sweep_leftovers(double min_age_seconds = 3600);

 private:
  template <class F>
  auto with_index(F&& f) -> decltype(f(std::declval<RunIndex&>()));
  void open_index();
  void heal(const IndexDamaged& damage);
  void fall_back(const IndexUnavailable& failure);
  void notice(const std::string& message);
  std::set<std::string> full_sync(std::vector<std::string>* warnings, const std::string& why, double now,
                                  const SyncState* previous);
  std::set<std::string> journal_sync(std::vector<std::string>* warnings, const SyncState& previous, double now);
  std::optional<std::pair<long long, json>> settle_missing_record(const RunId& id, double dir_age,
                                                                  std::vector<std::string>* warnings);
  std::optional<RunRef> find_on_disk(const std::string& name, const std::string& id_or_prefix,
                                     std::vector<std::string>* prefix_matches);

  Layout layout_;
  std::shared_ptr<RunIndex> index_;
  std::function<void(const std::string&)> notice_handler_;
  std::vector<std::string> notices_;
  SyncReport last_sync_;
};

// Runs `f(index)`; a damaged index is healed and an unusable one replaced, then `f` is tried again.
template <class F>
auto Store::with_index(F&& f) -> decltype(f(std::declval<RunIndex&>())) {
  for (int attempt = 0;; ++attempt) {
    try {
      return f(index());
    } catch (const IndexDamaged& e) {
      if (attempt > 1) throw;
      heal(e);
    } catch (const IndexUnavailable& e) {
      if (attempt > 1) throw;
      fall_back(e);
    }
  }
}

// What the listing table, sorting and metric/tag filters read of a row (test_name, name, status,
// started_at, ended_at, deleted, host, duration, tags, metrics, last with {"value": v} entries),
// from the index columns; the summary is parsed only for rows those columns cannot hold.
// Returns a discarded json if that summary is damaged.
json listing_fields(const IndexRow& row);
// The row's summary with "info_dir" added, as compact JSON text (spliced, not re-serialised).
std::string run_json_text(const IndexRow& row, const std::string& info_dir);

// One "key<op>value" condition of RunFilter: op is =, !=, >, >=, < or <=; an ordering's value must
// be a number. InputError names the condition and how to write it.
struct ParsedCondition {
  std::string key, op, value;
  std::optional<double> number;  // set for >, >=, <, <=
};
ParsedCondition parse_condition(const std::string& condition);

// Evaluates one "key<op>value" condition against a JSON object (info or metrics). Exposed for tests.
bool matches_condition(const json& object, const std::string& condition, bool metric);

}  // namespace codedag::store
