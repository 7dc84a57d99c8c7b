#include "codedag/store/run_index.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <thread>
#include <utility>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/listing_columns.hpp"
#include "codedag/store/run_values.hpp"
#include "codedag/store/run_values_schema.hpp"

namespace codedag::store {
namespace {

// Numbered migrations: kMigrations[i] takes the schema from version i to i + 1. Never edit one that
// has shipped; add the next.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE runs (
      test_name  TEXT PRIMARY KEY,
      name       TEXT NOT NULL,
      status     TEXT NOT NULL,
      started_at REAL NOT NULL DEFAULT 0,
      ended_at   REAL NOT NULL DEFAULT 0,
      deleted    INTEGER NOT NULL DEFAULT 0,
      host       TEXT NOT NULL DEFAULT '',
      summary    TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX runs_by_name ON runs(name, started_at);
    CREATE INDEX runs_by_status ON runs(status);
    CREATE TABLE day_counters (
      name TEXT NOT NULL,
      day  TEXT NOT NULL,
      next INTEGER NOT NULL,
      PRIMARY KEY (name, day)
    );
    )sql",
    // 2: the run.json mtime each row was read from, so listing can re-read files changed since.
    R"sql(
    ALTER TABLE runs ADD COLUMN file_mtime INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 3: what the listing table shows, so listing does not parse every summary (backfilled from
    // the summaries by backfill_listing_columns()). metric_values NULL: parse the summary.
    R"sql(
    ALTER TABLE runs ADD COLUMN duration REAL;
    ALTER TABLE runs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE runs ADD COLUMN metric_values TEXT;
    )sql",
    // 4: the sweep a run belongs to (properties.sweep.id), for `codedag ls --sweep ID`
    // (backfilled from the summaries by backfill_sweep_column()).
    R"sql(
    ALTER TABLE runs ADD COLUMN sweep TEXT NOT NULL DEFAULT '';
    CREATE INDEX runs_by_sweep ON runs(sweep) WHERE sweep != '';
    )sql",
    // 5: typed param/metric values kept by triggers, for the panel's filters and sorts (run_values_schema.hpp).
    kRunValuesMigration,
    // 6: the values are written by RunIndex itself (ValueWriter below, refilled by backfill_run_values()):
    // the triggers parsed each summary again with json_tree, 30x the cost of the row itself, on every
    // rebuild and sync. The page order's index covers test_name, so a deep page skips index entries
    // without reading rows.
    R"sql(
    DROP TRIGGER IF EXISTS runs_values_insert;
    DROP TRIGGER IF EXISTS runs_values_update;
    DROP TRIGGER IF EXISTS runs_values_delete;
    DROP INDEX IF EXISTS runs_by_start;
    CREATE INDEX runs_by_start ON runs(deleted, started_at, test_name);
    )sql",
    // 7: every run gets a stable integer id (an INTEGER PRIMARY KEY: VACUUM never renumbers it) and
    // run_values is keyed by it instead of the test_name: a filter intersects sorted integer lists
    // instead of copying and hashing the names of every matching run (45k matches: 600 ms), and names
    // are read only for the page shown. The table is copied whole (SQLite cannot add a primary key),
    // inside the migration's transaction: a crash leaves the schema-6 index as it was. The values are
    // refilled from the summaries by backfill_run_values(). The page order's index also holds every
    // column a filter's row conditions read (name, status, host, duration, tags, ended_at), so the
    // walk that applies them never reads a row and its summary (100k runs: 96 ms -> 13 ms).
    R"sql(
    DROP TABLE IF EXISTS runs_v7;
    CREATE TABLE runs_v7 (
      id            INTEGER PRIMARY KEY,
      test_name     TEXT NOT NULL UNIQUE,
      name          TEXT NOT NULL,
      status        TEXT NOT NULL,
      started_at    REAL NOT NULL DEFAULT 0,
      ended_at      REAL NOT NULL DEFAULT 0,
      deleted       INTEGER NOT NULL DEFAULT 0,
      host          TEXT NOT NULL DEFAULT '',
      summary       TEXT NOT NULL DEFAULT '{}',
      file_mtime    INTEGER NOT NULL DEFAULT 0,
      duration      REAL,
      tags          TEXT NOT NULL DEFAULT '[]',
      metric_values TEXT,
      sweep         TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO runs_v7(test_name, name, status, started_at, ended_at, deleted, host, summary, file_mtime, duration,
                        tags, metric_values, sweep)
      SELECT test_name, name, status, started_at, ended_at, deleted, host, summary, file_mtime, duration, tags,
             metric_values, sweep
      FROM runs WHERE test_name IS NOT NULL ORDER BY started_at, test_name;
    DROP TABLE runs;
    ALTER TABLE runs_v7 RENAME TO runs;
    CREATE INDEX runs_by_name ON runs(name, started_at);
    CREATE INDEX runs_by_status ON runs(status);
    CREATE INDEX runs_by_sweep ON runs(sweep) WHERE sweep != '';
    CREATE INDEX runs_by_start ON runs(deleted, started_at, test_name, name, status, host, duration, tags, ended_at);
    CREATE INDEX runs_by_change ON runs(file_mtime);
    DROP TABLE run_values;
    CREATE TABLE run_values (
      run_id INTEGER NOT NULL,
      key_id INTEGER NOT NULL,
      num    REAL,
      txt    TEXT,
      PRIMARY KEY (run_id, key_id)
    ) WITHOUT ROWID;
    CREATE INDEX run_values_by_value ON run_values(key_id, num, txt);
    )sql",
    // 8: where the last sync of the files left off (change journal position, directory mtimes, runs
    // to look at again), so a listing reads what changed instead of stat'ing every run. One row.
    R"sql(
    CREATE TABLE IF NOT EXISTS sync_state (
      id    INTEGER PRIMARY KEY CHECK (id = 1),
      state TEXT NOT NULL
    );
    )sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kIndexSchemaVersion);

