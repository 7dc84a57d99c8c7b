#pragma once
// Where a sweep keeps its files: <CODEDAG_HOME>/sweeps/<id>/ with
//   sweep.json          the manifest (written once, before anything runs)
//   attempts.jsonl      one line per attempt: {"cell", "attempt", "run", "name", "at"} (append-only)
//   logs/               <cell>-<run>.log per attempt: stdout and stderr, progress redraws collapsed
//   sweep_summary.json  the closing summary of the last run/resume/status
//   slurm/              job scripts, chunk files and submitted job ids (slurm backend)
//   lock                flock'ed by the process running the sweep: one run/resume at a time
// The runs themselves live in the store like any other run; the journal says which are whose.
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/runner/manifest.hpp"

namespace codedag::runner {

inline constexpr const char* kManifestFile = "sweep.json";
inline constexpr const char* kAttemptsFile = "attempts.jsonl";
inline constexpr const char* kSummaryFile = "sweep_summary.json";

class SweepDir {
 public:
  SweepDir(std::string home, std::string id);
  const std::string& id() const { return id_; }
  const std::string& path() const { return path_; }
  std::string manifest_path() const { return path_ + "/" + kManifestFile; }
  std::string attempts_path() const { return path_ + "/" + kAttemptsFile; }
  std::string summary_path() const { return path_ + "/" + kSummaryFile; }
  std::string logs_dir() const { return path_ + "/logs"; }
  std::string slurm_dir() const { return path_ + "/slurm"; }
  std::string log_path(int cell, const std::string& run) const;

  Manifest load_manifest() const;

 private:
  std::string id_;
  std::string path_;
};

std::string sweeps_root(const std::string& home);

// A new sweep directory "sw<yymmdd>.<nnn>.<rand>", created exclusively (unique under concurrent
// sweeps sharing the home). Returns the id.
std::string create_sweep_dir(const std::string& home, double now);

// A sweep by id or unambiguous prefix. NotFoundError lists what exists; InputError for ambiguity.
SweepDir resolve_sweep(const std::string& home, const std::string& id);

// Every sweep id under home, oldest first.
std::vector<std::string> list_sweep_ids(const std::string& home);

struct AttemptEntry {
  int cell = 0;
  int attempt = 0;
  std::string run;   // test_name
  std::string name;  // experiment name
  double at = 0;
};

// Appends one line with a single write(2) on an O_APPEND descriptor, so lines from the sweep and
// from cell runners on other nodes never interleave.
void append_attempt(const SweepDir& dir, const AttemptEntry& entry);
// The journal's lines; a torn or foreign line (a crash mid-write) is skipped and named in `warnings`.
std::vector<AttemptEntry> read_attempts(const SweepDir& dir, size_t cell_count, std::vector<std::string>* warnings);

// Holds an exclusive flock on the sweep's lock file for its lifetime. StateError (naming the
// holder's pid) when another process runs the sweep now.
class SweepLock {
 public:
  explicit SweepLock(const SweepDir& dir);
  ~SweepLock();
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace codedag::runner
