#include "codedag/runner/sweep_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/run_ids.hpp"
#include "codedag/store/run_index.hpp"

namespace codedag::runner {
namespace fs = std::filesystem;

namespace {

// A manifest of kMaxCells cells with long command lines stays far below this; anything larger is
// not a manifest we wrote.
constexpr uintmax_t kMaxManifestBytes = 256u << 20;
constexpr uintmax_t kMaxJournalBytes = 64u << 20;

bool looks_like_sweep_id(const std::string& s) {
  // sw<6 digits>.<3+ digits>.<3 alphanumerics>
  if (s.size() < 15 || s.rfind("sw", 0) != 0) return false;
  for (const char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.')) return false;
  return s[8] == '.';
}

std::string random_part() {
  static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  unsigned char bytes[3] = {};
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    const unsigned long t =
        static_cast<unsigned long>(::getpid()) * 2654435761u ^ static_cast<unsigned long>(time(nullptr));
    for (int i = 0; i < 3; ++i) bytes[i] = static_cast<unsigned char>(t >> (8 * i));
  }
  std::string s;
  for (const unsigned char b : bytes) s += alphabet[b % 36];
  return s;
}

}  // namespace

std::string sweeps_root(const std::string& home) { return home + "/sweeps"; }

SweepDir::SweepDir(std::string home, std::string id) : id_(std::move(id)), path_(sweeps_root(home) + "/" + id_) {}

std::string SweepDir::log_path(int cell, const std::string& run) const {
  return logs_dir() + "/" + std::to_string(cell) + "-" + run + ".log";
}

Manifest SweepDir::load_manifest() const {
  const std::string path = manifest_path();
  json j;
  try {
    j = load_json_file(path, JsonLimits{16, kMaxManifestBytes});
  } catch (const NotFoundError&) {
    throw NotFoundError("sweep " + id_ + " has no manifest (" + path + "): was it created by a codedag that crashed?");
  }
  Manifest m = Manifest::from_json(j, path);
  if (m.id != id_) throw FormatError(path + ": \"id\" is '" + m.id + "' but the directory is " + id_);
  return m;
}

std::string create_sweep_dir(const std::string& home, double now) {
  const std::string root = sweeps_root(home);
  make_directories(root);
  const std::string day = store::day_stamp(now);
  // The day's next number: one more than the highest on disk (a scan; sweeps are few).
  long next = 1;
  for (const std::string& id : list_sweep_ids(home))
    if (id.compare(2, 6, day) == 0) next = std::max(next, std::atol(id.substr(9, id.find('.', 9) - 9).c_str()) + 1);
  for (int attempt = 0; attempt < 10000; ++attempt, ++next) {
    char number[16];
    std::snprintf(number, sizeof number, "%03ld", next);
    const std::string id = "sw" + day + "." + number + "." + random_part();
    if (::mkdir((root + "/" + id).c_str(), 0755) == 0) {
      make_directories(root + "/" + id + "/logs");
      return id;
    }
    if (errno != EEXIST) throw_system_error("cannot create the sweep directory", root + "/" + id);
  }
  throw Error("cannot allocate a sweep id under " + root + ": every candidate is taken");
}

std::vector<std::string> list_sweep_ids(const std::string& home) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(sweeps_root(home), ec)) {
    const std::string id = e.path().filename().string();
    if (looks_like_sweep_id(id) && e.is_directory(ec)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    // Day, then number as a number (sw260306.1000 after sw260306.999).
    const std::string da = a.substr(2, 6), db = b.substr(2, 6);
    if (da != db) return da < db;
    const long na = std::atol(a.c_str() + 9), nb = std::atol(b.c_str() + 9);
    return na != nb ? na < nb : a < b;
  });
  return ids;
}

