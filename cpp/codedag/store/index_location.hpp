#pragma once
// Where a store's SQLite index lives. The index is a cache of the run files, so it goes where it
// works best:
//   - on a local, writable file system: <home>/index.sqlite in WAL mode (the default);
//   - the store on a network file system (NFS, SMB, Lustre, GPFS, CephFS, ...: WAL's shared memory
//     does not work across hosts): a host-local per-user cache,
//     $XDG_CACHE_HOME/codedag/index-<hash of the home>.sqlite (WAL), brought up to date from the files;
//     when no local cache directory can be used, <home>/index.sqlite with a rollback journal and an
//     exclusive lock file (index.lock) around every write;
//   - a read-only store (read-only mount, no write permission): the same per-user cache, so
//     ls, show and diff still work.
#include <string>

#include "codedag/store/layout.hpp"

namespace codedag::store {

struct IndexPlacement {
  std::string path;       // the SQLite file
  bool wal = true;        // WAL, or a rollback journal (DELETE) serialised by lock_path
  std::string lock_path;  // set when !wal
  std::string why;        // empty: the store's own index; else why it lives elsewhere (for `index status`)
};

// True for the file systems (statfs f_type) where SQLite's WAL cannot be shared between hosts.
bool is_network_filesystem(long f_type);
// A short name for an f_type ("nfs", "lustre", ...), "local" otherwise.
std::string filesystem_name(long f_type);

// $XDG_CACHE_HOME/codedag (absolute XDG_CACHE_HOME only), else $HOME/.cache/codedag.
std::string user_cache_dir();

// What is known about the file systems involved; place_index() reads it from the machine.
struct PlacementFacts {
  long home_fs_type = 0;
  bool home_writable = true;  // the home (or its index file) can be written by this process
  std::string cache_dir;      // user_cache_dir()
  long cache_fs_type = 0;
  bool cache_usable = true;  // cache_dir exists or can be made, and is writable
};

// The decision, from facts (unit-tested with each file system's real magic number).
IndexPlacement choose_index_placement(const Layout& layout, const PlacementFacts& facts);

// The decision for this machine: statfs on the home and the cache directory, write access.
IndexPlacement place_index(const Layout& layout);

// The per-user cache file for a store (used also when the store's own index cannot be opened).
std::string cached_index_path(const Layout& layout, const std::string& cache_dir);

}  // namespace codedag::store
