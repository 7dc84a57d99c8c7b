// POST routes that change runs: tag, rm (and undo), rerun. Each runs the codedag executable's own
// subcommand (`codedag tag ID LABEL`, ...), so the panel applies exactly the checks and effects of
// the terminal commands. A rerun starts detached (it is a training run); its output goes to a log
// file under the store's cache directory, whose path the answer gives.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/server/panel_context.hpp"
#include "codedag/store/subprocess.hpp"

extern char** environ;

namespace codedag::server {
namespace {

constexpr size_t kMaxOverrides = 64;

json body_of(const HttpRequest& req) {
  if (req.body.empty()) return json::object();
  const json body = parse_json(req.body, "request body", {16, 1 << 20});  // FormatError: a 400
  if (!body.is_object()) throw InputError("the request body must be a JSON object");
  return body;
}

HttpResponse run_subcommand(PanelContext& ctx, std::vector<std::string> argv) {
  store::SpawnOptions o;
  o.program = ctx.self_executable();
  o.env_set["CODEDAG_HOME"] = ctx.home();
  o.env_set["NO_COLOR"] = "1";
  argv.insert(argv.begin(), "codedag");
  const store::SpawnResult r = store::run_process(argv, o);
  const json out = json{{"ok", r.exit_code == 0}, {"exit_code", r.exit_code}, {"output", r.out + r.err}};
  return HttpResponse::json_body(dump(out), r.exit_code == 0 ? 200 : r.exit_code == 2 ? 400 : 500);
}

// Starts `argv` in its own session with stdout and stderr to `log`; returns its pid.
pid_t spawn_detached(const std::string& program, const std::vector<std::string>& argv, const std::string& log,
                     const std::string& home) {
  make_directories(log.substr(0, log.rfind('/')));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // Not O_CLOEXEC: this descriptor is the child's standard output.
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "CODEDAG_HOME=", 13) != 0) env_text.emplace_back(*e);
  env_text.push_back("CODEDAG_HOME=" + home);
  std::vector<char*> envp, args;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> copy = argv;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    throw_system_error("cannot start the rerun", program);
  }
  // Reaped when it ends, so a finished rerun leaves no zombie behind the panel.
  std::thread([pid] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }).detach();
  return pid;
}

}  // namespace

void add_action_routes(HttpServer& http, PanelContext& ctx) {
  http.post("/api/runs/([^/]+)/tag", [&](const HttpRequest& req) {
    const json body = body_of(req);
    const std::string tag = body.value("tag", std::string());
    if (tag.empty()) throw InputError("give the label: {\"tag\": \"best\"} (and \"remove\": true to take it off)");
    std::vector<std::string> argv{"tag", req.captures.at(0), tag};
    if (body.value("remove", false)) argv.push_back("--remove");
    return run_subcommand(ctx, argv);
  });

  http.post("/api/runs/([^/]+)/rm", [&](const HttpRequest& req) {
    const json body = body_of(req);
    std::vector<std::string> argv{"rm", req.captures.at(0)};
    if (body.value("undo", false)) argv.push_back("--undo");
    return run_subcommand(ctx, argv);
  });

  http.post("/api/runs/([^/]+)/rerun", [&](const HttpRequest& req) {
    const json body = body_of(req);
    const LoadedRun run = load_run_record(ctx, req.captures.at(0));  // NotFoundError before anything starts
    std::vector<std::string> argv{"codedag", "rerun", run.ref.test_name};
    const json overrides = body.value("overrides", json::array());
    if (!overrides.is_array() || overrides.size() > kMaxOverrides)
      throw InputError("overrides: a list of at most " + std::to_string(kMaxOverrides) + " \"--key=value\" strings");
    for (const json& o : overrides) {
      if (!o.is_string() || o.get<std::string>().rfind("--", 0) != 0 ||
          o.get<std::string>().find('=') == std::string::npos)
        throw InputError("overrides: each one is \"--key=value\" (got " + o.dump() + ")");
      argv.push_back(o.get<std::string>());
    }
    if (body.value("at_snapshot", false)) argv.push_back("--at-snapshot");
    const long long stamp =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string log =
        ctx.home() + "/cache/panel-reruns/" + run.ref.test_name + "." + std::to_string(stamp) + ".log";
    const pid_t pid = spawn_detached(ctx.self_executable(), argv, log, ctx.home());
    return HttpResponse::json_body(dump(json{{"ok", true}, {"pid", pid}, {"log", log}, {"argv", argv}}), 202);
  });
}

}  // namespace codedag::server
