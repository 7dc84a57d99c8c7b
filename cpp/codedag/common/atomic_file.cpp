#include "codedag/common/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "codedag/common/error.hpp"

namespace codedag {
namespace {

// A name no other writer (thread or process) in the same directory will choose.
std::string temporary_name_for(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

void write_all(int fd, std::string_view content, const std::string& path) {
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_system_error("cannot write", path);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// fsync on the directory makes the rename itself durable.
void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void make_directories(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec && !std::filesystem::is_directory(path))
    throw SystemCallError("cannot create directory '" + path + "': " + ec.message());
}

void write_file_atomic(const std::string& path, std::string_view content) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  make_directories(dir);
  const std::string tmp = temporary_name_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_system_error("cannot create temporary file", tmp);
  try {
    write_all(fd, content, tmp);
    if (::fsync(fd) != 0) throw_system_error("cannot flush", tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    errno = err;
    throw_system_error("cannot replace", path);
  }
  sync_directory(dir);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  make_directories(std::filesystem::path(path_).parent_path().string());
  tmp_ = temporary_name_for(path_);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_system_error("cannot create temporary file", tmp_);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::write(std::string_view bytes) { write_all(fd_, bytes, tmp_); }

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw_system_error("cannot flush", tmp_);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    errno = err;
    throw_system_error("cannot replace", path_);
  }
  sync_directory(std::filesystem::path(path_).parent_path().string());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) throw NotFoundError("no such file '" + path + "'");
    throw_system_error("cannot open", path);
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw_system_error("cannot read", path);
  return out.str();
}

}  // namespace codedag