// Turns a SQLite failure into the error the store acts on: a damaged file is moved aside and
// rebuilt, an unwritable one replaced by an index elsewhere, a lock held too long reported plainly.
[[noreturn]] void raise(sqlite3* db, int rc, const std::string& path, const std::string& doing) {
  const std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xFF) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      throw IndexDamaged("the run index '" + path + "' is damaged (" + msg + ")");
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_NOLFS:
      throw IndexUnavailable("the run index '" + path + "' cannot be " + doing + " (" + msg + ")");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw StateError("the run index '" + path + "' is locked by another process (" + msg + ") for more than " +
                       std::to_string(kIndexBusyMilliseconds / 1000) +
                       " s; try again when the `codedag index rebuild` or listing holding it ends");
    default:
      throw Error("run index '" + path + "': " + msg + " while " + doing +
                  " (the index is a cache: `codedag index rebuild` recreates it from the run files)");
  }
}

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    const int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) raise(db, rc, sqlite3_db_filename(db, "main") ? sqlite3_db_filename(db, "main") : "", "read");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, double d) {
    sqlite3_bind_double(stmt_, i, d);
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  Statement& bind(int i, long long v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // true: a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const char* file = sqlite3_db_filename(db_, "main");
    raise(db_, rc, file && *file ? file : ":memory:", "read or written");
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  long long integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

void bind_listing(Statement& s, int first, const json& summary) {
  const ListingColumns c = listing_columns(summary);
  if (c.duration)
    s.bind(first, *c.duration);
  else
    s.bind_null(first);
  s.bind(first + 1, c.tags);
  if (c.metric_values)
    s.bind(first + 2, *c.metric_values);
  else
    s.bind_null(first + 2);
}

// properties.sweep.id of a run (or a summary), "" when it is not a sweep's.
std::string sweep_of(const json& run) {
  const json props = run.value("properties", json::object());
  const json sweep = props.is_object() ? props.value("sweep", json::object()) : json::object();
  const json id = sweep.is_object() ? sweep.value("id", json()) : json();
  return id.is_string() ? id.get<std::string>() : std::string();
}

void bind_row(Statement& s, const json& run, const json& summary, long long mtime) {
  s.bind(1, run.value("test_name", std::string()))
      .bind(2, run.value("name", std::string()))
      .bind(3, run.value("status", std::string("running")))
      .bind(4, run.value("started_at", 0.0))
      .bind(5, run.value("ended_at", 0.0))
      .bind(6, static_cast<long long>(run.value("deleted", false) ? 1 : 0))
      .bind(7, run.value("host", std::string()))
      .bind(8, dump_json(summary))
      .bind(9, mtime);
  bind_listing(s, 10, summary);
  s.bind(13, sweep_of(run));
}

// The columns every list/find reads, in the order read_row expects.
const std::string kRowColumns =
    "test_name, name, status, started_at, ended_at, deleted, host, summary, duration, tags, metric_values";

IndexRow read_row(const Statement& s) {
  IndexRow r;
  r.test_name = s.text(0);
  r.name = s.text(1);
  r.status = s.text(2);
  r.started_at = s.real(3);
  r.ended_at = s.real(4);
  r.deleted = s.integer(5) != 0;
  r.host = s.text(6);
  r.summary = s.text(7);
  r.has_duration = !s.is_null(8);
  r.duration = s.real(8);
  r.tags = s.text(9);
  r.has_metric_values = !s.is_null(10);
  r.metric_values = s.text(10);
  return r;
}

// Writes a run's typed values (run_values.hpp) beside its row, keyed by the row's id, with its
// statements prepared once per batch. value_keys rows are never deleted or renumbered, so known key
// ids are cached.
class ValueWriter {
 public:
  ValueWriter(sqlite3* db, std::map<std::pair<char, std::string>, long long>& key_ids)
      : key_ids_(key_ids),
        clear_(db, "DELETE FROM run_values WHERE run_id = ?1"),
        add_key_(db, "INSERT OR IGNORE INTO value_keys(kind, key) VALUES(?1, ?2)"),
        find_key_(db, "SELECT id FROM value_keys WHERE kind = ?1 AND key = ?2"),
        add_value_(db, "INSERT OR REPLACE INTO run_values(run_id, key_id, num, txt) VALUES(?1, ?2, ?3, ?4)") {}

  void clear(long long run_id) {
    clear_.reset();
    clear_.bind(1, run_id);
    clear_.step();
  }

  void write(long long run_id, const json& summary) {
    for (const TypedValue& v : typed_values(summary)) {
      add_value_.reset();
      add_value_.bind(1, run_id).bind(2, key_id(v.kind, v.key));
      if (v.num)
        add_value_.bind(3, *v.num);
      else
        add_value_.bind_null(3);
      if (v.txt)
        add_value_.bind(4, *v.txt);
      else
        add_value_.bind_null(4);
      add_value_.step();
    }
  }

 private:
  long long key_id(char kind, const std::string& key) {
    const auto known = key_ids_.find(std::make_pair(kind, key));
    if (known != key_ids_.end()) return known->second;
    const std::string k(1, kind);
    add_key_.reset();
    add_key_.bind(1, k).bind(2, key);
    add_key_.step();
    find_key_.reset();
    find_key_.bind(1, k).bind(2, key);
    if (!find_key_.step()) throw Error("run index: value key '" + key + "' vanished while it was written");
    const long long id = find_key_.integer(0);
    key_ids_.emplace(std::make_pair(kind, key), id);
    return id;
  }

  std::map<std::pair<char, std::string>, long long>& key_ids_;
  Statement clear_, add_key_, find_key_, add_value_;
};

const char* kUpsertSql =
    "INSERT INTO runs(test_name, name, status, started_at, ended_at, deleted, host, summary, file_mtime, "
    "duration, tags, metric_values, sweep) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
    "ON CONFLICT(test_name) DO UPDATE SET name=?2, status=?3, started_at=?4, ended_at=?5, deleted=?6, host=?7, "
    "summary=?8, file_mtime=?9, duration=?10, tags=?11, metric_values=?12, sweep=?13 RETURNING id";

// Writes the row and returns its id (kept when the row was there: the upsert updates it in place).
long long write_row(Statement& s, const json& run, const json& summary, long long mtime) {
  s.reset();
  bind_row(s, run, summary, mtime);
  if (!s.step()) throw Error("run index: the row of '" + run.value("test_name", std::string()) + "' was not written");
  const long long id = s.integer(0);
  s.reset();  // the statement is complete: its one RETURNING row was read
  return id;
}

}  // namespace

json summarize_run(const json& run) {
  json s = json::object();
  for (const char* key : {"name", "test_name", "status", "started_at", "ended_at", "duration", "info", "metrics",
                          "last", "tags", "argv", "properties", "deleted", "exception", "signal", "host", "cwd"})
    if (run.contains(key)) s[key] = run[key];
  if (run.contains("git") && run["git"].is_object()) {
    const json& g = run["git"];
    s["git"] = json{{"present", g.value("present", false)}};
    if (g.contains("commit")) s["git"]["commit"] = g["commit"];
    if (g.contains("dirty")) s["git"]["dirty"] = g["dirty"];
  }
  return s;
}

RunIndex::RunIndex(IndexPlacement placement) : placement_(std::move(placement)), owner_pid_(::getpid()) {
  const bool memory = placement_.path == ":memory:";
  struct stat st {};
  fresh_ = memory || ::stat(placement_.path.c_str(), &st) != 0 || st.st_size == 0;
  if (!memory) {
    const size_t slash = placement_.path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      try {
        make_directories(placement_.path.substr(0, slash));
      } catch (const SystemCallError& e) {
        throw IndexUnavailable(e.what());
      }
    }
  }
  const int rc = sqlite3_open_v2(placement_.path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw IndexUnavailable("cannot open the run index '" + placement_.path + "': " + msg);
  }
  try {
    // Bounded: a process holding the write lock (a rebuild, a hung listing) is reported, not waited on
    // for a minute. Training processes never take this lock.
    sqlite3_busy_timeout(db_, kIndexBusyMilliseconds);
    identify();
    if (!memory) {
      if (placement_.wal) {
        // Switching to WAL needs a brief exclusive lock and may report BUSY without calling the busy
        // handler while another process opens the file: retry for at most the busy timeout.
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kIndexBusyMilliseconds);
        while (true) {
          const int wal = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
          if (wal == SQLITE_OK) break;
          if ((wal & 0xFF) != SQLITE_BUSY || std::chrono::steady_clock::now() > until)
            raise(db_, wal, placement_.path, "opened");
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      } else {
        exec("PRAGMA journal_mode=DELETE");
      }
    }
    exec("PRAGMA synchronous=NORMAL");
    // A listing reads every row (10k runs: ~6 MB of pages): mapped, they are read in place instead
    // of copied through pread into a page cache that holds 2 MB. Local WAL files only: a file read
    // over the network (the rollback-journal placement) is better read with errors, not SIGBUS.
    if (!memory && placement_.wal) exec("PRAGMA mmap_size=1073741824");
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

RunIndex::~RunIndex() { sqlite3_close(db_); }

void RunIndex::exec(const char* sql) const {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) raise(db_, rc, placement_.path, "read or written");
}

int RunIndex::schema_version() const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "PRAGMA user_version");
  return s.step() ? static_cast<int>(s.integer(0)) : 0;
}

