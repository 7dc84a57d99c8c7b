#include "codedag/store/run_index.hpp"

#include <sqlite3.h>
#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <thread>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/listing_columns.hpp"

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
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kIndexSchemaVersion);

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw Error(std::string("index: cannot prepare statement: ") + sqlite3_errmsg(db));
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
    throw Error(std::string("index: ") + sqlite3_errmsg(db_) + " (rebuild it with `codedag index rebuild`)");
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

std::string random_suffix() {
  static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  unsigned char bytes[3];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) {
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count() ^ ::getpid();
    for (int i = 0; i < 3; ++i) bytes[i] = static_cast<unsigned char>(t >> (8 * i));
  }
  std::string s;
  for (unsigned char b : bytes) s += alphabet[b % 36];
  return s;
}

std::string format_test_name(const std::string& day, long long number, const std::string& suffix) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%03lld", number);
  return day + "." + buf + "." + suffix;
}

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

void bind_row(Statement& s, const json& run, long long mtime = 0) {
  const json summary = summarize_run(run);
  s.bind(1, run.value("test_name", std::string()))
      .bind(2, run.value("name", std::string()))
      .bind(3, run.value("status", std::string("running")))
      .bind(4, run.value("started_at", 0.0))
      .bind(5, run.value("ended_at", 0.0))
      .bind(6, static_cast<long long>(run.value("deleted", false) ? 1 : 0))
      .bind(7, run.value("host", std::string()))
      .bind(8, summary.dump(-1, ' ', false, json::error_handler_t::replace))
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

const char* kUpsertSql =
    "INSERT INTO runs(test_name, name, status, started_at, ended_at, deleted, host, summary, file_mtime, "
    "duration, tags, metric_values, sweep) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
    "ON CONFLICT(test_name) DO UPDATE SET name=?2, status=?3, started_at=?4, ended_at=?5, deleted=?6, host=?7, "
    "summary=?8, file_mtime=?9, duration=?10, tags=?11, metric_values=?12, sweep=?13";

long long number_of(const std::string& test_name) {
  const size_t a = test_name.find('.');
  const size_t b = test_name.find('.', a + 1);
  if (a == std::string::npos || b == std::string::npos) return 0;
  return std::atoll(test_name.substr(a + 1, b - a - 1).c_str());
}

}  // namespace

std::string day_stamp(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%y%m%d", &tm);
  return buf;
}

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

RunIndex::RunIndex(const Layout& layout) : path_(layout.index_path()) {
  make_directories(layout.home());
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw SystemCallError("cannot open the run index '" + path_ + "': " + msg);
  }
  // Many processes start runs at once: wait for the lock rather than fail.
  sqlite3_busy_timeout(db_, 60000);
  // Switching to WAL needs a brief exclusive lock; under a start-up stampede it can report BUSY
  // without calling the busy handler, so retry.
  for (int attempt = 0;; ++attempt) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc == SQLITE_OK) break;
    if (attempt > 2000) throw Error("cannot switch the run index '" + path_ + "' to WAL mode: " + sqlite3_errmsg(db_));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  exec("PRAGMA synchronous=NORMAL");
  migrate();
}

RunIndex::~RunIndex() { sqlite3_close(db_); }

void RunIndex::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw Error("run index '" + path_ + "': " + msg +
                " (if the file is damaged, delete it and run `codedag index rebuild`)");
  }
}

int RunIndex::schema_version() const {
  Statement s(db_, "PRAGMA user_version");
  return s.step() ? static_cast<int>(s.integer(0)) : 0;
}