SweepDir resolve_sweep(const std::string& home, const std::string& id) {
  if (id.empty() || id.find('/') != std::string::npos || id.find("..") != std::string::npos)
    throw InputError("'" + id + "' is not a sweep id (they look like sw260306.001.k3x; see `codedag sweep ls`)");
  const std::vector<std::string> ids = list_sweep_ids(home);
  std::vector<std::string> matches;
  for (const auto& s : ids) {
    if (s == id) return SweepDir(home, s);
    if (s.rfind(id, 0) == 0) matches.push_back(s);
  }
  if (matches.size() == 1) return SweepDir(home, matches[0]);
  if (matches.size() > 1) {
    std::string list;
    for (size_t i = 0; i < matches.size() && i < 10; ++i) list += " " + matches[i];
    throw InputError("sweep id '" + id + "' is ambiguous; it matches:" + list);
  }
  throw NotFoundError("no sweep '" + id + "' under " + sweeps_root(home) +
                      " (list them with `codedag sweep ls`; another store is chosen with CODEDAG_HOME)");
}

void append_attempt(const SweepDir& dir, const AttemptEntry& e) {
  const std::string line =
      dump_json(json{{"cell", e.cell}, {"attempt", e.attempt}, {"run", e.run}, {"name", e.name}, {"at", e.at}}) + "\n";
  const std::string path = dir.attempts_path();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw_system_error("cannot open the sweep journal", path);
  const ssize_t w = ::write(fd, line.data(), line.size());
  const int saved = errno;
  if (w == static_cast<ssize_t>(line.size())) ::fsync(fd);
  ::close(fd);
  if (w != static_cast<ssize_t>(line.size())) {
    errno = w < 0 ? saved : ENOSPC;
    throw_system_error("cannot append to the sweep journal", path);
  }
}

std::vector<AttemptEntry> read_attempts(const SweepDir& dir, size_t cell_count, std::vector<std::string>* warnings) {
  std::vector<AttemptEntry> out;
  const std::string path = dir.attempts_path();
  std::string text;
  try {
    text = read_bounded_file(path, kMaxJournalBytes);
  } catch (const NotFoundError&) {
    return out;  // no attempt yet
  }
  const JsonLimits line_limits{8, 64 * 1024};
  size_t number = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    const std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++number;
    if (line.empty()) continue;
    const json j = try_parse_json(line, line_limits).value_or(json());
    AttemptEntry e;
    const bool ok = j.is_object() && j.contains("cell") && j["cell"].is_number_integer() && j.contains("attempt") &&
                    j["attempt"].is_number_integer() && j.contains("run") && j["run"].is_string() &&
                    j.contains("name") && j["name"].is_string();
    bool valid = ok;
    if (ok) {
      const long long cell = j["cell"].get<long long>(), attempt = j["attempt"].get<long long>();
      valid = cell >= 0 && static_cast<unsigned long long>(cell) < cell_count && attempt >= 1 && attempt <= 1000000;
      e.cell = static_cast<int>(cell);
      e.attempt = static_cast<int>(attempt);
      e.run = j["run"].get<std::string>();
      e.name = j["name"].get<std::string>();
      e.at = j.contains("at") && j["at"].is_number() ? j["at"].get<double>() : 0.0;
      // Both become path components of the run's directory: nothing that could leave the store.
      try {
        store::validate_experiment_name(e.name);
      } catch (const InputError&) {
        valid = false;
      }
      valid = valid && store::looks_like_test_name(e.run) && e.run.find('/') == std::string::npos;
    }
    if (!valid) {
      if (warnings) warnings->push_back(path + ":" + std::to_string(number) + ": not an attempt record, skipped");
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

SweepLock::SweepLock(const SweepDir& dir) {
  const std::string path = dir.path() + "/lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_system_error("cannot open the sweep lock", path);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    ::close(fd_);
    fd_ = -1;
    throw StateError(
        "sweep " + dir.id() + " is being run by another process" +
        (n > 0 ? std::string(" (pid ") + std::string(buf, strnlen(buf, sizeof buf)) + ")" : std::string()) +
        "; wait for it, or stop it, before running or resuming the sweep again");
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // Only informative: the lock is the flock, not the pid.
  }
}

SweepLock::~SweepLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace codedag::runner
