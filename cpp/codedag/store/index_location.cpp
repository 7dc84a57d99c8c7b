#include "codedag/store/index_location.hpp"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace codedag::store {
namespace {

// statfs(2) f_type values (linux/magic.h and the file systems' own headers).
struct FsMagic {
  long magic;
  const char* name;
};
constexpr FsMagic kNetworkFilesystems[] = {
    {0x6969, "nfs"},      {0xFF534D42, "cifs"}, {0xFE534D42, "smb2"},   {0x517B, "smb"},       {0x0BD00BD0, "lustre"},
    {0x47504653, "gpfs"}, {0x00C36400, "ceph"}, {0x19830326, "beegfs"}, {0x5346414F, "afs"},   {0x6B414653, "kafs"},
    {0x73757245, "coda"}, {0x564C, "ncp"},      {0x01021997, "9p"},     {0x013111A8, "ibrix"}, {0x61636673, "acfs"},
    {0xA501FCF5, "vxfs"}, {0x65735546, "fuse"},
};
constexpr FsMagic kOtherFilesystems[] = {
    {0xEF53, "ext4"},          {0x58465342, "xfs"}, {0x9123683E, "btrfs"}, {0x01021994, "tmpfs"},
    {0x794C7630, "overlayfs"}, {0x2FC12FC1, "zfs"}, {0xF2F52010, "f2fs"},
};

unsigned long long fnv1a(const std::string& s) {
  unsigned long long h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

long fs_type_of(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return 0;
  return static_cast<long>(st.f_type);
}

bool read_only_mount(const std::string& path) {
  struct statvfs st {};
  return ::statvfs(path.c_str(), &st) == 0 && (st.f_flag & ST_RDONLY) != 0;
}

// The nearest existing directory at or above `path`.
std::string existing_ancestor(std::string path) {
  struct stat st {};
  while (!path.empty() && ::stat(path.c_str(), &st) != 0) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return "/";
    path.erase(slash);
  }
  return path.empty() ? "/" : path;
}

bool writable_dir(const std::string& path) {
  const std::string at = existing_ancestor(path);
  return ::access(at.c_str(), W_OK) == 0 && !read_only_mount(at);
}

}  // namespace

bool is_network_filesystem(long f_type) {
  const unsigned long t = static_cast<unsigned long>(f_type) & 0xFFFFFFFFul;
  for (const auto& m : kNetworkFilesystems)
    if (static_cast<unsigned long>(m.magic) == t) return true;
  return false;
}

std::string filesystem_name(long f_type) {
  const unsigned long t = static_cast<unsigned long>(f_type) & 0xFFFFFFFFul;
  for (const auto& m : kNetworkFilesystems)
    if (static_cast<unsigned long>(m.magic) == t) return m.name;
  for (const auto& m : kOtherFilesystems)
    if (static_cast<unsigned long>(m.magic) == t) return m.name;
  return "local";
}

std::string user_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && x[0] == '/') return std::string(x) + "/codedag";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/codedag";
}

std::string cached_index_path(const Layout& layout, const std::string& cache_dir) {
  char resolved[PATH_MAX];
  const std::string key = ::realpath(layout.home().c_str(), resolved) ? std::string(resolved) : layout.home();
  char hex[20];
  std::snprintf(hex, sizeof hex, "%016llx", fnv1a(key));
  return cache_dir + "/index-" + hex + ".sqlite";
}

IndexPlacement choose_index_placement(const Layout& layout, const PlacementFacts& f) {
  IndexPlacement p;
  const bool network = is_network_filesystem(f.home_fs_type);
  const bool cache_ok = f.cache_usable && !is_network_filesystem(f.cache_fs_type);
  if (!network && f.home_writable) {
    p.path = layout.index_path();
    return p;
  }
  const std::string reason = network ? "the store is on " + filesystem_name(f.home_fs_type) +
                                           ", a network file system where SQLite's WAL cannot be shared"
                                     : "the store is read-only for this user";
  if (cache_ok) {
    p.path = cached_index_path(layout, f.cache_dir);
    p.why = reason + "; this host keeps its own index in the user cache";
    return p;
  }
  if (network && f.home_writable) {
    p.path = layout.index_path();
    p.wal = false;
    p.lock_path = layout.home() + "/index.lock";
    p.why = reason + " and no local cache directory is usable (" + f.cache_dir +
            "); using a rollback journal with a lock file";
    return p;
  }
  p.path = ":memory:";
  p.why = reason + " and no cache directory is usable (" + f.cache_dir + "); the index is kept in memory";
  return p;
}

IndexPlacement place_index(const Layout& layout) {
  PlacementFacts f;
  const std::string home_at = existing_ancestor(layout.home());
  f.home_fs_type = fs_type_of(home_at);
  f.home_writable = writable_dir(layout.home());
  struct stat st {};
  if (f.home_writable && ::stat(layout.index_path().c_str(), &st) == 0)
    f.home_writable = ::access(layout.index_path().c_str(), W_OK) == 0;
  f.cache_dir = user_cache_dir();
  f.cache_fs_type = fs_type_of(existing_ancestor(f.cache_dir));
  f.cache_usable = writable_dir(f.cache_dir);
  return choose_index_placement(layout, f);
}

}  // namespace codedag::store
