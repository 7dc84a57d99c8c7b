#pragma once
// Helpers of the store tests: a fresh store directory per test, start options without a terminal
// argv, and small file helpers. Real file systems, real SQLite, real git.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "codedag/store/experiment.hpp"

namespace codedag::store {

inline std::string fresh_home(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("codedag_store_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline StartOptions quiet() {
  StartOptions o;
  o.argv = {"python", "train.py", "--lr=0.1"};
  o.executable = "/usr/bin/python3";
  o.heartbeat = false;
  return o;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs a shell command (tests only: git set-up); returns its exit status.
inline int sh(const std::string& command) { return std::system(command.c_str()); }

}  // namespace codedag::store

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <functional>

namespace codedag::store {

// Runs `body` in a child process with a private mount namespace (so mounts it makes vanish with
// it). Returns the child's exit status, or -1 when this machine does not allow it (not root and no
// user namespaces): the caller skips with that reason.
inline int in_private_mounts(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(125);
    int rc = 1;
    try {
      rc = body();
    } catch (...) {
      rc = 2;
    }
    ::_exit(rc);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (!WIFEXITED(st)) return 3;
  return WEXITSTATUS(st) == 125 ? -1 : WEXITSTATUS(st);
}

// Remounts `dir` read-only (inside in_private_mounts).
inline bool make_read_only(const std::string& dir) {
  return ::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) == 0 &&
         ::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0;
}

inline int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

inline int thread_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

}  // namespace codedag::store
