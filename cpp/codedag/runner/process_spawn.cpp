#include "codedag/runner/process_spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include <algorithm>
#include <cstring>

#include "codedag/common/error.hpp"

extern char** environ;

namespace codedag::runner {

std::vector<std::string> environment_with(const std::map<std::string, std::string>& set,
                                          const std::vector<std::string>& unset) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    if (!set.count(key) && std::find(unset.begin(), unset.end(), key) == unset.end()) env.push_back(entry);
  }
  for (const auto& [k, v] : set) env.push_back(k + "=" + v);
  return env;
}

pid_t spawn_process(const SpawnSpec& s) {
  if (s.argv.empty()) throw InputError("cannot run an empty command line");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (s.stdout_fd >= 0) posix_spawn_file_actions_adddup2(&fa, s.stdout_fd, 1);
  if (s.stderr_fd >= 0) posix_spawn_file_actions_adddup2(&fa, s.stderr_fd, 2);
  if (!s.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, s.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (s.new_process_group) {
    posix_spawnattr_setpgroup(&attr, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attr, flags);
  std::vector<char*> cargv, cenv;
  for (const auto& a : s.argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : s.env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  const std::string& program = s.program.empty() ? s.argv[0] : s.program;
  pid_t pid = -1;
  const int rc = program.find('/') == std::string::npos
                     ? ::posix_spawnp(&pid, program.c_str(), &fa, &attr, cargv.data(), cenv.data())
                     : ::posix_spawn(&pid, program.c_str(), &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw SystemCallError("cannot run '" + program + "'" + (s.cwd.empty() ? "" : " in '" + s.cwd + "'") + ": " +
                          std::strerror(rc) + " (check that the program exists and is executable)");
  return pid;
}

}  // namespace codedag::runner
