// The index heals: damaged or foreign files are moved aside and rebuilt, a read-only store lists
// from a per-user cache, a network file system gets a rollback journal with a lock file, and every
// Store of a process shares one connection (run_index.hpp, store.hpp).
#include "codedag/store/run_index.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>

#include "codedag/common/error.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/store.hpp"
#include "store_test_util.hpp"

using namespace codedag;
using namespace codedag::store;
namespace fs = std::filesystem;

namespace {

std::string home_with_runs(const std::string& name, int runs) {
  const std::string home = fresh_home(name);
  for (int i = 0; i < runs; ++i) {
    Experiment e("h", home);
    e.start(quiet());
    e.dump_info("i", i);
    e.end("finished");
  }
  return home;
}

bool has_damaged_copy(const std::string& home) {
  for (const auto& e : fs::directory_iterator(home))
    if (e.path().filename().string().rfind("index.sqlite.damaged-", 0) == 0) return true;
  return false;
}

bool mentions(const std::vector<std::string>& lines, const std::string& what) {
  for (const auto& l : lines)
    if (l.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

// A damaged index made every command spin 10-15 s and fail, `index rebuild` included.
TEST(RunIndex, DamagedIndexIsMovedAsideAndRebuilt) {
  const std::string home = home_with_runs("heal_damaged", 3);
  { Store(home).list({}); }  // the index exists
  write_text(home + "/index.sqlite", std::string(8192, 'x'));
  fs::remove(home + "/index.sqlite-wal");
  fs::remove(home + "/index.sqlite-shm");
  const auto t0 = std::chrono::steady_clock::now();
  Store s(home);
  std::vector<std::string> warnings;
  EXPECT_EQ(s.list({}, &warnings).size(), 3u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_TRUE(mentions(warnings, "moved it aside")) << (warnings.empty() ? "" : warnings[0]);
  EXPECT_TRUE(mentions(warnings, "rebuilt it from 3 run files"));
  EXPECT_TRUE(has_damaged_copy(home));
  EXPECT_EQ(Store(home).list({}).size(), 3u);  // and it stays healed
}

TEST(RunIndex, ForeignDatabaseIsNeverMigratedButMovedAside) {
  const std::string home = home_with_runs("heal_foreign", 2);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((home + "/index.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "CREATE TABLE users(id, name); INSERT INTO users VALUES(1, 'keep');", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  Store s(home);
  std::vector<std::string> warnings;
  EXPECT_EQ(s.list({}, &warnings).size(), 2u);
  EXPECT_TRUE(mentions(warnings, "another program's database"));
  ASSERT_TRUE(has_damaged_copy(home));
  for (const auto& e : fs::directory_iterator(home))
    if (const std::string n = e.path().filename().string();
        n.rfind("index.sqlite.damaged-", 0) == 0 && !n.ends_with("-wal") && !n.ends_with("-shm")) {
      sqlite3* old = nullptr;
      ASSERT_EQ(sqlite3_open(e.path().c_str(), &old), SQLITE_OK);
      int rows = 0;
      sqlite3_exec(
          old, "SELECT count(*) FROM users",
          [](void* n, int, char** v, char**) {
            *static_cast<int*>(n) = std::atoi(v[0]);
            return 0;
          },
          &rows, nullptr);
      sqlite3_close(old);
      EXPECT_EQ(rows, 1);  // the other program's data is intact
    }
}

TEST(RunIndex, RebuildAfterDamageWorksToo) {
  const std::string home = home_with_runs("heal_rebuild", 2);
  write_text(home + "/index.sqlite", "SQLite format 3" + std::string(5000, '\x01'));
  Store s(home);
  std::vector<std::string> warnings;
  EXPECT_EQ(s.rebuild(warnings), 2u);
}

// A read-only store still lists (index in the per-user cache).
TEST(RunIndex, ReadOnlyStoreListsFromTheUserCache) {
  const std::string home = home_with_runs("heal_readonly", 2);
  fs::remove(home + "/index.sqlite");
  const std::string cache = fresh_home("heal_readonly_cache");
  const int rc = in_private_mounts([&] {
    if (!make_read_only(home)) return 125;
    ::setenv("XDG_CACHE_HOME", cache.c_str(), 1);
    Store s(home);
    std::vector<std::string> warnings;
    const size_t n = s.list({}, &warnings).size();
    if (n != 2) return 10;
    if (s.index().path().rfind(cache + "/codedag/index-", 0) != 0) return 11;
    if (fs::exists(home + "/index.sqlite")) return 12;
    RunRef ref = s.resolve(s.list({})[0]["test_name"].get<std::string>());
    try {
      s.mark_deleted(ref, true, false);
      return 13;  // writing a read-only store must fail clearly
    } catch (const SystemCallError&) {
    }
    return 0;
  });
  if (rc == -1) GTEST_SKIP() << "no private mount namespace here (not root, no user namespaces)";
  EXPECT_EQ(rc, 0);
}

TEST(RunIndex, RollbackJournalWithLockFile) {
  const std::string home = fresh_home("journal");
  IndexPlacement p;
  p.path = home + "/index.sqlite";
  p.wal = false;
  p.lock_path = home + "/index.lock";
  RunIndex ix(p);
  ix.upsert(json{{"name", "m"}, {"test_name", "230306.001.abc"}, {"status", "finished"}});
  EXPECT_TRUE(ix.find("230306.001.abc"));
  EXPECT_TRUE(fs::exists(p.lock_path));
  EXPECT_FALSE(fs::exists(p.path + "-wal"));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.path.c_str(), &db), SQLITE_OK);
  std::string mode;
  sqlite3_exec(
      db, "PRAGMA journal_mode",
      [](void* m, int, char** v, char**) {
        *static_cast<std::string*>(m) = v[0];
        return 0;
      },
      &mode, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(mode, "delete");
}

// A lock held by another process is reported after a bounded wait, not spun on for a minute.
TEST(RunIndex, BusyIndexIsAClearErrorAfterABoundedWait) {
  const std::string home = fresh_home("busy");
  IndexPlacement p;
  p.path = home + "/index.sqlite";
  RunIndex holder(p), waiter(p);
  RunIndex::Transaction held(holder);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    RunIndex::Transaction blocked(waiter);
    FAIL() << "the second writer got the lock";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("locked by another process"), std::string::npos) << e.what();
  }
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(waited, kIndexBusyMilliseconds / 1000.0 - 0.5);
  EXPECT_LT(waited, kIndexBusyMilliseconds / 1000.0 + 3);
}

TEST(RunIndex, NewerSchemaIsRefusedNotDamaged) {
  const std::string home = home_with_runs("newer", 1);
  { Store(home).list({}); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((home + "/index.sqlite").c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  forget_shared_index(home + "/index.sqlite");
  Store s(home);
  EXPECT_THROW(s.index(), StateError);
  EXPECT_FALSE(has_damaged_copy(home));
}

// Every Store of a process shares one connection, closed with the last of them.
TEST(RunIndex, OneConnectionPerProcess) {
  const std::string home = home_with_runs("shared", 1);
  const int before = open_fd_count();
  {
    Store a(home), b(home);
    EXPECT_EQ(&a.index(), &b.index());
    a.list({});
    b.list({});
    const int during = open_fd_count();
    EXPECT_LE(during - before, 4);  // the database, its WAL and shared memory, at most one more
    for (int i = 0; i < 200; ++i) Store(home).list({});
    EXPECT_EQ(open_fd_count(), during);
  }
  EXPECT_EQ(open_fd_count(), before);
}

// Schema 5 kept the value tables with triggers; 6 drops them and refills the tables from the rows,
// and from then on the writer keeps them: upsert replaces a run's values, remove drops them.
TEST(RunIndex, ValueTablesAreWrittenWithTheRowsAndSchemaFiveIsRefilled) {
  const std::string home = home_with_runs("values", 3);
  { Store(home).list({}); }
  const std::string path = home + "/index.sqlite";
  auto scalar = [&](const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    long long out = -1;
    sqlite3_exec(
        db, sql,
        [](void* p, int, char** v, char**) {
          *static_cast<long long*>(p) = v[0] ? std::atoll(v[0]) : -1;
          return 0;
        },
        &out, nullptr);
    sqlite3_close(db);
    return out;
  };
  EXPECT_EQ(scalar("SELECT count(DISTINCT test_name) FROM run_values"), 3);
  EXPECT_EQ(scalar("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 0);
  // An index as schema 5 left it: a trigger on runs, values not (yet) matching the rows.
  forget_shared_index(path);
  EXPECT_EQ(scalar("CREATE TRIGGER runs_values_insert AFTER INSERT ON runs BEGIN SELECT 1; END;"
                   "DELETE FROM run_values; PRAGMA user_version=5; SELECT 0"),
            0);
  {
    Store s(home);
    EXPECT_EQ(s.index().schema_version(), kIndexSchemaVersion);
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 0);
  EXPECT_EQ(scalar("SELECT count(DISTINCT test_name) FROM run_values"), 3);
  // The writer keeps them in step.
  Store s(home);
  const std::vector<json> runs = s.list({});
  json changed = load_run(runs[0]["info_dir"].get<std::string>());
  changed["info"]["i"] = 41;
  s.index().upsert(changed);
  EXPECT_EQ(scalar("SELECT count(*) FROM run_values v JOIN value_keys k ON k.id = v.key_id "
                   "WHERE k.key = 'i' AND v.num = 41"),
            1);
  s.index().remove(changed["test_name"]);
  EXPECT_EQ(scalar("SELECT count(DISTINCT test_name) FROM run_values"), 2);
}