// Refuses a file that is not ours: another program's SQLite database keeps its tables, we never
// migrate or overwrite it (the store moves it aside and starts a new index).
void RunIndex::identify() {
  long long app = 0, version = 0, tables = 0, runs = 0;
  {
    Statement s(db_, "PRAGMA application_id");
    if (s.step()) app = s.integer(0);
  }
  {
    Statement s(db_, "PRAGMA user_version");
    if (s.step()) version = s.integer(0);
  }
  {
    Statement s(db_, "SELECT count(*), count(CASE WHEN name='runs' THEN 1 END) FROM sqlite_master WHERE type='table'");
    if (s.step()) {
      tables = s.integer(0);
      runs = s.integer(1);
    }
  }
  if (app == kIndexApplicationId) return;
  if (app != 0)
    throw IndexDamaged("the run index '" + placement_.path + "' belongs to another program (application id " +
                       std::to_string(app) + ")");
  // Indexes written before the application id was set: schema 1-3 with a runs table.
  if (tables == 0 || (runs == 1 && version >= 1)) return;
  throw IndexDamaged("the run index '" + placement_.path + "' is another program's database (" +
                     std::to_string(tables) + " tables, no CodeDAG runs table)");
}

int RunIndex::lock_file() const {
  if (placement_.wal || placement_.lock_path.empty()) return -1;
  const int fd = ::open(placement_.lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw IndexUnavailable("cannot open the index lock '" + placement_.lock_path + "'");
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kIndexBusyMilliseconds);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      ::close(fd);
      throw IndexUnavailable("cannot lock '" + placement_.lock_path + "'");
    }
    if (std::chrono::steady_clock::now() > until) {
      ::close(fd);
      throw StateError("the run index lock '" + placement_.lock_path + "' is held by another process for more than " +
                       std::to_string(kIndexBusyMilliseconds / 1000) + " s; try again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return fd;
}

RunIndex::Transaction::Transaction(RunIndex& index) : index_(index), lock_(index.mutex_) {
  file_lock_ = index_.lock_file();
  try {
    index_.exec("BEGIN IMMEDIATE");
  } catch (...) {
    if (file_lock_ >= 0) ::close(file_lock_);
    throw;
  }
}

RunIndex::Transaction::~Transaction() {
  if (!done_) {
    sqlite3_exec(index_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
    index_.key_ids_.clear();  // keys added by the rolled-back transaction are gone again
  }
  if (file_lock_ >= 0) ::close(file_lock_);
}

void RunIndex::Transaction::commit() {
  index_.exec("COMMIT");
  done_ = true;
}

void RunIndex::migrate() {
  {
    Statement s(db_, "PRAGMA user_version");
    Statement a(db_, "PRAGMA application_id");
    if (s.step() && s.integer(0) == kIndexSchemaVersion && a.step() && a.integer(0) == kIndexApplicationId) return;
  }
  Transaction tx(*this);
  int from = 0;  // re-read under the lock: another process may have migrated
  {
    Statement s(db_, "PRAGMA user_version");
    if (s.step()) from = static_cast<int>(s.integer(0));
  }
  if (from > kIndexSchemaVersion)
    throw StateError("run index '" + placement_.path + "' has schema " + std::to_string(from) +
                     ", newer than this codedag (" + std::to_string(kIndexSchemaVersion) + "): upgrade codedag");
  for (int v = from; v < kIndexSchemaVersion; ++v) exec(kMigrations[v]);
  if (from < 3) backfill_listing_columns();
  if (from < 4) backfill_sweep_column();
  if (from < 7) backfill_run_values();  // 7 re-keys the values by run id
  exec(("PRAGMA user_version=" + std::to_string(kIndexSchemaVersion)).c_str());
  exec(("PRAGMA application_id=" + std::to_string(kIndexApplicationId)).c_str());
  tx.commit();
  if (!fresh_) migrated_from_ = from;
}

int RunIndex::take_migrated_from() {
  std::lock_guard lock(mutex_);
  return std::exchange(migrated_from_, 0);
}

void RunIndex::backfill_listing_columns() {
  // From the stored summaries, not the files: the same data the rows were listed from before.
  std::vector<std::pair<std::string, std::string>> rows;
  {
    Statement s(db_, "SELECT test_name, summary FROM runs");
    while (s.step()) rows.emplace_back(s.text(0), s.text(1));
  }
  Statement u(db_, "UPDATE runs SET duration=?1, tags=?2, metric_values=?3 WHERE test_name=?4");
  for (const auto& [test_name, text] : rows) {
    const auto summary = try_parse_json(text);
    if (!summary || !summary->is_object()) continue;  // listing warns about it
    u.reset();
    bind_listing(u, 1, *summary);
    u.bind(4, test_name);
    u.step();
  }
}

void RunIndex::backfill_run_values() {
  // From the stored summaries, as the triggers of schema 5 did (they flattened keys differently on
  // different SQLite versions: "batch_size" came out quoted on some), once more in the writer's way.
  exec("DELETE FROM run_values");
  ValueWriter values(db_, key_ids_);
  Statement s(db_, "SELECT id, summary FROM runs");
  while (s.step()) {
    const auto summary = try_parse_json(s.text(1));
    if (summary && summary->is_object()) values.write(s.integer(0), *summary);  // a damaged row has no values
  }
  // Keys only the triggers' spelling had (params."batch_size") would linger in the filter's completion.
  exec("DELETE FROM value_keys WHERE id NOT IN (SELECT DISTINCT key_id FROM run_values)");
}

void RunIndex::backfill_sweep_column() {
  std::vector<std::pair<std::string, std::string>> rows;
  {
    Statement s(db_, "SELECT test_name, summary FROM runs WHERE summary LIKE '%\"sweep\"%'");
    while (s.step()) rows.emplace_back(s.text(0), s.text(1));
  }
  Statement u(db_, "UPDATE runs SET sweep=?1 WHERE test_name=?2");
  for (const auto& [test_name, text] : rows) {
    const json summary = try_parse_json(text).value_or(json());
    if (!summary.is_object()) continue;  // listing warns about a damaged row
    u.reset();
    u.bind(1, sweep_of(summary)).bind(2, test_name);
    u.step();
  }
}

void RunIndex::upsert(const json& run, long long file_mtime_ns) {
  std::lock_guard lock(mutex_);
  const int file_lock = lock_file();
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{file_lock};
  // The row and its values change together: a savepoint nests inside a caller's Transaction.
  exec("SAVEPOINT codedag_upsert");
  try {
    const json summary = summarize_run(run);
    Statement s(db_, kUpsertSql);
    const long long id = write_row(s, run, summary, file_mtime_ns);
    ValueWriter values(db_, key_ids_);
    values.clear(id);
    values.write(id, summary);
    exec("RELEASE codedag_upsert");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK TO codedag_upsert; RELEASE codedag_upsert", nullptr, nullptr, nullptr);
    key_ids_.clear();  // keys added by the rolled-back part are gone again
    throw;
  }
}

std::map<std::string, std::pair<std::string, long long>> RunIndex::stamps() const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT test_name, name, file_mtime FROM runs");
  std::map<std::string, std::pair<std::string, long long>> out;
  while (s.step()) out.emplace(s.text(0), std::make_pair(s.text(1), s.integer(2)));
  return out;
}

namespace {
RowStamp read_stamp(const Statement& s) { return RowStamp{s.text(0), s.text(1), s.text(2), s.integer(3)}; }
}  // namespace

std::optional<RowStamp> RunIndex::stamp_of(const std::string& test_name) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT test_name, name, status, file_mtime FROM runs WHERE test_name=?1");
  s.bind(1, test_name);
  if (!s.step()) return std::nullopt;
  return read_stamp(s);
}

