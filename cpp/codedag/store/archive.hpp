#pragma once
// Backups of runs: one self-contained ustar archive per run (<name>.<test_name>.codedag.tar)
// holding its info files, its blobs and, when it has a code snapshot, a git bundle of it, and last
// a manifest (codedag-backup.json, schema codedag.backup/1) listing every member with its size and
// SHA-256. Archives are streamed (a blob may be larger than memory).
//
// Restoring trusts nothing in the archive: member paths must be plain relative paths under info/ or
// blob/ (no '..', no links, no duplicates), every byte is checked against the manifest, run.json
// must name the run the manifest names, the snapshot ref fetched is only the run's own
// refs/codedag/<name>/<test_name>, and nothing in the store is overwritten. Members are staged in a
// private directory and moved into place only when all checks passed, so a failed restore leaves
// nothing behind that would block a retry.
#include <cstdint>
#include <string>
#include <vector>

#include "codedag/store/store.hpp"

namespace codedag::store {

// One member of an archive as the manifest lists it.
struct ArchiveMember {
  std::string path;  // '/'-separated, relative
  uint64_t bytes = 0;
  std::string sha256;
};

// The manifest's schema and member name.
inline constexpr const char* kBackupManifest = "codedag-backup.json";
inline constexpr const char* kBackupSchema = "codedag.backup/1";

// Checks a manifest (parsed text of codedag-backup.json from `origin`) and returns the run it names
// and its members: FormatError naming the field and line for anything unusable.
RunId parse_backup_manifest(const std::string& text, const std::string& origin, std::vector<ArchiveMember>& members);

// Writes the archive of run `id` into `dir` and returns its path. A symlink inside the run is
// stored as the file it points to when that is inside the run, else the backup is refused (InputError).
std::string backup_run(Store& store, const std::string& id, const std::string& dir);

// Restores an archive into the store; returns the run's test_name. When the archive carries a
// snapshot bundle and the recorded repository exists here, the run's snapshot ref is fetched back
// into it (never another ref, never over an existing one); `notes` says what happened.
std::string restore_run(Store& store, const std::string& archive_path, std::vector<std::string>& notes);

// Reads the member headers and manifest of an archive from memory without writing anything:
// FormatError for a damaged, truncated or unsafe archive. For fuzzing and `restore --check`.
RunId check_archive(const std::string& bytes, const std::string& origin);

}  // namespace codedag::store
