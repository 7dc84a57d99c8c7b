#pragma once
// Backups of runs: one self-contained ustar archive per run (<name>.<test_name>.codedag.tar)
// holding its info files, its blobs and, when it has a code snapshot, a git bundle of it, plus a
// manifest (codedag-backup.json, schema codedag.backup/1). Restoring never overwrites: a run
// already in the store is an error.
#include <string>
#include <vector>

#include "codedag/store/store.hpp"

namespace codedag::store {

struct TarEntry {
  std::string path;  // relative, '/'-separated
  std::string data;
};

// ustar writer/reader (regular files only). The reader rejects absolute paths and '..' and
// reports a truncated or damaged archive with the offset.
std::string write_tar(const std::vector<TarEntry>& entries);
std::vector<TarEntry> read_tar(const std::string& bytes, const std::string& origin);

// Writes the archive into `dir` and returns its path.
std::string backup_run(Store& store, const std::string& id, const std::string& dir);

// Restores an archive into the store; returns the run's test_name. When the archive carries a
// snapshot bundle and the recorded repository exists, the snapshot ref is fetched back into it.
std::string restore_run(Store& store, const std::string& archive_path, std::vector<std::string>& notes);

}  // namespace codedag::store
