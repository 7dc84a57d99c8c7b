#pragma once
// run.json, the record of one run (schema codedag.run/1, see docs/experiments.md). The run's own
// process and the CLI (tag, rm, rerun links) both change it, so every change is a
// read-modify-write under an exclusive flock on run.lock, and the new content replaces the file
// atomically: a reader sees the old record or the new one, and no writer loses another's change.
//
// Nothing in a record is trusted: it is parsed with the bounded JSON entry point and every field
// the engine uses is checked (types, statuses, the identity against its directory, the snapshot's
// ref, commit and paths) before anything acts on it.
#include <functional>
#include <string>

#include "codedag/common/json_file.hpp"
#include "codedag/store/run_identity.hpp"

namespace codedag::store {

// Largest run.json read (dump_info values live in it; metric series do not).
inline constexpr size_t kMaxRunFileBytes = 64u << 20;

// Every status a record may hold: the run's own (running, then finished | failed | killed |
// interrupted), the store's (dead), and a launcher's before the process starts (queued, pending).
bool is_known_status(const std::string& status);

// Checks the fields of a record the engine reads; FormatError names the file, field and line.
// `expected`, when given, is the identity the record must carry (its directory, a manifest).
void validate_run_record(const JsonDocument& doc, const RunId* expected = nullptr);

// Reads and checks <info_dir>/run.json: NotFoundError when absent, FormatError (file:line:col and
// field) when it is not a valid record. `expected`: see validate_run_record.
json load_run(const std::string& info_dir, const RunId* expected = nullptr);

// Applies `change` to the current record under the run's lock and writes it back atomically.
// Returns the record as written.
json update_run(const std::string& info_dir, const std::function<void(json&)>& change);

// Writes a brand-new record (the run's directory was just created exclusively by this process).
void create_run(const std::string& info_dir, const json& run);

// The run's lock (flock on <info_dir>/run.lock), held while the object lives.
class RunLock {
 public:
  explicit RunLock(const std::string& info_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace codedag::store
