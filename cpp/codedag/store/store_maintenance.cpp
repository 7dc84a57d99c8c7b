// Removing runs and what crashed processes leave behind. Everything here decides from the run files
// (re-read under the run's lock), never from the index alone, and touches the file system only
// through safe_fs: names come from disk and must not steer a removal outside the store.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/git_snapshot.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/safe_fs.hpp"
#include "codedag/store/store.hpp"

namespace codedag::store {
namespace {

std::string describe_lease(const json& record, const Heartbeat& hb) {
  std::string who = "pid " + std::to_string(hb.beat_at > 0 ? hb.process.pid : record.value("pid", 0L));
  const std::string host = hb.beat_at > 0 ? hb.process.host : record.value("host", std::string());
  if (!host.empty()) who += " on " + term::printable(host);
  return who;
}

// Temporary names our writers use: "<file>.tmp.<pid>.<n>" (atomic_file) and ".tmp.<file>.<pid>.<n>"
// (safe_fs), and restore's staging directories ".restore.<test_name>.<pid>".
bool is_leftover(const std::string& n) {
  return n.find(".tmp.") != std::string::npos || n.rfind(".tmp.", 0) == 0 || n.rfind(".restore.", 0) == 0;
}

}  // namespace

json Store::mark_deleted(const RunRef& run, bool deleted, bool force) {
  const RunId expected = run.id();
  if (deleted) {
    // A lease that expired with its process gone turns the run dead first, so it can be removed.
    check_liveness(run, load_run(run.info_dir, &expected), nullptr);
  }
  return update(run, [&](json& r) {
    if (deleted) {
      // Re-checked under the run's lock: the run may have started or renewed its lease meanwhile.
      const Lease lease = lease_of(run, r);
      const Heartbeat hb = read_heartbeat(run.info_dir);
      if (lease == Lease::alive)
        throw StateError("run " + run.name + "/" + run.test_name + " is running (" + describe_lease(r, hb) +
                         ", lease valid): stop it first; a live run is never removed, even with --force");
      if (lease == Lease::expired_unknown && !force)
        throw StateError("run " + run.name + "/" + run.test_name + " is still marked running (" +
                         describe_lease(r, hb) +
                         "); its lease expired but that host cannot be checked from here. If the process is "
                         "gone, remove it with `codedag rm --force " +
                         run.test_name + "`");
    }
    r["deleted"] = deleted;
    if (deleted)
      r["deleted_at"] = unix_now();
    else
      r.erase("deleted_at");
  });
}

std::vector<std::string> Store::collect_garbage(std::vector<std::string>& warnings) {
  sync(&warnings);
  IndexQuery q;
  q.only_deleted = true;
  std::vector<std::string> erased;
  for (const IndexRow& row : with_index([&](RunIndex& ix) { return ix.list(q); })) {
    RunId id;
    try {
      id = checked_run_id(row.name, row.test_name, index().path() + ": row " + row.test_name);
    } catch (const FormatError& e) {
      warnings.push_back(std::string(e.what()) + " (not erased)");
      continue;
    }
    const RunRef ref{id.name, id.test_name, layout_.info_dir(id.name, id.test_name)};
    try {
      DirFd name_dir = open_dir_under(layout_.info_root(), {id.name});
      if (!name_dir) {
        with_index([&](RunIndex& ix) {
          ix.remove(id.test_name);
          return 0;
        });
        continue;
      }
      // The run's directory itself must not be a link: the lock and the removal happen inside it.
      DirFd run_dir = open_dir_under(layout_.info_root(), {id.name, id.test_name});
      if (!run_dir) continue;
      RunLock lock(ref.info_dir);
      // The file decides, under the lock: restored with `rm --undo`, or started again, it stays.
      const json record = load_run(ref.info_dir, &id);
      if (!record.value("deleted", false)) continue;
      if (lease_of(ref, record) == Lease::alive) {
        warnings.push_back("run " + id.str() + " is marked deleted but still running: kept");
        continue;
      }
      const json git = record.value("git", json::object());
      if (git.value("present", false)) {
        // Only the run's own ref (checked by load_run), only if it still names the recorded commit.
        const std::string note =
            delete_snapshot_ref(git.value("toplevel", std::string()), id.ref(), git.value("commit", std::string()));
        if (!note.empty()) warnings.push_back("run " + id.str() + ": " + note);
      }
      for (const std::string& root : {layout_.blob_root(), layout_.cache_root()}) {
        DirFd dir = open_dir_under(root, {id.name});
        if (dir) remove_tree_at(dir.get(), id.test_name, root + "/" + id.str());
      }
      remove_tree_at(name_dir.get(), id.test_name, ref.info_dir);
    } catch (const std::exception& e) {
      warnings.push_back("run " + id.str() + " not erased: " + e.what());
      continue;
    }
    with_index([&](RunIndex& ix) {
      ix.remove(id.test_name);
      return 0;
    });
    erased.push_back(id.test_name);
  }
  return erased;
}

std::vector<std::string> Store::sweep_leftovers(double min_age_seconds) {
  std::vector<std::string> removed;
  const double now = static_cast<double>(std::time(nullptr));
  const auto old_enough = [&](int dir, const std::string& n) {
    struct stat st {};
    return ::fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           now - static_cast<double>(st.st_mtim.tv_sec) >= min_age_seconds;
  };
  // <root>/<name>/ (restore staging) and <root>/<name>/<test_name>/ (temporary files) of info and blob.
  for (const std::string& root : {layout_.info_root(), layout_.blob_root()}) {
    DirFd top = open_dir_under(root, {});
    if (!top) continue;
    for (const DirEntry& top_entry : directory_entries(top.get())) {
      const std::string& name = top_entry.name;
      if (is_leftover(name)) {  // restore's staging directories live at the top
        try {
          if (old_enough(top.get(), name) && remove_tree_at(top.get(), name, root + "/" + name))
            removed.push_back(root + "/" + name);
        } catch (const Error&) {
        }
        continue;
      }
      if (name[0] == '.') continue;
      DirFd name_dir;
      try {
        name_dir = open_dir_under(root, {name});
      } catch (const Error&) {
        continue;
      }
      if (!name_dir) continue;
      for (const DirEntry& name_entry : directory_entries(name_dir.get())) {
        const std::string& entry = name_entry.name;
        const std::string shown = root + "/" + name + "/" + entry;
        try {
          if (is_leftover(entry)) {
            if (old_enough(name_dir.get(), entry) && remove_tree_at(name_dir.get(), entry, shown))
              removed.push_back(shown);
            continue;
          }
          if (!looks_like_test_name(entry)) continue;
          DirFd run_dir = open_dir_under(root, {name, entry});
          if (!run_dir) continue;
          for (const DirEntry& file : directory_entries(run_dir.get()))
            if (is_leftover(file.name) && old_enough(run_dir.get(), file.name) &&
                remove_tree_at(run_dir.get(), file.name, shown + "/" + file.name))
              removed.push_back(shown + "/" + file.name);
        } catch (const Error&) {
          // A link or an unreadable entry: not ours to remove.
        }
      }
    }
  }
  return removed;
}

}  // namespace codedag::store
