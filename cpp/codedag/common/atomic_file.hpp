#pragma once
// Whole-file writes that a crash cannot tear: the bytes go to a temporary file in the same
// directory, are fsync'ed, and replace the target with rename(2). A reader sees the old file or
// the new one, never a prefix.
#include <string>
#include <string_view>

namespace codedag {

// Writes `content` to `path` atomically; creates missing parent directories.
void write_file_atomic(const std::string& path, std::string_view content);

// A file written in pieces that appears whole or not at all: bytes go to a temporary file next to
// `path`; commit() fsyncs and renames it over `path`; destroying it uncommitted removes the temporary.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(std::string_view bytes);
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string tmp_;
  int fd_ = -1;
};

// Reads a whole file; throws NotFoundError when it does not exist, SystemCallError on other failures.
std::string read_file(const std::string& path);

// Creates `path` and its parents (like mkdir -p); no error when it exists as a directory.
void make_directories(const std::string& path);

}  // namespace codedag
