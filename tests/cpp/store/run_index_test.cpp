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
#include "codedag/store/run_query.hpp"
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

namespace {

long long index_scalar(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  long long out = -1;
  char* error = nullptr;
  sqlite3_exec(
      db, sql,
      [](void* p, int, char** v, char**) {
        *static_cast<long long*>(p) = v[0] ? std::atoll(v[0]) : -1;
        return 0;
      },
      &out, &error);
  EXPECT_EQ(error, nullptr) << sql << ": " << error;
  sqlite3_free(error);
  sqlite3_close(db);
  return out;
}

// The index as schema 6 wrote it: runs keyed by test_name alone (no id column) and run_values by
// test_name, the same rows and values.
void downgrade_to_schema_six(const std::string& path) {
  forget_shared_index(path);
  EXPECT_EQ(
      index_scalar(path,
                   "BEGIN;"
                   "CREATE TABLE values6(test_name TEXT NOT NULL, key_id INTEGER NOT NULL, num REAL, txt TEXT,"
                   "  PRIMARY KEY(test_name, key_id)) WITHOUT ROWID;"
                   "INSERT INTO values6 SELECT r.test_name, v.key_id, v.num, v.txt FROM run_values v"
                   "  JOIN runs r ON r.id = v.run_id;"
                   "DROP TABLE run_values; ALTER TABLE values6 RENAME TO run_values;"
                   "CREATE INDEX run_values_by_value ON run_values(key_id, num, txt);"
                   "CREATE TABLE runs6(test_name TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,"
                   "  started_at REAL NOT NULL DEFAULT 0, ended_at REAL NOT NULL DEFAULT 0,"
                   "  deleted INTEGER NOT NULL DEFAULT 0, host TEXT NOT NULL DEFAULT '',"
                   "  summary TEXT NOT NULL DEFAULT '{}', file_mtime INTEGER NOT NULL DEFAULT 0, duration REAL,"
                   "  tags TEXT NOT NULL DEFAULT '[]', metric_values TEXT, sweep TEXT NOT NULL DEFAULT '');"
                   "INSERT INTO runs6 SELECT test_name, name, status, started_at, ended_at, deleted, host, summary,"
                   "  file_mtime, duration, tags, metric_values, sweep FROM runs;"
                   "DROP TABLE runs; ALTER TABLE runs6 RENAME TO runs;"
                   "CREATE INDEX runs_by_name ON runs(name, started_at);"
                   "CREATE INDEX runs_by_status ON runs(status);"
                   "CREATE INDEX runs_by_sweep ON runs(sweep) WHERE sweep != '';"
                   "CREATE INDEX runs_by_start ON runs(deleted, started_at, test_name);"
                   "CREATE INDEX runs_by_change ON runs(file_mtime);"
                   "DROP TABLE sync_state; PRAGMA user_version=6; COMMIT; SELECT 0"),
      0);
  ASSERT_EQ(index_scalar(path, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'id'"), 0);
  ASSERT_EQ(index_scalar(path, "SELECT count(*) FROM pragma_table_info('run_values') WHERE name = 'test_name'"), 1);
}

// Each run's typed values and the filters' answers, as the panel sees them.
json panel_view(const std::string& path, const std::vector<std::string>& test_names) {
  RunTable table(path);
  json view = json::object();
  for (const auto& t : test_names) view[t] = table.run_values(t);
  for (const char* filter : {"", "i>0", "i=1", "i!=1", "i>5"}) {
    RunQuery q;
    q.filter = filter;
    json names = json::array();
    const RunPage page = table.query(q);
    for (const auto& r : page.runs) names.push_back(r["test_name"]);
    view[std::string("filter ") + filter] = json{{"total", page.total}, {"runs", names}};
  }
  return view;
}

}  // namespace

// Schema 7 keys run_values by the run's integer id (filters intersect integer lists): a schema-6
// index is upgraded in place, with the same rows, the same values and the same filter answers, and
// the store says so once.
TEST(RunIndex, SchemaSixIsUpgradedToRunIdsWithTheSameRowsAndValues) {
  const std::string home = home_with_runs("upgrade6", 3);
  const std::string path = home + "/index.sqlite";
  std::vector<std::string> test_names;
  for (const json& r : Store(home).list({})) test_names.push_back(r["test_name"]);
  const json before = panel_view(path, test_names);
  EXPECT_EQ(before["filter i>0"]["total"], 2);
  downgrade_to_schema_six(path);
  {
    Store s(home);
    std::vector<std::string> warnings;
    EXPECT_EQ(s.list({}, &warnings, false).size(), 3u);
    EXPECT_TRUE(mentions(warnings, "upgraded from schema 6 to 8")) << (warnings.empty() ? "" : warnings[0]);
    EXPECT_EQ(s.index().schema_version(), kIndexSchemaVersion);
    warnings.clear();
    s.list({}, &warnings, false);
    EXPECT_FALSE(mentions(warnings, "upgraded"));  // said once
  }
  EXPECT_EQ(index_scalar(path, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'id'"), 1);
  EXPECT_EQ(index_scalar(path, "SELECT count(DISTINCT run_id) FROM run_values"), 3);
  EXPECT_EQ(
      index_scalar(path, "SELECT count(*) FROM run_values v LEFT JOIN runs r ON r.id = v.run_id WHERE r.id IS NULL"),
      0);
  EXPECT_EQ(panel_view(path, test_names), before);
  // From then on the writer keeps them in step: upsert replaces a run's values, remove drops them.
  Store s(home);
  const std::vector<json> runs = s.list({});
  json changed = load_run(runs[0]["info_dir"].get<std::string>());
  changed["info"]["i"] = 41;
  s.index().upsert(changed);
  EXPECT_EQ(index_scalar(path,
                         "SELECT count(*) FROM run_values v JOIN value_keys k ON k.id = v.key_id "
                         "WHERE k.key = 'i' AND v.num = 41"),
            1);
  EXPECT_EQ(index_scalar(path, "SELECT count(DISTINCT run_id) FROM run_values"), 3);  // same id, values replaced
  s.index().remove(changed["test_name"]);
  EXPECT_EQ(index_scalar(path, "SELECT count(DISTINCT run_id) FROM run_values"), 2);
  EXPECT_EQ(index_scalar(path, "SELECT count(*) FROM runs"), 2);
}

// Schema 5 kept the value tables with triggers; 6 drops them, 7 refills the tables from the rows.
TEST(RunIndex, SchemaFiveTriggersAreDroppedAndItsValuesRefilled) {
  const std::string home = home_with_runs("upgrade5", 3);
  const std::string path = home + "/index.sqlite";
  { Store(home).list({}); }
  EXPECT_EQ(index_scalar(path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 0);
  downgrade_to_schema_six(path);
  EXPECT_EQ(index_scalar(path,
                         "CREATE TRIGGER runs_values_insert AFTER INSERT ON runs BEGIN SELECT 1; END;"
                         "DELETE FROM run_values; PRAGMA user_version=5; SELECT 0"),
            0);
  {
    Store s(home);
    EXPECT_EQ(s.index().schema_version(), kIndexSchemaVersion);
  }
  EXPECT_EQ(index_scalar(path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 0);
  EXPECT_EQ(index_scalar(path, "SELECT count(DISTINCT run_id) FROM run_values"), 3);
}

// The upgrade copies the runs table and refills the values in one transaction: one that fails
// half-way (here a trigger refuses the value keys) leaves the schema-6 index exactly as it was, and
// the next open upgrades it once the cause is gone.
TEST(RunIndex, AnUpgradeThatFailsLeavesTheOldIndexWhole) {
  const std::string home = home_with_runs("upgrade_fails", 3);
  const std::string path = home + "/index.sqlite";
  { Store(home).list({}); }
  downgrade_to_schema_six(path);
  EXPECT_EQ(index_scalar(path,
                         "CREATE TRIGGER refuse BEFORE INSERT ON value_keys BEGIN SELECT RAISE(ABORT, 'refused'); END;"
                         "SELECT 0"),
            0);
  const long long values = index_scalar(path, "SELECT count(*) FROM run_values");
  EXPECT_GT(values, 0);
  EXPECT_THROW(Store(home).list({}), Error);
  forget_shared_index(path);
  EXPECT_EQ(index_scalar(path, "PRAGMA user_version"), 6);
  EXPECT_EQ(index_scalar(path, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'id'"), 0);
  EXPECT_EQ(index_scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'runs_v7'"), 0);
  EXPECT_EQ(index_scalar(path, "SELECT count(*) FROM runs"), 3);
  EXPECT_EQ(index_scalar(path, "SELECT count(*) FROM run_values"), values);
  EXPECT_EQ(index_scalar(path, "DROP TRIGGER refuse; SELECT 0"), 0);
  EXPECT_EQ(Store(home).list({}).size(), 3u);
  EXPECT_EQ(index_scalar(path, "PRAGMA user_version"), kIndexSchemaVersion);
  EXPECT_EQ(index_scalar(path, "SELECT count(DISTINCT run_id) FROM run_values"), 3);
}
