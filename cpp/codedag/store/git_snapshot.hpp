#pragma once
// The code of a run: the working tree exactly as it is when the run starts (tracked files with
// their uncommitted edits, plus untracked files that are not ignored, each under a size cap),
// committed under a hidden ref refs/codedag/<name>/<test_name> with HEAD as parent.
//
// Git plumbing only, through a temporary index (GIT_INDEX_FILE): copy the index, `add -u`, add the
// untracked files, `write-tree`, `commit-tree -p HEAD`, `update-ref`. The user's working tree,
// index, HEAD, branches and stash are never written. We run the git executable (posix_spawn, no
// shell) rather than link libgit2 because the user's git is the one whose config, attributes,
// filters and ignore rules define "the working tree as it is", and it needs no extra dependency.
#include <cstdint>
#include <string>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

struct SnapshotOptions {
  uint64_t max_file_bytes = 5ull << 20;     // untracked files larger than this are left out (listed)
  uint64_t max_total_bytes = 100ull << 20;  // untracked files past this total are left out (listed)
};

// Snapshots the repository containing `cwd`. Never throws for "no repository" or "no git": returns
// {"present": false, "reason": ...}. On success:
// {"present": true, "commit", "tree", "parent" (HEAD or null), "branch", "dirty", "ref",
//  "toplevel", "cwd_rel", "skipped": [untracked files left out by the caps]}.
json git_snapshot(const std::string& cwd, const std::string& ref, const std::string& message,
                  const SnapshotOptions& options = {});

// Writes the files of `commit` into `dest` (an empty directory) without touching the repository's
// index or working tree. Throws NotFoundError when the commit is unknown.
void checkout_snapshot(const std::string& toplevel, const std::string& commit, const std::string& dest);

// Deletes `ref` (the run's own refs/codedag/<name>/<test_name>, checked by the caller) from the
// repository at `toplevel`, only if it still names `commit`. Returns "" when deleted or already
// absent, else why it was left (no such repository, the ref moved).
std::string delete_snapshot_ref(const std::string& toplevel, const std::string& ref, const std::string& commit);

// Fetches exactly `ref` from a bundle into the repository at `toplevel` if the repository exists and
// the ref does not (never overwritten, never another ref), and keeps it only if it names `commit`.
// Returns "" on success, else why the snapshot was not restored.
std::string fetch_snapshot_ref(const std::string& toplevel, const std::string& bundle, const std::string& ref,
                               const std::string& commit);

// Removes temporary index files (<git dir>/codedag-index.<pid>.<n>) that snapshots of killed
// processes left, when older than `min_age_seconds`. Returns how many were removed.
int sweep_snapshot_leftovers(const std::string& git_dir, double min_age_seconds = 3600);

// Unified diff between two commits of one repository ("" when identical).
std::string snapshot_diff(const std::string& toplevel, const std::string& a, const std::string& b, bool stat_only);

}  // namespace codedag::store
