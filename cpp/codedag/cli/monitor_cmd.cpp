// codedag monitor [--interval S] [--out FILE] -- COMMAND ARGS...: run a command, sample its whole
// process tree (and the host, the cgroup, the GPUs) while it runs, write the result file (mode
// "run"), and exit with the command's own status so scripts and schedulers see no difference.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/monitor/experiment_session.hpp"
#include "codedag/report/comparison.hpp"

extern char** environ;

namespace codedag::cli {
namespace {

struct MonitorOptions {
  double interval = 1.0;
  std::string out;
  std::string name;
  std::string mode = "run";
  bool gpu = true;
  std::vector<std::string> command;
};

std::atomic<pid_t> g_child{0};

// A signal sent to `codedag monitor` itself (kill, a scheduler's SIGTERM) is passed on to the
// command. One typed at the terminal (Ctrl-C) already reaches the whole foreground process group,
// so it is not sent a second time.
void forward_signal(int sig, siginfo_t* info, void*) {
  const pid_t child = g_child.load();
  if (child > 0 && info && (info->si_code == SI_USER || info->si_code == SI_QUEUE)) ::kill(child, sig);
}

// "1 s", "0.25 s": the interval as given, without std::to_string's "1.000000".
std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

// What was sampled. A command shorter than one interval leaves no sample: that is said, instead of
// means of nothing (nan %).
std::string sampled_line(const monitor::ModeResult& m) {
  const size_t n = m.resources.cpu_usage.size();
  char line[256];
  if (n == 0 || m.resources.process_cpu_usage.empty() || m.resources.process_memory.empty()) {
    std::snprintf(line, sizeof line,
                  "no resource sample: the command ended after %.2f s, before the first sample "
                  "(use a shorter --interval for short commands)",
                  m.total_time);
    return line;
  }
  // A series whose samples are all unreadable has no mean either: "-", never "nan".
  const auto value = [](double v, const char* format) {
    if (!std::isfinite(v)) return std::string("-");
    char buf[32];
    std::snprintf(buf, sizeof buf, format, v);
    return std::string(buf);
  };
  std::snprintf(line, sizeof line, "%zu sample%s over %.2f s · CPU mean %s · process tree CPU mean %s · memory peak %s",
                n, n == 1 ? "" : "s", m.total_time, value(report::series_mean(m.resources.cpu_usage), "%.1f%%").c_str(),
                value(report::series_mean(m.resources.process_cpu_usage), "%.1f%%").c_str(),
                value(report::series_max(m.resources.process_memory), "%.0f MB").c_str());
  return line;
}

int run_monitor(const MonitorOptions& opt) {
  term::Printer out(stderr);  // the command owns stdout
  monitor::check_interval(opt.interval);
  if (opt.command.empty()) throw InputError("no command to monitor: codedag monitor -- python train.py");
  const std::string name = opt.name.empty() ? std::filesystem::path(opt.command.front()).filename().string() : opt.name;

  std::vector<char*> argv;
  for (const std::string& a : opt.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  struct sigaction sa {};
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{}, old_hup{};
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  ::sigaction(SIGHUP, &sa, &old_hup);

  pid_t child = 0;
  const int rc = ::posix_spawnp(&child, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    ::sigaction(SIGHUP, &old_hup, nullptr);
    out.fail("cannot run '" + opt.command.front() + "': " + std::strerror(rc) +
             (rc == ENOENT ? " (is it on PATH? give its full path)" : ""));
    return 127;  // as the shell and env(1) do for a command that could not be run
  }
  g_child = child;
  // The sampler follows the child's tree, from the child's pid down.
  monitor::SamplerOptions tree;
  tree.gpu = opt.gpu;
  tree.pid = child;
  tree.interval_s = opt.interval;
  monitor::ExperimentSession run(name, "results", tree);
  if (!opt.out.empty()) run.set_default_path(opt.out);
  std::string joined;
  for (const std::string& a : opt.command) joined += (joined.empty() ? "" : " ") + a;
  out.header("monitor", {{"command", joined},
                         {"pid", std::to_string(child)},
                         {"interval", seconds_text(opt.interval)},
                         {"result file", run.default_path()}});
  run.start_mode(opt.mode, json{{"command", opt.command}, {"interval", opt.interval}}, opt.interval);

  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      status = 0;
      break;
    }
  }
  g_child = 0;
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  ::sigaction(SIGHUP, &old_hup, nullptr);
  run.stop_mode();
  const std::string path = run.save();

  const monitor::ExperimentResult result = run.snapshot();
  const monitor::ModeResult& m = result.modes.back();
  out.info(sampled_line(m));
  out.ok("wrote " + path + " (codedag report " + path + " renders it)");
  int code = 0;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
    if (code == 0)
      out.ok("command exited 0");
    else
      out.fail("command exited " + std::to_string(code));
  } else if (WIFSIGNALED(status)) {
    code = 128 + WTERMSIG(status);
    out.fail(std::string("command killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
             ::strsignal(WTERMSIG(status)) + ")");
  }
  return code;
}

}  // namespace

void add_monitor_command(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<MonitorOptions>();
  auto* cmd = app.add_subcommand("monitor",
                                 "Run a command, sample its process tree (CPU, memory, GPUs, cgroup "
                                 "limits) and write an ExperimentMonitor result file");
  cmd->add_option("-i,--interval", opt->interval, "Seconds between samples (0.01 or more)")->capture_default_str();
  cmd->add_option("-o,--out", opt->out, "Result file (default: results/<command>_<time>.json)");
  cmd->add_option("--name", opt->name, "Experiment name (default: the command's file name)");
  cmd->add_option("--mode", opt->mode, "Mode name in the result file")->capture_default_str();
  cmd->add_flag("!--no-gpu", opt->gpu, "Do not load NVML");
  cmd->add_option("command", opt->command, "The command and its arguments, after --")->required()->expected(-1);
  cmd->callback([opt, &ctx] { ctx.exit_code = run_monitor(*opt); });
}

}  // namespace codedag::cli
