#include "codedag/runner/local_sweep.hpp"
#include "codedag/common/terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>

#include "codedag/common/error.hpp"
#include "codedag/runner/cell_run.hpp"
#include "codedag/runner/failure_policy.hpp"
#include "codedag/runner/gpu_pool.hpp"
#include "codedag/runner/log_tail.hpp"
#include "codedag/runner/process_spawn.hpp"
#include "codedag/runner/sweep_report.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/run_format.hpp"

namespace codedag::runner {
namespace {

std::atomic<int> g_signal{0};
std::atomic<bool> g_sent_to_us_only{false};

// SIGINT from the terminal reaches the whole foreground process group (the runners too); a signal
// sent with kill(2) to this process alone (si_code <= 0: SI_USER, SI_QUEUE, SI_TKILL) is passed on.
extern "C" void on_sweep_signal(int sig, siginfo_t* info, void*) {
  g_signal.store(sig);
  if (info && info->si_code <= 0) g_sent_to_us_only.store(true);
}

class SignalScope {
 public:
  SignalScope() {
    g_signal = 0;
    g_sent_to_us_only = false;
    struct sigaction sa {};
    sa.sa_sigaction = on_sweep_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
    ::sigaction(SIGHUP, &sa, &old_hup_);
  }
  ~SignalScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGHUP, &old_hup_, nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{}, old_hup_{};
};

struct Slot {
  int number = 0;
  pid_t runner = -1;
  int cell = 0;
  int attempt = 1;
  store::RunRef ref;
  std::vector<std::string> gpus;
  double started = 0;
  std::string log;
};

// A cell still running from before (a killed sweep's runner, or a runner that died under its
// command): waited for through the store.
struct Foreign {
  int cell = 0;
  int attempt = 1;
  store::RunRef ref;
  std::vector<std::string> gpus;
};

pid_t spawn_runner(const LaunchSettings& s, const std::vector<std::string>& argv, const std::vector<std::string>& gpus,
                   bool set_devices) {
  SpawnSpec spec;
  spec.argv = argv;
  spec.program = s.runner_program;
  spec.env = set_devices ? environment_with({{"CUDA_VISIBLE_DEVICES", join_devices(gpus)}}) : environment_with({});
  return spawn_process(spec);
}

int terminal_width(std::FILE* stream) {
  winsize ws{};
  if (::ioctl(::fileno(stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 100;
}

std::string fit(std::string text, size_t width) {
  // Counts bytes: a line cut in a multi-byte character shows one '?' at worst.
  if (text.size() > width) text = text.substr(0, width > 1 ? width - 1 : 0) + "…";
  return text;
}

// The status board: one line per running slot, redrawn in place on a terminal.
class Board {
 public:
  explicit Board(term::Printer& out) : out_(out) {}
  void clear() {
    std::string s;
    for (int i = 0; i < drawn_; ++i) s += "\x1b[1A\x1b[2K";
    if (!s.empty()) out_.raw(s);
    drawn_ = 0;
  }
  void draw(const std::vector<Slot>& slots, const Manifest& m, size_t waiting, size_t done, size_t total) {
    clear();
    const size_t width = static_cast<size_t>(terminal_width(out_.stream()));
    std::string text;
    const double now = store::unix_now();
    for (const Slot& s : slots) {
      const std::string params = params_text(m.cells[static_cast<size_t>(s.cell)].params);
      const std::string last = last_visible_line(read_log_tail(s.log, 4096));
      std::string line = "  [" + std::to_string(s.number) + "] cell " + std::to_string(s.cell) + " " + params +
                         (s.gpus.empty() ? "" : " gpu " + join_devices(s.gpus)) + " " +
                         store::format_duration(now - s.started) + " | " + last;
      text += out_.cyan(fit(term::printable(line), width - 1)) + "\n";
    }
    text += out_.dim(fit("  " + std::to_string(done) + "/" + std::to_string(total) + " done, " +
                             std::to_string(slots.size()) + " running, " + std::to_string(waiting) + " waiting",
                         width - 1)) +
            "\n";
    out_.raw(text);
    drawn_ = static_cast<int>(slots.size()) + 1;
  }

 private:
  term::Printer& out_;
  int drawn_ = 0;
};

}  // namespace

int next_attempt(const CellState& state) {
  int last = 0;
  for (const auto& a : state.attempts) last = std::max(last, a.attempt);
  return last + 1;
}

std::string run_local(store::Store& store, const SweepDir& dir, const Manifest& m, const std::vector<int>& cells,
                      const std::vector<CellState>& before, term::Printer& out, const LaunchSettings& settings) {
  SignalScope signals;
  const RunPolicy& policy = m.policy;
  std::deque<std::pair<int, int>> queue;  // (cell, attempt)
  for (const int c : cells) queue.emplace_back(c, next_attempt(before[static_cast<size_t>(c)]));
  GpuPool pool(policy.gpus);
  std::vector<Foreign> foreign;
  for (const CellState& s : before) {
    if (!s.in_flight()) continue;
    const AttemptState* a = s.current();
    std::vector<std::string> gpus;
    for (const auto& g : a->record.value("gpus", json::array()))
      if (g.is_string()) gpus.push_back(g.get<std::string>());
    pool.reserve(gpus);
    foreign.push_back({s.cell, a->attempt, a->ref, gpus});
    out.info("waiting for cell " + std::to_string(s.cell) + " (run " + a->ref.test_name + ", " + a->status +
             " from before)");
  }
  FailurePolicy failures(policy, m.id);
  const bool tee = policy.parallel == 1;
  const bool board_mode = !tee && out.style().tty && !out.style().silent;
  Board board(out);
  std::vector<Slot> slots;
  std::string stopped;
  bool launching = true;
  size_t done = 0;
  const size_t total = queue.size() + foreign.size();
  double next_foreign_check = 0, next_draw = 0;
  int slot_counter = 0;

  auto stop_runners = [&](int sig) {
    for (const Slot& s : slots) ::kill(s.runner, sig);
  };
  auto attempt_ended = [&](int cell, int attempt, const store::RunRef& ref) {
    json record = json::object();
    try {
      record = store::load_run(ref.info_dir);
    } catch (const std::exception& e) {
      out.warn(std::string("cell ") + std::to_string(cell) + ": " + e.what());
    }
    ++done;
    if (board_mode) board.clear();
    // The event speaks of this attempt only: no need to read every cell's runs again.
    CellState state;
    state.cell = cell;
    state.status = record.empty() ? "dead" : run_status(record);
    state.attempts.push_back(AttemptState{attempt, ref, state.status, record});
    print_cell_event(out, cell_json(m, dir, state));
    const AfterAttempt next =
        failures.on_attempt_end(cell, run_status(record), record.value("failure", json::object()), attempt);
    if (next == AfterAttempt::retry && launching) {
      queue.emplace_front(cell, attempt + 1);
      --done;
      out.info("cell " + std::to_string(cell) + ": retrying (attempt " + std::to_string(attempt + 1) + " of " +
               std::to_string(policy.retries + 1) + ")");
    } else if (next == AfterAttempt::stop_launching || next == AfterAttempt::stop_all) {
      if (launching) stopped = failures.stop_reason();
      launching = false;
      if (next == AfterAttempt::stop_all) stop_runners(SIGTERM);
    }
  };

  while ((launching && !queue.empty()) || !slots.empty() || !foreign.empty()) {
    if (const int sig = g_signal.exchange(0)) {
      if (launching) stopped = std::string("interrupted by ") + signal_name(sig) + ": no new cells were launched";
      launching = false;
      if (g_sent_to_us_only.exchange(false)) stop_runners(sig);
    }
    while (launching && !queue.empty() && slots.size() < static_cast<size_t>(policy.parallel)) {
      auto lease = pool.acquire(pool.size() ? policy.gpus_per_run : 0);
      if (!lease) break;
      const auto [cell, attempt] = queue.front();
      queue.pop_front();
      Launcher launcher;
      launcher.backend = "local";
      Slot s;
      s.number = ++slot_counter;
      s.cell = cell;
      s.attempt = attempt;
      s.gpus = *lease;
      s.ref = create_cell_run(store, m, m.cells[static_cast<size_t>(cell)], attempt, launcher, s.gpus, dir);
      s.log = dir.log_path(cell, s.ref.test_name);
      append_attempt(dir, AttemptEntry{cell, attempt, s.ref.test_name, m.name, store::unix_now()});
      std::vector<std::string> argv = {
          settings.runner_program, "sweep", "cell",         "--home", m.home, "--sweep", m.id, "--cell",
          std::to_string(cell),    "--run", s.ref.test_name};
      if (tee) argv.push_back("--tee");
      if (settings.json_mode) argv.push_back("--stdout-to-stderr");
      if (board_mode) board.clear();
      const std::string what = "cell " + std::to_string(cell) + " " +
                               term::printable(params_text(m.cells[static_cast<size_t>(cell)].params)) +
                               (s.gpus.empty() ? "" : " on GPU " + join_devices(s.gpus)) + " (run " + s.ref.test_name +
                               (attempt > 1 ? ", attempt " + std::to_string(attempt) : "") + ")";
      if (!board_mode) out.info("▶ " + what);
      s.started = store::unix_now();
      try {
        s.runner = spawn_runner(settings, argv, s.gpus, pool.size() > 0 && policy.gpus_per_run > 0);
      } catch (const std::exception& e) {
        give_up_queued_run(store, s.ref, e.what());
        pool.release(s.gpus);
        throw;
      }
      slots.push_back(std::move(s));
    }
    ::poll(nullptr, 0, 100);
    for (size_t i = 0; i < slots.size();) {
      int status = 0;
      const pid_t w = ::waitpid(slots[i].runner, &status, WNOHANG);
      if (w == 0 || (w < 0 && errno == EINTR)) {
        ++i;
        continue;
      }
      Slot s = std::move(slots[i]);
      slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(i));
      json record = json::object();
      try {
        record = store::load_run(s.ref.info_dir);
      } catch (const std::exception&) {
      }
      const std::string st = run_status(record);
      if (st == "queued") {
        const std::string why =
            WIFSIGNALED(status) ? "the cell runner was killed by " + signal_name(WTERMSIG(status)) + " before starting"
                                : "the cell runner exited with " + std::to_string(WEXITSTATUS(status)) +
                                      " before starting the command (see the messages above)";
        give_up_queued_run(store, s.ref, why);
      } else if (st == "running") {
        // The runner died under its command (killed from outside): the command may live on.
        foreign.push_back({s.cell, s.attempt, s.ref, s.gpus});
        continue;
      }
      pool.release(s.gpus);
      attempt_ended(s.cell, s.attempt, s.ref);
    }
    const double now = store::unix_now();
    if (!foreign.empty() && now >= next_foreign_check) {
      next_foreign_check = now + 1.0;
      for (size_t i = 0; i < foreign.size();) {
        std::string st = "dead";
        try {
          st = run_status(store.check_liveness(foreign[i].ref, store::load_run(foreign[i].ref.info_dir), nullptr));
        } catch (const std::exception&) {
        }
        if (st == "running" || st == "queued") {
          ++i;
          continue;
        }
        const Foreign f = foreign[i];
        foreign.erase(foreign.begin() + static_cast<std::ptrdiff_t>(i));
        pool.release(f.gpus);
        attempt_ended(f.cell, f.attempt, f.ref);
      }
    }
    if (board_mode && now >= next_draw) {
      next_draw = now + 0.5;
      board.draw(slots, m, launching ? queue.size() : 0, done, total);
    }
  }
  if (board_mode) board.clear();
  return stopped;
}

}  // namespace codedag::runner
