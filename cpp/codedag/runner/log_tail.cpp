#include "codedag/runner/log_tail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace codedag::runner {

std::string collapse_redraws(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    const bool has_nl = nl != std::string_view::npos;
    if (!has_nl) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (const size_t cr = line.rfind('\r'); cr != std::string_view::npos) line = line.substr(cr + 1);
    out.append(line);
    if (has_nl) out += '\n';
    pos = nl + 1;
  }
  return out;
}

std::string read_log_tail(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  struct stat st {};
  std::string data;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    const off_t size = st.st_size;
    const off_t start = size > static_cast<off_t>(max_bytes) ? size - static_cast<off_t>(max_bytes) : 0;
    data.resize(static_cast<size_t>(size - start));
    size_t got = 0;
    while (got < data.size()) {
      const ssize_t r = ::pread(fd, data.data() + got, data.size() - got, start + static_cast<off_t>(got));
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    data.resize(got);
    if (start > 0) {  // drop the partial first line
      const size_t nl = data.find('\n');
      if (nl != std::string::npos && nl + 1 < data.size()) data.erase(0, nl + 1);
    }
  }
  ::close(fd);
  return collapse_redraws(data);
}

std::string last_visible_line(std::string_view text) {
  const std::string collapsed = collapse_redraws(text);
  size_t end = collapsed.size();
  while (end > 0) {
    const size_t start = collapsed.rfind('\n', end - 1);
    const size_t from = start == std::string::npos ? 0 : start + 1;
    const std::string_view line(collapsed.data() + from, end - from);
    if (line.find_first_not_of(" \t\n") != std::string_view::npos) return std::string(line);
    if (start == std::string::npos) break;
    end = start;
  }
  return {};
}

}  // namespace codedag::runner
