#pragma once
// Running a program without a shell: posix_spawn with an argv vector, so arguments with spaces,
// quotes or '$' reach the program exactly as given. Used for git plumbing and for rerun.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace codedag::store {

struct SpawnOptions {
  std::string cwd;                             // empty: the current directory
  std::map<std::string, std::string> env_set;  // added to / replacing the inherited environment
  std::vector<std::string> env_unset;
  std::optional<std::string> stdin_data;  // nullopt: /dev/null (or inherited, see below)
  bool inherit_stdin = false;
  bool capture_stdout = true;  // false: inherit
  bool capture_stderr = true;
  std::string program;  // empty: argv[0], searched in PATH
};

struct SpawnResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

// Runs argv to completion. Throws SystemCallError when the program cannot be started (not found,
// not executable, bad cwd), naming it.
SpawnResult run_process(const std::vector<std::string>& argv, const SpawnOptions& options = {});

}  // namespace codedag::store
