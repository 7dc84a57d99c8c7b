#include "codedag/store/change_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string_view>
#include <thread>

#include "codedag/common/error.hpp"

namespace codedag::store {
namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// One line (without its '\n') as a run id, or nullopt: the journal is written by any process that
// can write the home, so a line is trusted no more than a directory name.
std::optional<RunId> parse_line(std::string_view line) {
  if (line.empty() || line.size() > kMaxJournalLine) return std::nullopt;
  const size_t slash = line.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view name = line.substr(0, slash), test_name = line.substr(slash + 1);
  if (!looks_like_test_name(test_name)) return std::nullopt;
  try {
    validate_experiment_name(name);
  } catch (const InputError&) {
    return std::nullopt;
  }
  return RunId{std::string(name), std::string(test_name)};
}

void read_all(int fd, long long from, std::string& out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(from + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // shorter than fstat said (truncated meanwhile): the complete lines read count
    done += static_cast<size_t>(n);
  }
  out.resize(done);
}

// Splits `text` (read at `base`) into lines; `r.end.offset` ends after the last complete one.
void take_lines(const std::string& text, long long base, JournalRead& r) {
  size_t start = 0;
  while (true) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;
    if (auto id = parse_line(std::string_view(text).substr(start, nl - start)))
      r.runs.push_back(std::move(*id));
    else
      ++r.garbage;
    start = nl + 1;
  }
  r.end.offset = base + static_cast<long long>(start);
}

constexpr std::string_view kHeader = "#codedag-changes ";

// The token of the header line of an open journal, "" when it has none.
std::string header_token(int fd) {
  std::string head(64, '\0');
  read_all(fd, 0, head);
  const size_t nl = head.find('\n');
  if (nl == std::string::npos || head.compare(0, kHeader.size(), kHeader) != 0) return "";
  std::string token = head.substr(kHeader.size(), nl - kHeader.size());
  for (char c : token)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
  return token.size() == 32 ? token : "";
}

std::string new_token() {
  unsigned char bytes[16] = {};
  bool ok = false;
  if (const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC); fd >= 0) {
    ok = ::read(fd, bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes);
    ::close(fd);
  }
  if (!ok) {  // still unique enough to tell two journals apart: time and process
    const auto t = std::chrono::system_clock::now().time_since_epoch().count();
    for (size_t i = 0; i < sizeof bytes; ++i)
      bytes[i] = static_cast<unsigned char>((static_cast<unsigned long long>(t) >> (8 * (i % 8))) ^ (::getpid() >> i));
  }
  static const char* const hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

// A new journal holding only its header, put in place by rename (`replace`) or link (never
// replacing). Returns false when it could not be made (read-only home).
bool install_journal(const std::string& path, bool replace) {
  const std::string tmp = path + ".new." + std::to_string(::getpid()) + "." + new_token().substr(0, 8);
  const std::string header = std::string(kHeader) + new_token() + "\n";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666));
    if (fd.fd < 0) return false;
    if (::write(fd.fd, header.data(), header.size()) != static_cast<ssize_t>(header.size())) {
      ::unlink(tmp.c_str());
      return false;
    }
  }
  const bool ok = replace ? ::rename(tmp.c_str(), path.c_str()) == 0 : ::link(tmp.c_str(), path.c_str()) == 0;
  ::unlink(tmp.c_str());
  return ok || (!replace && errno == EEXIST);  // another reader made one first: theirs is as good
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// A writer that cannot append makes every reader fall back to the full sync: the journal is removed.
void give_up(const std::string& path) { ::unlink(path.c_str()); }

}  // namespace

std::string change_journal_path(const std::string& home) { return home + "/" + kChangeJournalFile; }

const char* journal_status_name(JournalRead::Status s) {
  switch (s) {
    case JournalRead::Status::ok:
      return "ok";
    case JournalRead::Status::missing:
      return "journal missing";
    case JournalRead::Status::replaced:
      return "journal replaced";
    case JournalRead::Status::truncated:
      return "journal truncated";
    case JournalRead::Status::too_large:
      return "journal too far ahead";
    case JournalRead::Status::unreadable:
      return "journal unreadable";
  }
  return "?";
}

