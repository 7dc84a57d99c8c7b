// codedag panel [--host H] [--port N] [--token T] [--open]: the web panel over the run store.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "codedag/cli/command.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/server/access_guard.hpp"
#include "codedag/server/panel_server.hpp"
#include "codedag/store/subprocess.hpp"

namespace codedag::cli {
namespace {

struct PanelCmdOptions {
  server::PanelOptions panel;
  bool open = false;
};

std::string hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "this-machine";
  return buf;
}

void run_panel(PanelCmdOptions o) {
  if (o.panel.token.empty())
    if (const char* t = std::getenv("CODEDAG_PANEL_TOKEN"); t && *t) o.panel.token = t;
  // Signals go to one thread that stops the server cleanly (a handler may not call stop()).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::PanelServer panel(o.panel);
  const int port = panel.start();
  const bool loopback = server::is_loopback_host(server::host_without_port(o.panel.host));
  term::Printer out;
  out.header("panel",
             {{"store", panel.context().home()},
              {"listening", o.panel.host + ":" + std::to_string(port)},
              {"token", o.panel.token.empty() ? "new, random (CODEDAG_PANEL_TOKEN or --token to choose)" : "given"}});
  if (!loopback)
    out.warn("listening on " + o.panel.host +
             ", not only on loopback: anyone who can reach this port still needs the token");
  // The one line to copy (tests and scripts read it too).
  std::printf("codedag panel: %s\n", panel.url().c_str());
  out.info("from another machine: ssh -N -L " + std::to_string(port) + ":127.0.0.1:" + std::to_string(port) + " " +
           hostname() + ", then open the link above there");
  out.info("Ctrl-C stops the panel");
  std::fflush(stdout);
  if (o.open) {
    try {
      store::SpawnOptions so;
      so.capture_stdout = so.capture_stderr = true;
      const store::SpawnResult r = store::run_process({"xdg-open", panel.url()}, so);
      if (r.exit_code != 0) out.warn("xdg-open could not open a browser: open the link yourself");
    } catch (const std::exception&) {
      out.warn("no xdg-open here: open the link yourself");
    }
  }
  std::atomic<bool> signalled{false};
  std::thread stopper([&panel, &signalled, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    signalled = true;
    panel.stop();
  });
  panel.serve();
  // serve() returned: stopped by a signal, or the server failed; wake the stopper in the latter case.
  if (!signalled) pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  out.ok("panel stopped");
}

}  // namespace

void add_panel_command(CLI::App& app, Context& /*ctx*/) {
  auto o = std::make_shared<PanelCmdOptions>();
  auto* cmd = app.add_subcommand("panel", "Serve the web panel over the recorded runs (loopback, with a token)");
  cmd->add_option("--host", o->panel.host, "Address to listen on (default: 127.0.0.1, this machine only)")
      ->capture_default_str();
  cmd->add_option("--port", o->panel.port, "Port (default: 0, a free one)")->capture_default_str();
  cmd->add_option("--token", o->panel.token,
                  "Access token (default: CODEDAG_PANEL_TOKEN, else a random one; prefer the variable: "
                  "arguments are visible to other users in ps)");
  cmd->add_option("--allow-host", o->panel.allowed_hosts,
                  "Host name the browser may use besides localhost/127.0.0.1/[::1] (repeatable)");
  cmd->add_flag("--open", o->open, "Open the panel in a browser (xdg-open)");
  cmd->callback([o] { run_panel(*o); });
}

}  // namespace codedag::cli
