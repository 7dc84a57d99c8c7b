#pragma once
// Walking info/<name>/<test_name> for the sync of the index with the files: the whole tree (a full
// sync, a rebuild, a look-up of a run not indexed) or one experiment's directory and single runs
// (the incremental sync, store_sync.cpp). Nothing follows a symlink; names that are not valid
// experiment names or test_names are not runs (claims, staging directories, stray files).
#include <sys/stat.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "codedag/store/layout.hpp"

namespace codedag::store {

// One run directory found on disk.
struct FoundRun {
  RunId id;
  bool exists = true;       // the directory is there (stat_run)
  bool has_record = false;  // run.json is a regular file
  long long mtime = -1;     // run.json's
  double dir_age = 0;       // seconds since the directory last changed (only without a record)
};

// A directory's mtime when a sync read it, and when that was (seconds since the epoch).
struct DirStamp {
  long long mtime = 0;
  double observed_at = 0;
};

long long mtime_ns(const struct stat& st);

// Every run directory; `dirs`, when given, gets info/ (key "") and each experiment directory with
// its mtime taken before it was read, so a later sync knows which ones changed since.
void for_each_run_dir(const Layout& layout, const std::function<void(const FoundRun&)>& visit,
                      std::map<std::string, DirStamp>* dirs = nullptr);

// Experiment directories in the open info/ directory `root` (valid names, real directories).
std::vector<std::string> experiment_dirs(int root);
// Run directories (valid test_names, real directories) in an open experiment directory.
std::vector<std::string> run_dirs(int name_dir);
// The run `id` as for_each_run_dir would find it; `exists` false when its directory is missing
// (or not a real directory).
FoundRun stat_run(int root, const RunId& id);

}  // namespace codedag::store