void journal_run_change(const std::string& info_dir) {
  // <home>/info/<name>/<test_name>: anything else is not a run of a store.
  std::string_view dir(info_dir);
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  const size_t s1 = dir.rfind('/');
  if (s1 == std::string_view::npos || s1 == 0) return;
  const size_t s2 = dir.rfind('/', s1 - 1);
  if (s2 == std::string_view::npos || s2 == 0) return;
  const size_t s3 = dir.rfind('/', s2 - 1);
  if (s3 == std::string_view::npos || dir.substr(s3 + 1, s2 - s3 - 1) != "info") return;
  std::string line(dir.substr(s2 + 1));
  if (!parse_line(line)) return;
  line += '\n';
  const std::string path = change_journal_path(std::string(dir.substr(0, s3)));
  for (int attempt = 0; attempt < 8; ++attempt) {
    // O_RDWR: on NFS a shared flock is a read lock, which needs a readable descriptor.
    Fd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
    if (fd.fd < 0) {
      // No journal: readers do full syncs until one creates it (a writer's journal would have no
      // header, and a journal created after a reader's full sync began could hide nothing anyway).
      if (errno != ENOENT) give_up(path);
      return;
    }
    // Shared: writers append side by side; the reader that rotates the journal takes it exclusively.
    while (::flock(fd.fd, LOCK_SH) != 0 && errno == EINTR) {
    }
    struct stat open_st {
    }, path_st{};
    if (::fstat(fd.fd, &open_st) != 0) break;
    if (::lstat(path.c_str(), &path_st) != 0 || !same_file(open_st, path_st)) continue;  // rotated: reopen
    ssize_t n;
    do {
      n = ::write(fd.fd, line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(line.size())) return;
    break;  // a torn or failed line (full disk): readers must not trust this journal
  }
  give_up(path);
}

JournalRead read_journal(const std::string& home, const JournalPosition& from) {
  JournalRead r;
  r.end = from;
  const std::string path = change_journal_path(home);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.fd < 0) {
    r.status = errno == ENOENT ? JournalRead::Status::missing : JournalRead::Status::unreadable;
    return r;
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    r.status = JournalRead::Status::unreadable;
    return r;
  }
  if (st.st_dev != from.dev || st.st_ino != from.ino || from.token.empty() || header_token(fd.fd) != from.token) {
    r.status = JournalRead::Status::replaced;
    return r;
  }
  if (st.st_size < from.offset) {
    r.status = JournalRead::Status::truncated;
    return r;
  }
  if (st.st_size - from.offset > kJournalMaxReadBytes) {
    r.status = JournalRead::Status::too_large;
    return r;
  }
  std::string text(static_cast<size_t>(st.st_size - from.offset), '\0');
  read_all(fd.fd, from.offset, text);
  take_lines(text, from.offset, r);
  return r;
}

std::optional<JournalPosition> journal_end(const std::string& home) {
  const std::string path = change_journal_path(home);
  for (int attempt = 0; attempt < 3; ++attempt) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.fd < 0) {
      if (errno != ENOENT || !install_journal(path, false)) return std::nullopt;
      continue;
    }
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0) return std::nullopt;
    std::string token = S_ISREG(st.st_mode) ? header_token(fd.fd) : "";
    if (token.empty()) {
      // Not a journal this code wrote (a foreign or damaged file): replaced by a new one. A full
      // sync is starting, so the lines it may hold are not needed.
      if (!install_journal(path, true)) return std::nullopt;
      continue;
    }
    JournalPosition p{static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino),
                      std::move(token), static_cast<long long>(st.st_size)};
    // After the last complete line: a line being appended right now is read next time.
    const long long tail = std::min<long long>(p.offset, 4096);
    std::string text(static_cast<size_t>(tail), '\0');
    read_all(fd.fd, p.offset - tail, text);
    const size_t nl = text.rfind('\n');
    if (nl != std::string::npos)
      p.offset = p.offset - static_cast<long long>(text.size()) + static_cast<long long>(nl) + 1;
    return p;
  }
  return std::nullopt;
}

std::optional<JournalPosition> rotate_journal(const std::string& home, const JournalPosition& from,
                                              JournalRead& pending) {
  const std::string path = change_journal_path(home);
  Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (fd.fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0 || st.st_dev != from.dev || st.st_ino != from.ino || st.st_size < kJournalRotateBytes)
    return std::nullopt;
  // Bounded wait: a writer holds its shared lock for one write; one stuck for longer delays the
  // rotation to a later listing, never the listing.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (::flock(fd.fd, LOCK_EX | LOCK_NB) != 0) {
    if ((errno != EWOULDBLOCK && errno != EINTR) || std::chrono::steady_clock::now() > until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (::fstat(fd.fd, &st) != 0 || st.st_size < from.offset) return std::nullopt;
  std::string text(static_cast<size_t>(st.st_size - from.offset), '\0');
  read_all(fd.fd, from.offset, text);
  take_lines(text, from.offset, pending);
  // The old journal is kept for a look by hand; the new one replaces it in one rename, so a writer
  // always finds a journal (one waiting on the old file's lock finds it replaced and reopens).
  const std::string old = path + ".old";
  ::unlink(old.c_str());
  if (::link(path.c_str(), old.c_str()) != 0 && errno != EEXIST) return std::nullopt;
  if (!install_journal(path, true)) return std::nullopt;
  Fd fresh(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat nst {};
  if (fresh.fd < 0 || ::fstat(fresh.fd, &nst) != 0) return std::nullopt;  // next sync: missing -> full
  std::string token = header_token(fresh.fd);
  if (token.empty()) return std::nullopt;
  return JournalPosition{static_cast<unsigned long long>(nst.st_dev), static_cast<unsigned long long>(nst.st_ino),
                         token, static_cast<long long>(kHeader.size() + token.size() + 1)};
}

}  // namespace codedag::store
