#include "codedag/runner/cell_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/runner/cell_run.hpp"
#include "codedag/runner/log_tail.hpp"
#include "codedag/runner/process_spawn.hpp"
#include "codedag/runner/sweep_dir.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/subprocess.hpp"

namespace codedag::runner {
namespace {

// Set by signal handlers, read by the wait loop.
std::atomic<int> g_stop_signal{0};
std::atomic<bool> g_preempt{false};

extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }
extern "C" void on_preempt_signal(int) { g_preempt.store(true); }

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  sa.sa_handler = on_preempt_signal;
  ::sigaction(SIGUSR1, &sa, nullptr);
  // A closed terminal or sweep pipe must not kill the runner before it records the outcome.
  sa.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &sa, nullptr);
}

// The oom_kill counter of this process's cgroup (v2), or -1 when it cannot be read. The command
// runs in the same cgroup, so a rise while it ran means the kernel's OOM killer struck there.
long long cgroup_oom_kills() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cg, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (path.empty()) return -1;
  std::ifstream events("/sys/fs/cgroup" + path + "/memory.events");
  std::string key;
  long long value = 0;
  while (events >> key >> value)
    if (key == "oom_kill") return value;
  return -1;
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd(other.fd) { other.fd = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset(other.fd);
      other.fd = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset(int f = -1) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
};

void write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // a closed terminal: the log still has it
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

struct Child {
  pid_t pid = -1;
  Fd out;  // read ends when teeing
  Fd err;
};

// Starts argv in its own process group (so the whole tree can be signalled), stdin /dev/null.
Child spawn_child(const std::vector<std::string>& argv, const std::string& program, const std::string& cwd,
                  const std::vector<std::string>& env, int log_fd, bool tee) {
  Child c;
  int out_pipe[2] = {-1, -1};
  int err_master = -1, err_slave = -1;
  if (tee) {
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_system_error("cannot create a pipe for", "the cell's stdout");
    // stderr through a pseudo-terminal when ours is a terminal: the command then sees a TTY and
    // draws its progress bars as it would without us.
    if (::isatty(2) && ::openpty(&err_master, &err_slave, nullptr, nullptr, nullptr) == 0) {
      ::fcntl(err_master, F_SETFD, FD_CLOEXEC);
      ::fcntl(err_slave, F_SETFD, FD_CLOEXEC);
      termios t{};
      if (::tcgetattr(err_slave, &t) == 0) {  // bytes pass as written: no "\n" -> "\r\n"
        t.c_oflag &= ~static_cast<tcflag_t>(OPOST);
        ::tcsetattr(err_slave, TCSANOW, &t);
      }
    } else {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) throw_system_error("cannot create a pipe for", "the cell's stderr");
      err_master = p[0];
      err_slave = p[1];
    }
  }
  SpawnSpec spec;
  spec.argv = argv;
  spec.program = program;
  spec.cwd = cwd;
  spec.env = env;
  spec.stdout_fd = tee ? out_pipe[1] : log_fd;
  spec.stderr_fd = tee ? err_slave : log_fd;
  spec.new_process_group = true;
  try {
    c.pid = spawn_process(spec);
  } catch (...) {
    if (tee) {
      ::close(out_pipe[0]);
      ::close(out_pipe[1]);
      ::close(err_master);
      ::close(err_slave);
    }
    throw;
  }
  if (tee) {
    ::close(out_pipe[1]);
    ::close(err_slave);
    c.out.reset(out_pipe[0]);
    c.err.reset(err_master);
  }
  return c;
}

struct SlurmTask {
  std::string run;
  int cell = -1;
};

SlurmTask read_chunk_task(const SweepDir& dir, int chunk) {
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (!task || !*task)
    throw InputError("sweep cell --slurm-chunk: SLURM_ARRAY_TASK_ID is not set (not in a Slurm array task?)");
  const long index = std::atol(task);
  const std::string path = dir.slurm_dir() + "/chunk-" + std::to_string(chunk) + ".json";
  const json j = load_json_file(path, JsonLimits{8, 64u << 20});
  const json cells = j.is_object() ? j.value("cells", json::array()) : json::array();
  if (!cells.is_array() || index < 0 || static_cast<size_t>(index) >= cells.size())
    throw FormatError(path + ": no task " + std::to_string(index));
  const json& e = cells[static_cast<size_t>(index)];
  if (!e.is_object() || !e.contains("cell") || !e["cell"].is_number_integer() || !e.contains("run") ||
      !e["run"].is_string())
    throw FormatError(path + ": task " + std::to_string(index) + " is not a {\"cell\", \"run\"} entry");
  return SlurmTask{e["run"].get<std::string>(), e["cell"].get<int>()};
}