void RunIndex::migrate() {
  if (schema_version() == kIndexSchemaVersion) return;
  exec("BEGIN IMMEDIATE");
  try {
    const int from = schema_version();  // re-read under the lock: another process may have migrated
    if (from > kIndexSchemaVersion)
      throw StateError("run index '" + path_ + "' has schema " + std::to_string(from) + ", newer than this codedag (" +
                       std::to_string(kIndexSchemaVersion) + "): upgrade codedag");
    for (int v = from; v < kIndexSchemaVersion; ++v) exec(kMigrations[v]);
    if (from < 3) backfill_listing_columns();
    if (from < 4) backfill_sweep_column();
    exec(("PRAGMA user_version=" + std::to_string(kIndexSchemaVersion)).c_str());
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
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
    const json summary = json::parse(text, nullptr, false);
    if (summary.is_discarded() || !summary.is_object()) continue;  // listing warns about it
    u.reset();
    bind_listing(u, 1, summary);
    u.bind(4, test_name);
    u.step();
  }
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

std::string RunIndex::allocate(const std::string& name, double now,
                               const std::function<bool(const std::string&)>& claim) {
  const std::string day = day_stamp(now);
  exec("BEGIN IMMEDIATE");
  try {
    long long number = 1;
    {
      Statement s(db_, "SELECT next FROM day_counters WHERE name=?1 AND day=?2");
      s.bind(1, name).bind(2, day);
      if (s.step()) number = s.integer(0);
    }
    Statement known(db_, "SELECT 1 FROM runs WHERE test_name=?1");
    std::string test_name;
    for (int attempts = 0;; ++attempts) {
      if (attempts > 100000) throw Error("cannot allocate a run id for '" + name + "': every candidate is taken");
      test_name = format_test_name(day, number, random_suffix());
      known.reset();
      known.bind(1, test_name);
      if (known.step()) continue;  // the same id under another experiment name: draw again
      if (claim(test_name)) break;
      ++number;
    }
    Statement counter(db_,
                      "INSERT INTO day_counters(name, day, next) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT(name, day) DO UPDATE SET next=?3");
    counter.bind(1, name).bind(2, day).bind(3, number + 1);
    counter.step();
    Statement row(db_, kUpsertSql);
    bind_row(row, json{{"test_name", test_name}, {"name", name}, {"status", "running"}, {"started_at", now}});
    row.step();
    exec("COMMIT");
    return test_name;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void RunIndex::upsert(const json& run, long long file_mtime_ns) {
  Statement s(db_, kUpsertSql);
  bind_row(s, run, file_mtime_ns);
  s.step();
}

std::map<std::string, std::pair<std::string, long long>> RunIndex::stamps() const {
  Statement s(db_, "SELECT test_name, name, file_mtime FROM runs");
  std::map<std::string, std::pair<std::string, long long>> out;
  while (s.step()) out.emplace(s.text(0), std::make_pair(s.text(1), s.integer(2)));
  return out;
}

void RunIndex::begin() { exec("BEGIN IMMEDIATE"); }
void RunIndex::commit() { exec("COMMIT"); }
void RunIndex::rollback() noexcept { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

void RunIndex::remove(const std::string& test_name) {
  Statement s(db_, "DELETE FROM runs WHERE test_name=?1");
  s.bind(1, test_name);
  s.step();
}

std::vector<IndexRow> RunIndex::list(const IndexQuery& q) const {
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
  Statement s(db_, ("SELECT " + kRowColumns + " FROM runs WHERE test_name=?1").c_str());
  s.bind(1, test_name);
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

std::vector<std::string> RunIndex::match_prefix(const std::string& prefix) const {
  Statement s(db_, "SELECT test_name FROM runs WHERE substr(test_name, 1, length(?1)) = ?1 LIMIT 20");
  s.bind(1, prefix);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

void RunIndex::replace_all(const std::vector<json>& runs) {
  exec("BEGIN IMMEDIATE");
  try {
    exec("DELETE FROM runs");
    Statement row(db_, kUpsertSql);
    // Counters continue after the highest number seen, so new ids never reuse an old one.
    std::map<std::pair<std::string, std::string>, long long> next;
    for (const json& run : runs) {
      row.reset();
      bind_row(row, run, run.value("__file_mtime", 0LL));
      row.step();
      const std::string tn = run.value("test_name", std::string());
      auto& n = next[{run.value("name", std::string()), tn.substr(0, 6)}];
      n = std::max(n, number_of(tn) + 1);
    }
    Statement counter(db_,
                      "INSERT INTO day_counters(name, day, next) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT(name, day) DO UPDATE SET next=max(next, ?3)");
    for (const auto& [key, n] : next) {
      counter.reset();
      counter.bind(1, key.first).bind(2, key.second).bind(3, n);
      counter.step();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace codedag::store
