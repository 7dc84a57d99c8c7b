#include "codedag/runner/rerun.hpp"

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <optional>

#include "codedag/common/error.hpp"
#include "codedag/store/git_snapshot.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/subprocess.hpp"

namespace codedag::runner {
namespace fs = std::filesystem;

namespace {

struct Override {
  std::string dashes;  // "--", "-" or ""
  std::string key;
  std::optional<std::string> value;
};

Override parse_override(const std::string& text) {
  Override o;
  size_t i = 0;
  while (i < text.size() && i < 2 && text[i] == '-') ++i;
  o.dashes = text.substr(0, i);
  const size_t eq = text.find('=', i);
  o.key = text.substr(i, eq == std::string::npos ? std::string::npos : eq - i);
  if (eq != std::string::npos) o.value = text.substr(eq + 1);
  if (o.key.empty()) throw InputError("override '" + text + "' has no key: write --key=value");
  return o;
}

}  // namespace

std::vector<std::string> merge_overrides(std::vector<std::string> argv, const std::vector<std::string>& overrides) {
  for (const std::string& text : overrides) {
    const Override o = parse_override(text);
    bool done = false;
    for (size_t i = 1; i < argv.size() && !done; ++i) {
      std::string& tok = argv[i];
      if (tok == "--") break;  // arguments after -- are positional
      size_t d = 0;
      while (d < tok.size() && d < 2 && tok[d] == '-') ++d;
      const std::string body = tok.substr(d);
      if (o.value && body.rfind(o.key + "=", 0) == 0) {  // --key=old / key=old
        tok = tok.substr(0, d) + o.key + "=" + *o.value;
        done = true;
      } else if (d > 0 && body == o.key) {  // --key old  or  --flag
        if (o.value && i + 1 < argv.size() &&
            (argv[i + 1].empty() || argv[i + 1][0] != '-' ||
             std::isdigit(static_cast<unsigned char>(argv[i + 1].size() > 1 ? argv[i + 1][1] : 'x')))) {
          argv[i + 1] = *o.value;
        } else if (o.value) {
          tok = tok + "=" + *o.value;
        }
        done = true;
      }
    }
    if (!done) argv.push_back(text);
  }
  return argv;
}

RerunPlan plan_rerun(store::Store& store, const std::string& id, const std::vector<std::string>& overrides,
                     bool at_snapshot) {
  const store::RunRef ref = store.resolve(id);
  const store::RunId run_id = ref.id();
  const json run = store::load_run(ref.info_dir, &run_id);  // checked: argv strings, hash commit, safe cwd_rel
  const std::string where = ref.info_dir + "/run.json";
  if (!run.contains("argv") || !run["argv"].is_array() || run["argv"].empty())
    throw FormatError(where + ": no recorded \"argv\" to re-run");
  RerunPlan plan;
  plan.from = ref.test_name;
  std::vector<std::string> argv;
  for (const auto& a : run["argv"]) {
    if (!a.is_string()) throw FormatError(where + ": \"argv\" holds a " + json_type_name(a) + ", expected strings");
    argv.push_back(a.get<std::string>());
  }
  plan.program = run.value("executable", std::string());
  // argv[0] becomes the recorded executable (absolute): a relative interpreter path would not
  // resolve inside a snapshot checkout, and Python derives its prefix (venv) from argv[0].
  if (!plan.program.empty())
    argv[0] = plan.program;
  else
    plan.program = argv[0];
  plan.argv = merge_overrides(std::move(argv), overrides);
  plan.cwd = run.value("cwd", std::string());
  if (!at_snapshot) return plan;

  const json git = run.value("git", json::object());
  if (!git.value("present", false))
    throw StateError("run " + ref.test_name + " has no code snapshot (" +
                     git.value("reason", std::string("it was not started inside a git repository")) +
                     "); re-run it without --at-snapshot");
  const std::string toplevel = git.value("toplevel", std::string());
  plan.commit = git.value("commit", std::string());
  plan.snapshot_dir = store.layout().cache_root() + "/reruns/" + ref.test_name + "." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(plan.snapshot_dir, ec);
  store::checkout_snapshot(toplevel, plan.commit, plan.snapshot_dir);
  const std::string rel = git.value("cwd_rel", std::string("."));
  plan.cwd = (fs::path(plan.snapshot_dir) / rel).lexically_normal().string();
  fs::create_directories(plan.cwd, ec);
  // Absolute paths into the repository (python /repo/train.py) point into the snapshot instead.
  const std::string prefix = toplevel + "/";
  for (size_t i = 1; i < plan.argv.size(); ++i)
    if (plan.argv[i].rfind(prefix, 0) == 0) plan.argv[i] = plan.snapshot_dir + "/" + plan.argv[i].substr(prefix.size());
  return plan;
}

int execute_rerun(const RerunPlan& plan) {
  store::SpawnOptions o;
  o.cwd = plan.cwd;
  o.program = plan.program;
  o.capture_stdout = false;
  o.capture_stderr = false;
  o.inherit_stdin = true;
  o.env_set["CODEDAG_RERUN_FROM"] = plan.from;
  if (!plan.commit.empty()) o.env_set["CODEDAG_RERUN_SNAPSHOT"] = plan.commit;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } cleanup{plan.snapshot_dir};
  std::error_code ec;
  if (!plan.cwd.empty() && !fs::is_directory(plan.cwd, ec))
    throw NotFoundError("the recorded working directory '" + plan.cwd +
                        "' no longer exists; re-run with --at-snapshot to use the recorded code");
  const store::SpawnResult r = store::run_process(plan.argv, o);
  return r.signal ? 128 + r.signal : r.exit_code;
}

}  // namespace codedag::runner
