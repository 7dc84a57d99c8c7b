#include "codedag/store/run_dir_scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include "codedag/common/error.hpp"
#include "codedag/store/safe_fs.hpp"

namespace codedag::store {
namespace {

bool is_experiment_name(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  try {
    validate_experiment_name(name);
    return true;
  } catch (const InputError&) {
    return false;
  }
}

double seconds_now() { return static_cast<double>(std::time(nullptr)); }

// The run.json (or, without one, the directory's age) of a run directory known to be a directory.
void stat_record(int name_dir, FoundRun& run, const struct stat* dir_st, double now) {
  struct stat st {};
  if (::fstatat(name_dir, (run.id.test_name + "/" + kRunFile).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    run.has_record = S_ISREG(st.st_mode);
    run.mtime = mtime_ns(st);
    return;
  }
  struct stat dst {};
  if (!dir_st && ::fstatat(name_dir, run.id.test_name.c_str(), &dst, AT_SYMLINK_NOFOLLOW) == 0) dir_st = &dst;
  if (dir_st) run.dir_age = now - static_cast<double>(dir_st->st_mtim.tv_sec);  // only needed without a record
}

}  // namespace

long long mtime_ns(const struct stat& st) {
  return static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

std::vector<std::string> experiment_dirs(int root) {
  std::vector<std::string> out;
  for (const DirEntry& e : directory_entries(root)) {
    if (!is_experiment_name(e.name)) continue;
    if (e.type != DT_DIR && e.type != DT_UNKNOWN) continue;  // unknown: openat(O_DIRECTORY) decides later
    out.push_back(e.name);
  }
  return out;
}

std::vector<std::string> run_dirs(int name_dir) {
  std::vector<std::string> out;
  for (const DirEntry& entry : directory_entries(name_dir)) {
    if (!looks_like_test_name(entry.name)) continue;
    // readdir's type tells a real directory from a link without a stat per run (10k runs list in
    // ~10 ms); file systems that do not say get the stat.
    if (entry.type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(name_dir, entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
    } else if (entry.type != DT_DIR) {
      continue;
    }
    out.push_back(entry.name);
  }
  return out;
}

void for_each_run_dir(const Layout& layout, const std::function<void(const FoundRun&)>& visit,
                      std::map<std::string, DirStamp>* dirs) {
  DirFd root = open_dir_under(layout.info_root(), {});
  if (!root) return;
  const double now = seconds_now();
  struct stat st {};
  // Each directory's mtime is taken before it is read: an entry added while it is read changes
  // the mtime again, and the next sync reads the directory once more.
  if (dirs && ::fstat(root.get(), &st) == 0) (*dirs)[""] = DirStamp{mtime_ns(st), now};
  for (const std::string& name : experiment_dirs(root.get())) {
    const int fd = ::openat(root.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;  // not a directory, or a symlink: not part of the store
    DirFd name_dir(fd);
    if (dirs && ::fstat(name_dir.get(), &st) == 0) (*dirs)[name] = DirStamp{mtime_ns(st), now};
    for (const std::string& test_name : run_dirs(name_dir.get())) {
      FoundRun run{RunId{name, test_name}};
      stat_record(name_dir.get(), run, nullptr, now);
      visit(run);
    }
  }
}

FoundRun stat_run(int root, const RunId& id) {
  FoundRun run{id};
  run.exists = false;
  const int fd = ::openat(root, id.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return run;
  DirFd name_dir(fd);
  struct stat dst {};
  if (::fstatat(name_dir.get(), id.test_name.c_str(), &dst, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(dst.st_mode))
    return run;
  run.exists = true;
  stat_record(name_dir.get(), run, &dst, seconds_now());
  return run;
}

}  // namespace codedag::store
