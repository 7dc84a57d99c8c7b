#pragma once
// A read connection to a store's index for queries that build their SQL at run time (the panel's
// run table), with a prepared-statement helper whose parameters are bound by position. Values are
// always bound, never spliced into the SQL text.
#include <sqlite3.h>

#include <string>
#include <variant>
#include <vector>

namespace codedag::store {

using SqlValue = std::variant<std::monostate, long long, double, std::string>;

class SqlReader {
 public:
  // Opens `path` read-only (the index must exist and be migrated: open the Store's RunIndex first).
  explicit SqlReader(const std::string& path);
  ~SqlReader();
  SqlReader(const SqlReader&) = delete;
  SqlReader& operator=(const SqlReader&) = delete;

  // PRAGMA data_version: changes whenever another connection commits to the index.
  long long data_version();
  sqlite3* db() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// One statement; `bind_all` binds ?1.. in order, `next()` steps (true: a row is there).
class SqlRows {
 public:
  SqlRows(const SqlReader& reader, const std::string& sql, const std::vector<SqlValue>& params = {});
  ~SqlRows();
  SqlRows(const SqlRows&) = delete;
  SqlRows& operator=(const SqlRows&) = delete;

  bool next();
  bool null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  long long int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const;

 private:
  const SqlReader& reader_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace codedag::store