std::vector<RowStamp> RunIndex::stamps_of_name(const std::string& name) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT test_name, name, status, file_mtime FROM runs WHERE name=?1");
  s.bind(1, name);
  std::vector<RowStamp> out;
  while (s.step()) out.push_back(read_stamp(s));
  return out;
}

std::vector<RowStamp> RunIndex::unsettled_stamps() const {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "SELECT test_name, name, status, file_mtime FROM runs WHERE status IN ('running', 'queued', 'pending')");
  std::vector<RowStamp> out;
  while (s.step()) out.push_back(read_stamp(s));
  return out;
}

std::optional<std::string> RunIndex::sync_state() const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT state FROM sync_state WHERE id=1");
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

void RunIndex::set_sync_state(const std::string& state) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "INSERT INTO sync_state(id, state) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET state=excluded.state");
  s.bind(1, state);
  s.step();
}

void RunIndex::remove(const std::string& test_name) {
  std::lock_guard lock(mutex_);
  // The row and its values go together: an id left with values could be taken by the next new row.
  exec("SAVEPOINT codedag_remove");
  try {
    Statement s(db_, "DELETE FROM runs WHERE test_name=?1 RETURNING id");
    s.bind(1, test_name);
    if (s.step()) {
      const long long id = s.integer(0);
      s.reset();
      ValueWriter(db_, key_ids_).clear(id);
    }
    exec("RELEASE codedag_remove");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK TO codedag_remove; RELEASE codedag_remove", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<IndexRow> RunIndex::list(const IndexQuery& q) const {
  std::lock_guard lock(mutex_);
  std::string sql = "SELECT " + kRowColumns + " FROM runs WHERE 1";
  if (!q.name.empty()) sql += " AND name=?1";
  if (!q.status.empty()) sql += " AND status=?2";
  if (!q.sweep.empty()) sql += " AND sweep != '' AND substr(sweep, 1, length(?5)) = ?5";
  if (q.since > 0) sql += " AND started_at>=?3";
  if (q.until > 0) sql += " AND started_at<?4";
  if (q.only_deleted)
    sql += " AND deleted=1";
  else if (!q.include_deleted)
    sql += " AND deleted=0";
  sql += " ORDER BY started_at, test_name";
  Statement s(db_, sql.c_str());
  if (!q.name.empty()) s.bind(1, q.name);
  if (!q.status.empty()) s.bind(2, q.status);
  if (q.since > 0) s.bind(3, q.since);
  if (q.until > 0) s.bind(4, q.until);
  if (!q.sweep.empty()) s.bind(5, q.sweep);
  std::vector<IndexRow> rows;
  while (s.step()) rows.push_back(read_row(s));
  return rows;
}

std::optional<IndexRow> RunIndex::find(const std::string& test_name) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, ("SELECT " + kRowColumns + " FROM runs WHERE test_name=?1").c_str());
  s.bind(1, test_name);
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

