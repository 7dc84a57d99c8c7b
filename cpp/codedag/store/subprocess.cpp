#include "codedag/store/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "codedag/common/error.hpp"

extern char** environ;

namespace codedag::store {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  void open() {
    if (::pipe2(fd, O_CLOEXEC) != 0) throw_system_error("cannot create a pipe for", "subprocess");
  }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
  ~Pipe() {
    close_end(0);
    close_end(1);
  }
};

std::vector<std::string> build_environment(const SpawnOptions& o) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    if (o.env_set.count(key)) continue;
    bool unset = false;
    for (const auto& u : o.env_unset) unset = unset || u == key;
    if (!unset) env.push_back(entry);
  }
  for (const auto& [k, v] : o.env_set) env.push_back(k + "=" + v);
  return env;
}

}  // namespace

SpawnResult run_process(const std::vector<std::string>& argv, const SpawnOptions& o) {
  if (argv.empty()) throw InputError("cannot run an empty command line");
  Pipe in, out, err;
  if (o.stdin_data) in.open();
  if (o.capture_stdout) out.open();
  if (o.capture_stderr) err.open();

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (o.stdin_data) {
    posix_spawn_file_actions_adddup2(&fa, in.fd[0], 0);
  } else if (!o.inherit_stdin) {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  if (o.capture_stdout) posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
  if (o.capture_stderr) posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
  if (!o.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, o.cwd.c_str());

  // The child starts with default signal dispositions and an empty mask, whatever the parent
  // (Python installs its own SIGINT handler) had.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<std::string> env = build_environment(o);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  pid_t pid = 0;
  const std::string& program = o.program.empty() ? argv[0] : o.program;
  const int rc = program.find('/') == std::string::npos
                     ? posix_spawnp(&pid, program.c_str(), &fa, &attr, cargv.data(), cenv.data())
                     : posix_spawn(&pid, program.c_str(), &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    std::string where = program;
    if (!o.cwd.empty()) where += "' in '" + o.cwd;
    throw SystemCallError("cannot run '" + where + "': " + std::strerror(rc) +
                          " (check that the program exists, is executable and the directory exists)");
  }
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);

  // Feed stdin and drain both outputs together so no pipe fills up and blocks the child.
  SpawnResult result;
  size_t written = 0;
  // A child that exits without reading its stdin must not kill us with SIGPIPE: block it in this
  // thread while writing, and discard one that became pending.
  sigset_t pipe_set, old_mask;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  if (o.stdin_data && o.stdin_data->empty()) in.close_end(1);
  char buf[65536];
  for (;;) {
    pollfd fds[3];
    int n = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (in.fd[1] >= 0) {
      fds[n] = {in.fd[1], POLLOUT, 0};
      idx_in = n++;
    }
    if (out.fd[0] >= 0) {
      fds[n] = {out.fd[0], POLLIN, 0};
      idx_out = n++;
    }
    if (err.fd[0] >= 0) {
      fds[n] = {err.fd[0], POLLIN, 0};
      idx_err = n++;
    }
    if (n == 0) break;
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (idx_in >= 0 && fds[idx_in].revents) {
      const std::string& data = *o.stdin_data;
      const ssize_t w = ::write(in.fd[1], data.data() + written, data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EINTR && errno != EAGAIN) written = data.size();
      if (written >= data.size()) in.close_end(1);
    }
    auto drain = [&](int idx, Pipe& p, std::string& into) {
      if (idx < 0 || !fds[idx].revents) return;
      const ssize_t r = ::read(p.fd[0], buf, sizeof buf);
      if (r > 0)
        into.append(buf, static_cast<size_t>(r));
      else if (r == 0 || (errno != EINTR && errno != EAGAIN))
        p.close_end(0);
    };
    drain(idx_out, out, result.out);
    drain(idx_err, err, result.err);
  }
  {
    timespec zero{0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace codedag::store
