#include "codedag/store/sqlite_query.hpp"

#include "codedag/common/error.hpp"

namespace codedag::store {

SqlReader::SqlReader(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw SystemCallError("cannot open the run index '" + path + "' for reading: " + msg);
  }
  // Writers (runs starting and ending) hold the lock for milliseconds: wait rather than fail, but
  // never long enough to hang a page.
  sqlite3_busy_timeout(db_, 5000);
  // Queries over 100k runs read the value index repeatedly: a 64 MiB page cache keeps it in memory.
  sqlite3_exec(db_, "PRAGMA cache_size=-65536", nullptr, nullptr, nullptr);
}

SqlReader::~SqlReader() { sqlite3_close(db_); }

long long SqlReader::data_version() {
  SqlRows r(*this, "PRAGMA data_version");
  return r.next() ? r.int64(0) : 0;
}

SqlRows::SqlRows(const SqlReader& reader, const std::string& sql, const std::vector<SqlValue>& params)
    : reader_(reader) {
  if (sqlite3_prepare_v2(reader.db(), sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
    throw Error("run index '" + reader.path() + "': cannot prepare a query: " + sqlite3_errmsg(reader.db()) +
                " (an index older than this codedag? run `codedag index rebuild`)");
  for (size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i) + 1;
    const SqlValue& v = params[i];
    if (const auto* n = std::get_if<long long>(&v))
      sqlite3_bind_int64(stmt_, at, *n);
    else if (const auto* d = std::get_if<double>(&v))
      sqlite3_bind_double(stmt_, at, *d);
    else if (const auto* s = std::get_if<std::string>(&v))
      sqlite3_bind_text(stmt_, at, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(stmt_, at);
  }
}

SqlRows::~SqlRows() { sqlite3_finalize(stmt_); }

bool SqlRows::next() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw Error("run index '" + reader_.path() + "': " + sqlite3_errmsg(reader_.db()));
}

std::string SqlRows::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

}  // namespace codedag::store