std::vector<std::string> RunIndex::match_prefix(const std::string& prefix) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT test_name FROM runs WHERE substr(test_name, 1, length(?1)) = ?1 LIMIT 20");
  s.bind(1, prefix);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

void RunIndex::replace_all(const std::vector<json>& runs) {
  Transaction tx(*this);
  exec("DELETE FROM runs");
  exec("DELETE FROM run_values");
  exec("DELETE FROM sync_state");  // the caller records where its scan stood
  // Ids in start order (a test_name twice in `runs`: the last one wins): the panel orders runs with
  // equal values by id, so after a rebuild that is oldest first, as runs indexed one by one come.
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < runs.size(); ++i) last[runs[i].value("test_name", std::string())] = i;
  std::vector<std::pair<std::pair<double, std::string>, size_t>> order;
  order.reserve(last.size());
  for (const auto& [test_name, i] : last) order.push_back({{runs[i].value("started_at", 0.0), test_name}, i});
  std::sort(order.begin(), order.end());
  Statement row(db_, kUpsertSql);
  ValueWriter values(db_, key_ids_);
  for (const auto& [when, i] : order) {
    const json& run = runs[i];
    const json summary = summarize_run(run);
    const long long id = write_row(row, run, summary, run.value("__file_mtime", 0LL));
    values.write(id, summary);
  }
  tx.commit();
}

namespace {
std::mutex g_shared_mutex;
std::map<std::string, std::weak_ptr<RunIndex>>& shared_indexes() {
  static std::map<std::string, std::weak_ptr<RunIndex>> m;
  return m;
}
}  // namespace

std::shared_ptr<RunIndex> open_shared_index(const IndexPlacement& placement) {
  if (placement.path == ":memory:") return std::make_shared<RunIndex>(placement);
  std::lock_guard lock(g_shared_mutex);
  auto& slot = shared_indexes()[placement.path];
  if (auto existing = slot.lock()) {
    if (existing->owner_pid() == ::getpid()) return existing;
    // Inherited through fork(): SQLite connections must not cross it, and closing it here could
    // disturb the parent's locks. It is kept (never used, never closed) and the child opens its own.
    static std::vector<std::shared_ptr<RunIndex>> inherited;
    inherited.push_back(std::move(existing));
  }
  auto created = std::make_shared<RunIndex>(placement);
  slot = created;
  return created;
}

void forget_shared_index(const std::string& path) {
  std::lock_guard lock(g_shared_mutex);
  shared_indexes().erase(path);
}

}  // namespace codedag::store