std::string slurm_task_id() {
  const char* job = std::getenv("SLURM_ARRAY_JOB_ID");
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (job && task) return std::string(job) + "_" + task;
  const char* id = std::getenv("SLURM_JOB_ID");
  return id ? id : "";
}

}  // namespace

int run_cell(const CellRunnerOptions& o) {
  install_handlers();
  const SweepDir dir(o.home, o.sweep);
  const Manifest m = dir.load_manifest();
  store::Store store(o.home);
  int cell_index = o.cell;
  std::string run_id = o.run;
  if (o.slurm_chunk >= 0) {
    const SlurmTask t = read_chunk_task(dir, o.slurm_chunk);
    cell_index = t.cell;
    run_id = t.run;
  }
  if (cell_index < 0 || static_cast<size_t>(cell_index) >= m.cells.size())
    throw InputError("sweep " + m.id + " has no cell " + std::to_string(cell_index) + " (it has " +
                     std::to_string(m.cells.size()) + ")");
  const ManifestCell& cell = m.cells[static_cast<size_t>(cell_index)];
  store::RunRef ref = store.resolve(run_id);
  int attempt = run_attempt(store::load_run(ref.info_dir));
  if (!claim_cell_run(store, ref)) {
    // A requeued Slurm task runs again: that is a new attempt, and a new run, when retries remain.
    if (o.slurm_chunk < 0) return 0;
    std::vector<std::string> warnings;
    int last = 0;
    for (const AttemptEntry& e : read_attempts(dir, m.cells.size(), &warnings))
      if (e.cell == cell_index) last = std::max(last, e.attempt);
    if (last > m.policy.retries) return 0;
    Launcher launcher;
    launcher.backend = "slurm";
    launcher.slurm_job = slurm_task_id();
    attempt = last + 1;
    ref = create_cell_run(store, m, cell, attempt, launcher, {}, dir);
    append_attempt(dir, AttemptEntry{cell_index, attempt, ref.test_name, m.name, store::unix_now()});
    if (!claim_cell_run(store, ref)) return 0;
  }
  if (o.slurm_chunk >= 0) store.update(ref, [&](json& r) { r["launcher"]["slurm_job"] = slurm_task_id(); });

  const std::string log_path = dir.log_path(cell_index, ref.test_name);
  make_directories(dir.logs_dir());
  Fd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.fd < 0) throw_system_error("cannot open the cell's log", log_path);

  store::Supervisor heartbeat(ref.info_dir, nullptr, 0);
  std::map<std::string, std::string> env_set{{"CODEDAG_RUN_ID", ref.test_name},
                                             {"CODEDAG_HOME", o.home},
                                             {"CODEDAG_SWEEP", m.id},
                                             {"CODEDAG_SWEEP_CELL", std::to_string(cell_index)},
                                             {"CODEDAG_SWEEP_ATTEMPT", std::to_string(attempt)},
                                             {"PYTHONUNBUFFERED", "1"}};
  const std::vector<std::string> env = environment_with(env_set);
  const long long oom_before = cgroup_oom_kills();
  CellOutcome outcome;
  outcome.started_at = store::unix_now();
  Child child;
  try {
    child = spawn_child(cell.argv, resolve_program(cell.argv[0], m.cwd), m.cwd, env, log.fd, o.tee);
  } catch (const std::exception& e) {
    const std::string msg = std::string("codedag sweep: ") + e.what() + "\n";
    write_all(log.fd, msg.data(), msg.size());
    outcome.ended_at = store::unix_now();
    outcome.exit.exit_code = 127;
    outcome.log_tail = msg;
    heartbeat.stop(true);
    record_cell_outcome(store, ref, outcome);
    throw;
  }

  const double deadline = m.policy.timeout > 0 ? outcome.started_at + m.policy.timeout : 0;
  double kill_at = 0;  // after a polite signal, SIGKILL at this time
  const double grace = 10.0;
  int status = 0;
  bool exited = false;
  char buf[65536];
  const int tee_out = o.stdout_to_stderr ? 2 : 1;
  while (!exited) {
    pollfd fds[2];
    int n = 0;
    // stderr first: a program that ends a progress line on stderr and then prints a result on
    // stdout wrote them in that order, and both are often ready in the same wake-up.
    if (child.err.fd >= 0) fds[n++] = {child.err.fd, POLLIN, 0};
    if (child.out.fd >= 0) fds[n++] = {child.out.fd, POLLIN, 0};
    const int ready = n ? ::poll(fds, static_cast<nfds_t>(n), 100) : (::usleep(100000), 0);
    for (int i = 0; ready > 0 && i < n; ++i) {
      if (!fds[i].revents) continue;
      Fd& src = fds[i].fd == child.out.fd ? child.out : child.err;
      const ssize_t r = ::read(src.fd, buf, sizeof buf);
      if (r > 0) {
        write_all(log.fd, buf, static_cast<size_t>(r));
        write_all(&src == &child.out ? tee_out : 2, buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        src.reset();  // EOF, or EIO from a pty whose last writer exited
      }
    }
    const double now = store::unix_now();
    if (const int sig = g_stop_signal.exchange(0)) {
      outcome.exit.interrupted = true;
      ::kill(-child.pid, sig);
      if (kill_at == 0) kill_at = now + grace;
    }
    if (g_preempt.exchange(false)) {
      outcome.exit.preempted = true;
      ::kill(-child.pid, SIGTERM);
      if (kill_at == 0) kill_at = now + grace;
    }
    if (deadline > 0 && now >= deadline && !outcome.exit.timed_out) {
      outcome.exit.timed_out = true;
      ::kill(-child.pid, SIGTERM);
      if (kill_at == 0) kill_at = now + grace;
    }
    if (kill_at > 0 && now >= kill_at) {
      ::kill(-child.pid, SIGKILL);
      kill_at = now + 3600;
    }
    const pid_t w = ::waitpid(child.pid, &status, WNOHANG);
    if (w == child.pid) exited = true;
    if (w < 0 && errno != EINTR) {
      exited = true;
      status = 0;
    }
  }
  // What the command left behind (DataLoader workers, a shell's children) goes with it.
  ::kill(-child.pid, SIGTERM);
  // Drain what is still buffered in the pipes.
  for (Fd* src : {&child.err, &child.out}) {
    while (src->fd >= 0) {
      pollfd p{src->fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) break;
      const ssize_t r = ::read(src->fd, buf, sizeof buf);
      if (r <= 0) break;
      write_all(log.fd, buf, static_cast<size_t>(r));
      write_all(src == &child.out ? tee_out : 2, buf, static_cast<size_t>(r));
    }
  }
  outcome.ended_at = store::unix_now();
  if (WIFEXITED(status)) outcome.exit.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.exit.signal = WTERMSIG(status);
  const long long oom_after = cgroup_oom_kills();
  outcome.exit.oom_kill = oom_before >= 0 && oom_after > oom_before && outcome.exit.signal == SIGKILL;
  // A command that finished cleanly while being stopped still finished.
  if (outcome.exit.exit_code == 0 && !outcome.exit.signal) outcome.exit.interrupted = outcome.exit.preempted = false;
  log.reset();
  outcome.log_tail = read_log_tail(log_path);
  heartbeat.stop(true);
  record_cell_outcome(store, ref, outcome);

  if (outcome.exit.preempted && o.slurm_chunk >= 0 && attempt <= m.policy.retries) {
    // Back in the queue: the task runs again as the next attempt.
    const std::string task = slurm_task_id();
    if (!task.empty()) {
      try {
        store::run_process({"scontrol", "requeue", task});
      } catch (const std::exception&) {
      }
    }
  }
  return outcome.exit.signal ? 128 + outcome.exit.signal : outcome.exit.exit_code;
}

}  // namespace codedag::runner
