#include "codedag/monitor/proc_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace codedag::monitor {

namespace {
// /proc/stat on a 256-CPU host is ~40 KiB; nothing we read is larger than this.
constexpr size_t kMaxFileBytes = 4 << 20;
}  // namespace

ProcFile::ProcFile(ProcFile&& other) noexcept
    : path_(std::move(other.path_)), buffer_(std::move(other.buffer_)), fd_(other.fd_), ok_(other.ok_) {
  other.fd_ = -1;
}

ProcFile& ProcFile::operator=(ProcFile&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
    fd_ = other.fd_;
    ok_ = other.ok_;
    other.fd_ = -1;
  }
  return *this;
}

ProcFile::~ProcFile() { close(); }

void ProcFile::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool ProcFile::open_() {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  return fd_ >= 0;
}

std::string_view ProcFile::read() {
  ok_ = false;
  if (buffer_.empty()) buffer_.resize(4096);
  // Two attempts: a descriptor of an exited process reads ESRCH; reopening tells whether a new
  // one stands at the same path (a pid is reused only much later, and then it is a new process).
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (fd_ < 0 && !open_()) return {};
    size_t used = 0;
    for (;;) {
      const ssize_t n = ::pread(fd_, buffer_.data() + used, buffer_.size() - used, static_cast<off_t>(used));
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      used += static_cast<size_t>(n);
      if (n == 0 || used < buffer_.size()) {
        ok_ = true;
        return std::string_view(buffer_.data(), used);
      }
      if (buffer_.size() >= kMaxFileBytes) {
        ok_ = true;
        return std::string_view(buffer_.data(), used);
      }
      // The file did not fit: grow and read it again from the start so the content is one
      // consistent snapshot (seq_file regenerates it per read at offset 0).
      buffer_.resize(buffer_.size() * 2);
      used = 0;
    }
    close();
  }
  return {};
}

std::string read_small_file(const std::string& path) {
  ProcFile f(path);
  return std::string(f.read());
}

bool parse_u64(std::string_view text, unsigned long long& out) {
  size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  const auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), out);
  return ec == std::errc() && ptr != text.data() + i;
}

bool parse_i64(std::string_view text, long long& out) {
  size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  const auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), out);
  return ec == std::errc() && ptr != text.data() + i;
}

namespace {
bool find_at_line_start(std::string_view text, std::string_view key, char separator, unsigned long long& out) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = text.find('\n', pos);
    const std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == separator)
      return parse_u64(line.substr(key.size() + 1), out);
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return false;
}
}  // namespace

bool find_keyed_number(std::string_view text, std::string_view key, unsigned long long& out) {
  return find_at_line_start(text, key, ':', out);
}

bool find_spaced_number(std::string_view text, std::string_view key, unsigned long long& out) {
  return find_at_line_start(text, key, ' ', out);
}

std::string_view first_line(std::string_view text) {
  const size_t eol = text.find('\n');
  return eol == std::string_view::npos ? text : text.substr(0, eol);
}

int count_cpu_list(std::string_view list) {
  while (!list.empty() && (list.back() == '\n' || list.back() == ' ')) list.remove_suffix(1);
  if (list.empty()) return 0;
  int count = 0;
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = list.find(',', pos);
    const std::string_view item =
        list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    const size_t dash = item.find('-');
    unsigned long long a = 0, b = 0;
    if (dash == std::string_view::npos) {
      if (!parse_u64(item, a)) return 0;
      ++count;
    } else {
      if (!parse_u64(item.substr(0, dash), a) || !parse_u64(item.substr(dash + 1), b) || b < a) return 0;
      count += static_cast<int>(b - a + 1);
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return count;
}

}  // namespace codedag::monitor
