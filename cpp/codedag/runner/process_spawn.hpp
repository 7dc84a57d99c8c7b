#pragma once
// Starting the sweep's own processes (cell runners, and the commands they run) without a shell and
// without waiting: posix_spawn with stdin on /dev/null, default signal dispositions and an empty
// signal mask (whatever the parent had: Python's SIGINT handler, a blocked SIGCHLD), optionally in
// a process group of its own so the whole tree can be signalled. The caller reaps the pid.
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace codedag::runner {

struct SpawnSpec {
  std::vector<std::string> argv;
  std::string program;           // what is executed; searched in PATH when it has no '/'
  std::string cwd;               // empty: ours
  std::vector<std::string> env;  // "KEY=VALUE" entries, the whole environment
  int stdout_fd = -1;            // -1: inherited
  int stderr_fd = -1;
  bool new_process_group = false;
};

// The pid. SystemCallError naming the program and the directory when it cannot be started.
pid_t spawn_process(const SpawnSpec& spec);

// This process's environment with `set` added or replaced and `unset` removed.
std::vector<std::string> environment_with(const std::map<std::string, std::string>& set,
                                          const std::vector<std::string>& unset = {});

}  // namespace codedag::runner
