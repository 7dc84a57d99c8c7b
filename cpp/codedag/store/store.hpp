#pragma once
// A store: the files under one CODEDAG_HOME plus their SQLite index. Every change to a run goes
// through here so the file (the truth) is written first and the index follows.
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
};

// Filters applied after the index query: on info (params) and best/last metrics.
struct RunFilter {
  IndexQuery index;
  // "key=value" (string compare on info values; dotted keys reach into dicts), "key>1.5", "key<=3" ...
  std::vector<std::string> params;
  std::vector<std::string> metrics;
  std::vector<std::string> tags;  // every tag must be present
};

class Store {
 public:
  explicit Store(std::string home = "");

  const Layout& layout() const { return layout_; }
  RunIndex& index();

  // A run by its test_name, "<name>/<test_name>", or an unambiguous prefix of a test_name.
  // NotFoundError/InputError say which ids exist or match.
  RunRef resolve(const std::string& id);

  // Reads and changes run.json under its lock, then refreshes the index row.
  json update(const RunRef& run, const std::function<void(json&)>& change);
  void reindex(const json& run);

  // Rows of the index matching `filter`, after marking runs dead whose lease expired and whose
  // process is gone (their last metrics are read from metrics.jsonl). Each element is the run's
  // summary (see summarize_run) with "info_dir" added.
  std::vector<json> list(const RunFilter& filter, std::vector<std::string>* warnings = nullptr, bool sync_files = true);
  // The same runs as index rows, without parsing their summaries unless a param filter needs them:
  // listing 10k runs must not parse 10k JSON texts. See listing_fields() and run_json_text().
  std::vector<IndexRow> list_rows(const RunFilter& filter, std::vector<std::string>* warnings = nullptr,
                                  bool sync_files = true);

  // Brings the index in line with the files: runs whose run.json changed (or appeared) since
  // indexing are re-read, rows whose directory is gone are dropped. Unreadable run.json files are
  // named in `warnings` and their test_names returned (listing skips them).
  std::set<std::string> sync(std::vector<std::string>* warnings);

  // Scans info/ and rewrites the index from the files. Unreadable run.json files are skipped and
  // named in `warnings`. Returns how many runs were indexed.
  size_t rebuild(std::vector<std::string>& warnings);

  // Checks one running run and marks it dead when its lease expired and its process is gone.
  // Returns the (possibly updated) run.
  json check_liveness(const RunRef& run, json record, std::vector<std::string>* warnings);

  // Erases every run marked deleted (info, blob, cache, git ref). Returns the erased ids.
  std::vector<std::string> collect_garbage();

 private:
  Layout layout_;
  std::unique_ptr<RunIndex> index_;
};

// What the listing table, sorting and metric/tag filters read of a row (test_name, name, status,
// started_at, ended_at, deleted, host, duration, tags, metrics, last with {"value": v} entries),
// from the index columns; the summary is parsed only for rows those columns cannot hold.
// Returns a discarded json if that summary is damaged.
json listing_fields(const IndexRow& row);
// The row's summary with "info_dir" added, as compact JSON text (spliced, not re-serialised).
std::string run_json_text(const IndexRow& row, const std::string& info_dir);

// Evaluates one "key<op>value" condition against a JSON object (info or metrics). Exposed for tests.
bool matches_condition(const json& object, const std::string& condition, bool metric);

}  // namespace codedag::store
