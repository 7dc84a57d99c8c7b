// Store::sync and Store::rebuild: the index follows the files.
//
// A full sync stats every run's run.json and compares it with the index's stamps (~25 ms for 10k
// runs). The incremental sync looks only where something can have changed:
//   - runs named by the change journal's lines added since the last sync (change_journal.hpp);
//   - runs named by lines read in the last kRecheckSeconds, and runs whose status can change
//     without a new write (running, queued, pending): a rename that landed after the sync that
//     read its journal line is still seen;
//   - experiment directories (and info/ itself) whose mtime changed: a mkdir, rmdir or rename of a
//     run directory (a new run, gc, restore, a directory copied in) changes it. A directory changed
//     within kDirSettleSeconds of being read is read again (mtimes have a coarse tick).
// A full sync runs instead when there is no recorded state or journal position, when the journal is
// missing, replaced, truncated, unreadable, far ahead or holds garbage, and at least every
// full_sync_interval() seconds, which bounds how long a change no journal line names (a hand edit,
// rsync, another host over NFS where O_APPEND is not atomic) can stay unseen.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>

#include "codedag/common/error.hpp"
#include "codedag/store/change_journal.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/run_dir_scan.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/safe_fs.hpp"
#include "codedag/store/store.hpp"

namespace codedag::store {

namespace {
constexpr double kRecheckSeconds = 30;
constexpr double kDirSettleSeconds = 2;
constexpr double kDefaultFullSyncSeconds = 60;
}  // namespace

double full_sync_interval() {
  if (const char* v = std::getenv("CODEDAG_FULL_SYNC_SECONDS"); v && *v) {
    char* end = nullptr;
    const double s = std::strtod(v, &end);
    if (end != v && *end == '\0' && std::isfinite(s) && s >= 0) return s;
  }
  return kDefaultFullSyncSeconds;
}

// Where the last sync left off, kept in the index (RunIndex::sync_state) as JSON.
struct SyncState {
  std::optional<JournalPosition> journal;
  double full_at = 0;                    // when the last full sync ran
  std::map<std::string, DirStamp> dirs;  // "" is info/ itself
  std::map<std::string, double> recent;  // "name/test_name" -> when last named (looked at again)
};

namespace {

// The state is ours, but an index is a file anyone can edit: any surprise means "no state" (full sync).
std::optional<SyncState> parse_state(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  const auto j = try_parse_json(*text);
  if (!j || !j->is_object() || j->value("v", 0) != 1) return std::nullopt;
  SyncState s;
  try {
    const json& jp = j->at("journal");
    if (jp.is_object())
      s.journal = JournalPosition{jp.at("dev").get<unsigned long long>(), jp.at("ino").get<unsigned long long>(),
                                  jp.at("token").get<std::string>(), jp.at("offset").get<long long>()};
    s.full_at = j->at("full_at").get<double>();
    for (const auto& [name, d] : j->at("dirs").items())
      s.dirs[name] = DirStamp{d.at(0).get<long long>(), d.at(1).get<double>()};
    for (const auto& [id, t] : j->at("recent").items()) s.recent[id] = t.get<double>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return s;
}

std::string dump_state(const SyncState& s) {
  json j = json::object();
  j["v"] = 1;
  j["journal"] = s.journal ? json{{"dev", s.journal->dev},
                                  {"ino", s.journal->ino},
                                  {"token", s.journal->token},
                                  {"offset", s.journal->offset}}
                           : json(nullptr);
  j["full_at"] = s.full_at;
  json dirs = json::object();
  for (const auto& [name, d] : s.dirs) dirs[name] = json::array({d.mtime, d.observed_at});
  j["dirs"] = std::move(dirs);
  json recent = json::object();
  for (const auto& [id, t] : s.recent) recent[id] = t;
  j["recent"] = std::move(recent);
  return j.dump();
}

// A directory read at least kDirSettleSeconds after its last change cannot change again within
// the same mtime tick unseen.
bool settled(const DirStamp& d) { return d.observed_at - static_cast<double>(d.mtime) / 1e9 > kDirSettleSeconds; }

void prune_recent(std::map<std::string, double>& recent, double now) {
  for (auto it = recent.begin(); it != recent.end();)
    it = it->second < now - kRecheckSeconds || it->second > now + kRecheckSeconds ? recent.erase(it) : std::next(it);
}

}  // namespace

// A run directory without run.json: its process died between claiming the id and writing the
// record. Past the grace period it gets a record saying so (listed and removed like any dead run).
std::optional<std::pair<long long, json>> Store::settle_missing_record(const RunId& id, double dir_age,
                                                                       std::vector<std::string>* warnings) {
  if (dir_age < 3 * default_lease_seconds()) return std::nullopt;
  const std::string run_dir = layout_.info_dir(id.name, id.test_name);
  try {
    json dead = json{{"schema", kRunSchema},
                     {"name", id.name},
                     {"test_name", id.test_name},
                     {"status", "dead"},
                     {"started_at", 0.0},
                     {"ended_at", 0.0},
                     {"info", json::object()},
                     {"metrics", json::object()},
                     {"last", json::object()},
                     {"tags", json::array()},
                     {"deleted", false},
                     {"dead", {{"detected_at", unix_now()}, {"reason", "the process ended before it wrote run.json"}}}};
    RunLock lock(run_dir);
    struct stat st {};
    if (::stat((run_dir + "/" + kRunFile).c_str(), &st) != 0) create_run(run_dir, dead);
    if (::stat((run_dir + "/" + kRunFile).c_str(), &st) == 0) return std::make_pair(mtime_ns(st), load_run(run_dir));
  } catch (const std::exception& e) {
    if (warnings) warnings->push_back(run_dir + ": no run.json and none can be written (" + e.what() + ")");
  }
  return std::nullopt;
}

std::set<std::string> Store::sync(std::vector<std::string>* warnings) {
  const double now = unix_now();
  const auto state = parse_state(with_index([](RunIndex& ix) { return ix.sync_state(); }));
  std::string why;
  if (!state)
    why = "no sync recorded";
  else if (!state->journal)
    why = "no journal position";
  else if (now - state->full_at >= full_sync_interval() || now < state->full_at - 1)
    why = "interval";  // (or the clock went back)
  if (!why.empty()) return full_sync(warnings, why, now, state ? &*state : nullptr);
  return journal_sync(warnings, *state, now);
}

std::set<std::string> Store::full_sync(std::vector<std::string>* warnings, const std::string& why, double now,
                                       const SyncState* previous) {
  SyncState next;
  next.full_at = now;
  // Taken before the scan: lines appended while it runs are read by the next sync.
  next.journal = journal_end(layout_.home());
  if (previous) next.recent = previous->recent;
  prune_recent(next.recent, now);
  std::set<std::string> bad;
  auto stamps = with_index([](RunIndex& ix) { return ix.stamps(); });
  std::vector<std::pair<long long, json>> changed;
  std::set<std::string> seen;
  for_each_run_dir(
      layout_,
      [&](const FoundRun& r) {
        const std::string& test_name = r.id.test_name;
        seen.insert(test_name);
        if (!r.has_record) {
          if (auto dead = settle_missing_record(r.id, r.dir_age, warnings))
            changed.push_back(std::move(*dead));
          else
            next.recent[r.id.str()] = now;  // looked at again until it has a record
          return;
        }
        const auto it = stamps.find(test_name);
        if (it != stamps.end() && it->second.second == r.mtime) return;
        try {
          changed.emplace_back(r.mtime, load_run(layout_.info_dir(r.id.name, test_name), &r.id));
        } catch (const std::exception& e) {
          bad.insert(test_name);
          next.recent[r.id.str()] = now;  // an incremental sync keeps skipping it until it is repaired
          if (warnings) warnings->push_back(std::string(e.what()) + " (run skipped)");
        }
      },
      &next.dirs);
  std::vector<std::string> gone;
  for (const auto& [test_name, stamp] : stamps)
    if (!seen.count(test_name)) gone.push_back(test_name);
  with_index([&](RunIndex& ix) {
    RunIndex::Transaction tx(ix);
    for (const auto& [mtime, r] : changed) ix.upsert(r, mtime);
    for (const auto& t : gone) ix.remove(t);
    if (next.journal && next.journal->offset >= kJournalRotateBytes) {
      JournalRead pending;
      if (auto fresh = rotate_journal(layout_.home(), *next.journal, pending)) {
        next.journal = fresh;
        for (const RunId& id : pending.runs) next.recent[id.str()] = now;
      }
    }
    ix.set_sync_state(dump_state(next));
    tx.commit();
    return 0;
  });
  last_sync_ = SyncReport{"full", why, 0, seen.size(), changed.size(), gone.size()};
  return bad;
}

std::set<std::string> Store::journal_sync(std::vector<std::string>* warnings, const SyncState& previous, double now) {
  const std::string home = layout_.home();
  JournalRead read = read_journal(home, *previous.journal);
  if (read.status != JournalRead::Status::ok)
    return full_sync(warnings, journal_status_name(read.status), now, &previous);
  // Garbage means a writer this code does not know: what else it did is unknown.
  if (read.garbage) return full_sync(warnings, "unreadable journal lines", now, &previous);
  DirFd root = open_dir_under(layout_.info_root(), {});
  struct stat root_st {};
  if (!root || ::fstat(root.get(), &root_st) != 0) return full_sync(warnings, "no info directory", now, &previous);

  SyncState next = previous;
  next.journal = read.end;
  // test_name -> (name, whether to re-read the record even if its mtime is unchanged)
  std::map<std::string, std::pair<std::string, bool>> candidates;
  // A journal line is news: the record is re-read whatever its mtime says (a rewrite within the
  // mtime's tick keeps the mtime).
  for (const RunId& id : read.runs) {
    candidates[id.test_name] = {id.name, true};
    next.recent[id.str()] = now;
  }
  prune_recent(next.recent, now);
  for (const auto& [key, when] : next.recent) {
    const size_t slash = key.find('/');
    if (slash != std::string::npos)
      candidates.emplace(key.substr(slash + 1), std::make_pair(key.substr(0, slash), false));
  }
  for (const RowStamp& row : with_index([](RunIndex& ix) { return ix.unsettled_stamps(); }))
    candidates.emplace(row.test_name, std::make_pair(row.name, false));

  // Directories: new and removed run directories.
  std::map<std::string, DirStamp> dirs;
  std::vector<std::string> names;
  const DirStamp root_now{mtime_ns(root_st), now};
  if (const auto it = previous.dirs.find("");
      it != previous.dirs.end() && it->second.mtime == root_now.mtime && settled(it->second)) {
    dirs[""] = it->second;
    for (const auto& [name, d] : previous.dirs)
      if (!name.empty()) names.push_back(name);
  } else {
    dirs[""] = root_now;
    names = experiment_dirs(root.get());
  }
  for (const std::string& name : names) {
    const int fd = ::openat(root.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;  // gone, or not a directory: its rows are looked at below
    DirFd name_dir(fd);
    struct stat st {};
    if (::fstat(name_dir.get(), &st) != 0) continue;
    const DirStamp d{mtime_ns(st), now};
    if (const auto it = previous.dirs.find(name);
        it != previous.dirs.end() && it->second.mtime == d.mtime && settled(it->second)) {
      dirs[name] = it->second;
      continue;
    }
    dirs[name] = d;
    std::set<std::string> on_disk;
    for (std::string& t : run_dirs(name_dir.get())) on_disk.insert(std::move(t));
    std::set<std::string> indexed;
    for (const RowStamp& row : with_index([&](RunIndex& ix) { return ix.stamps_of_name(name); })) {
      indexed.insert(row.test_name);
      if (!on_disk.count(row.test_name)) candidates.emplace(row.test_name, std::make_pair(name, false));
    }
    for (const std::string& t : on_disk)
      if (!indexed.count(t)) candidates.emplace(t, std::make_pair(name, false));
  }
  for (const auto& [name, d] : previous.dirs)
    if (!name.empty() && !dirs.count(name))  // the experiment directory is gone: so are its runs
      for (const RowStamp& row : with_index([&](RunIndex& ix) { return ix.stamps_of_name(name); }))
        candidates.emplace(row.test_name, std::make_pair(name, false));
  next.dirs = std::move(dirs);

  // Each candidate against its row.
  std::set<std::string> bad;
  std::vector<std::pair<long long, json>> changed;
  std::vector<std::string> gone;
  for (const auto& [test_name, want] : candidates) {
    const auto row = with_index([&](RunIndex& ix) { return ix.stamp_of(test_name); });
    FoundRun r = stat_run(root.get(), RunId{want.first, test_name});
    if (!r.exists && row && row->name != want.first) r = stat_run(root.get(), RunId{row->name, test_name});
    if (!r.exists) {
      if (row) gone.push_back(test_name);
      continue;
    }
    if (!r.has_record) {
      if (auto dead = settle_missing_record(r.id, r.dir_age, warnings))
        changed.push_back(std::move(*dead));
      else
        next.recent[r.id.str()] = now;
      continue;
    }
    if (!want.second && row && row->name == r.id.name && row->file_mtime == r.mtime) continue;
    try {
      changed.emplace_back(r.mtime, load_run(layout_.info_dir(r.id.name, test_name), &r.id));
    } catch (const std::exception& e) {
      bad.insert(test_name);
      next.recent[r.id.str()] = now;
      if (warnings) warnings->push_back(std::string(e.what()) + " (run skipped)");
    }
  }
  const bool rotate = read.end.offset >= kJournalRotateBytes;
  const std::string state_text = dump_state(next);
  if (changed.empty() && gone.empty() && !rotate && state_text == dump_state(previous)) {
    last_sync_ = SyncReport{"journal", "", read.runs.size(), candidates.size(), 0, 0};
    return bad;
  }
  with_index([&](RunIndex& ix) {
    RunIndex::Transaction tx(ix);
    for (const auto& [mtime, r] : changed) ix.upsert(r, mtime);
    for (const auto& t : gone) ix.remove(t);
    std::string text = state_text;
    if (rotate) {
      JournalRead pending;
      if (auto fresh = rotate_journal(home, read.end, pending)) {
        // Lines appended since the read above: looked at by the next sync.
        next.journal = fresh;
        for (const RunId& id : pending.runs) next.recent[id.str()] = now;
        text = dump_state(next);
      }
    }
    ix.set_sync_state(text);
    tx.commit();
    return 0;
  });
  last_sync_ = SyncReport{"journal", "", read.runs.size(), candidates.size(), changed.size(), gone.size()};
  return bad;
}

size_t Store::rebuild(std::vector<std::string>& warnings) {
  SyncState next;
  next.full_at = unix_now();
  next.journal = journal_end(layout_.home());  // before the scan, as a full sync
  std::vector<json> runs;
  for_each_run_dir(
      layout_,
      [&](const FoundRun& r) {
        const std::string run_dir = layout_.info_dir(r.id.name, r.id.test_name);
        if (!r.has_record) {
          warnings.push_back(run_dir + "/" + kRunFile + ": missing (skipped; listing marks it dead after its lease)");
          next.recent[r.id.str()] = next.full_at;
          return;
        }
        try {
          json rec = load_run(run_dir, &r.id);
          rec["__file_mtime"] = r.mtime;
          runs.push_back(std::move(rec));
        } catch (const std::exception& e) {
          warnings.push_back(std::string(e.what()) + " (skipped)");
        }
      },
      &next.dirs);
  with_index([&](RunIndex& ix) {
    ix.replace_all(runs);
    ix.set_sync_state(dump_state(next));
    return 0;
  });
  last_sync_ = SyncReport{"full", "rebuild", 0, runs.size(), runs.size(), 0};
  return runs.size();
}

}  // namespace codedag::store
