#pragma once
// Helpers shared by the monitor tests: a child process that burns CPU, and counts of this
// process's open descriptors and threads (for the leak tests).
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace codedag::monitor::testing {

// Forks a child that spins until killed; the destructor kills and reaps it.
class BusyChild {
 public:
  BusyChild() {
    pid_ = ::fork();
    if (pid_ == 0) {
      volatile unsigned long x = 0;
      for (;;) x = x + 1;
    }
  }
  ~BusyChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

inline size_t count_entries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}
inline size_t open_fds() { return count_entries("/proc/self/fd"); }
inline size_t threads() { return count_entries("/proc/self/task"); }
// The thread count once it has come down to `expected` (or after 2 s): pthread_join returns when the
// kernel clears the thread's id, a moment before its task leaves /proc/self/task.
inline size_t threads_settled(size_t expected) {
  size_t n = threads();
  for (int i = 0; i < 200 && n > expected; ++i) {
    ::usleep(10000);
    n = threads();
  }
  return n;
}

// utime+stime of one process from its stat file, in clock ticks.
inline unsigned long long process_ticks(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return 0;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  std::string s(buf);
  std::string rest = s.substr(s.rfind(')') + 2);
  unsigned long long utime = 0, stime = 0;
  int field = 3;
  size_t pos = 0;
  while (field < 14) {
    pos = rest.find(' ', pos) + 1;
    ++field;
  }
  std::sscanf(rest.c_str() + pos, "%llu %llu", &utime, &stime);
  return utime + stime;
}

}  // namespace codedag::monitor::testing
