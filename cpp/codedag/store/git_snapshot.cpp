#include "codedag/store/git_snapshot.hpp"

#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <map>
#include <optional>

#include "codedag/common/error.hpp"
#include "codedag/store/subprocess.hpp"

namespace codedag::store {
namespace {

namespace fs = std::filesystem;

std::string strip(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A temporary index file that is removed however the snapshot ends.
struct TempIndex {
  std::string path;
  explicit TempIndex(const std::string& dir) {
    unsigned r = 0;
    if (::getrandom(&r, sizeof r, 0) != sizeof r) r = static_cast<unsigned>(::getpid());
    path = dir + "/codedag-index." + std::to_string(::getpid()) + "." + std::to_string(r);
  }
  ~TempIndex() {
    std::error_code ec;
    fs::remove(path, ec);
    fs::remove(path + ".lock", ec);
  }
};

struct Git {
  std::string toplevel;
  std::map<std::string, std::string> env;

  SpawnResult run(std::vector<std::string> args, std::optional<std::string> input = std::nullopt) const {
    args.insert(args.begin(), {"git", "--literal-pathspecs", "-C", toplevel});
    SpawnOptions o;
    o.env_set = env;
    // A hook or pager must never wait on the terminal.
    o.env_set["GIT_TERMINAL_PROMPT"] = "0";
    o.env_set["GIT_OPTIONAL_LOCKS"] = "0";
    o.stdin_data = std::move(input);
    return run_process(args, o);
  }
  std::string must(std::vector<std::string> args, std::optional<std::string> input = std::nullopt) const {
    const SpawnResult r = run(args, std::move(input));
    if (r.exit_code != 0) {
      std::string cmd = "git";
      for (const auto& a : args) cmd += " " + a;
      throw Error("snapshot: `" + cmd + "` failed in '" + toplevel + "': " + strip(r.err));
    }
    return strip(r.out);
  }
};

}  // namespace

json git_snapshot(const std::string& cwd, const std::string& ref, const std::string& message,
                  const SnapshotOptions& options) {
  SpawnResult top;
  try {
    SpawnOptions o;
    o.env_set["GIT_OPTIONAL_LOCKS"] = "0";
    top = run_process({"git", "-C", cwd, "rev-parse", "--show-toplevel"}, o);
  } catch (const SystemCallError&) {
    return json{{"present", false}, {"reason", "git is not installed"}};
  }
  if (top.exit_code != 0) return json{{"present", false}, {"reason", "not inside a git repository: " + cwd}};
  Git git{strip(top.out), {}};
  const std::string git_dir = git.must({"rev-parse", "--absolute-git-dir"});
  const SpawnResult head_r = git.run({"rev-parse", "--verify", "-q", "HEAD^{commit}"});
  const std::string head = head_r.exit_code == 0 ? strip(head_r.out) : std::string();
  const SpawnResult branch_r = git.run({"symbolic-ref", "-q", "--short", "HEAD"});

  sweep_snapshot_leftovers(git_dir);
  // The temporary index starts as a copy of the user's (so unchanged files are not re-hashed) and
  // lives next to it, on the same file system.
  TempIndex index(git_dir);
  std::string real_index = git.must({"rev-parse", "--git-path", "index"});
  if (!fs::path(real_index).is_absolute()) real_index = (fs::path(git.toplevel) / real_index).string();
  std::error_code ec;
  if (fs::exists(real_index, ec)) {
    fs::copy_file(real_index, index.path, ec);
    // Keep the index's own mtime: git re-hashes "racily clean" entries (files modified in the same
    // second the index was written) only by comparing with it; a fresh mtime would hide such edits.
    if (!ec) fs::last_write_time(index.path, fs::last_write_time(real_index, ec), ec);
  }
  git.env["GIT_INDEX_FILE"] = index.path;

  git.must({"add", "-u", "--", "."});
  // Untracked, not ignored: added one by one under the caps; the rest is listed as skipped.
  std::string to_add;
  json skipped = json::array();
  uint64_t total = 0;
  size_t pos = 0;
  const SpawnResult listed = git.run({"ls-files", "-z", "--others", "--exclude-standard", "--", "."});
  const std::string& untracked_raw = listed.out;
  while (pos < untracked_raw.size()) {
    size_t z = untracked_raw.find('\0', pos);
    if (z == std::string::npos) z = untracked_raw.size();
    const std::string rel = untracked_raw.substr(pos, z - pos);
    pos = z + 1;
    if (rel.empty()) continue;
    struct stat st {};
    if (::lstat((git.toplevel + "/" + rel).c_str(), &st) != 0) continue;  // vanished meanwhile
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size > options.max_file_bytes || total + size > options.max_total_bytes) {
      skipped.push_back(json{{"path", rel}, {"bytes", size}});
      continue;
    }
    total += size;
    to_add += rel;
    to_add.push_back('\0');
  }
  if (!to_add.empty()) git.must({"add", "--pathspec-from-file=-", "--pathspec-file-nul"}, to_add);
  const std::string tree = git.must({"write-tree"});
  bool dirty = true;
  if (!head.empty()) dirty = git.must({"rev-parse", head + "^{tree}"}) != tree;

  // The snapshot's author is CodeDAG, so no user.name/user.email configuration is needed.
  git.env["GIT_AUTHOR_NAME"] = git.env["GIT_COMMITTER_NAME"] = "codedag";
  git.env["GIT_AUTHOR_EMAIL"] = git.env["GIT_COMMITTER_EMAIL"] = "codedag@localhost";
  std::vector<std::string> commit_args = {"commit-tree", tree, "-m", message};
  if (!head.empty()) commit_args.insert(commit_args.begin() + 2, {"-p", head});
  const std::string commit = git.must(commit_args);
  git.must({"update-ref", "-m", "codedag snapshot", ref, commit});

  std::string cwd_rel =
      fs::relative(fs::weakly_canonical(cwd, ec), fs::weakly_canonical(git.toplevel, ec), ec).string();
  if (cwd_rel.empty()) cwd_rel = ".";
  return json{{"present", true},
              {"commit", commit},
              {"tree", tree},
              {"parent", head.empty() ? json(nullptr) : json(head)},
              {"branch", branch_r.exit_code == 0 ? json(strip(branch_r.out)) : json(nullptr)},
              {"dirty", dirty},
              {"ref", ref},
              {"toplevel", git.toplevel},
              {"cwd_rel", cwd_rel},
              {"skipped", skipped}};
}

void checkout_snapshot(const std::string& toplevel, const std::string& commit, const std::string& dest) {
  Git git{toplevel, {}};
  const SpawnResult exists = git.run({"cat-file", "-e", commit + "^{commit}"});
  if (exists.exit_code != 0)
    throw NotFoundError("snapshot commit " + commit + " is not in the repository '" + toplevel +
                        "' (was refs/codedag/... deleted, or the repository moved?)");
  fs::create_directories(dest);
  TempIndex index(dest);
  git.env["GIT_INDEX_FILE"] = index.path;
  git.must({"read-tree", commit});
  git.must({"--work-tree=" + dest, "checkout-index", "-a", "-f"});
}

namespace {

// The repository at `toplevel`, if it is one (and is its own top level: not a directory inside
// another repository, which `git -C` would silently use).
std::optional<Git> repository_at(const std::string& toplevel) {
  std::error_code ec;
  if (toplevel.empty() || toplevel[0] != '/' || !fs::is_directory(toplevel, ec)) return std::nullopt;
  Git git{toplevel, {}};
  SpawnResult r;
  try {
    r = git.run({"rev-parse", "--show-toplevel"});
  } catch (const SystemCallError&) {
    return std::nullopt;  // git is not installed
  }
  if (r.exit_code != 0) return std::nullopt;
  const fs::path found = fs::weakly_canonical(strip(r.out), ec), wanted = fs::weakly_canonical(toplevel, ec);
  if (found != wanted) return std::nullopt;
  return git;
}

}  // namespace

std::string delete_snapshot_ref(const std::string& toplevel, const std::string& ref, const std::string& commit) {
  const auto git = repository_at(toplevel);
  if (!git) return "its snapshot ref was left alone: '" + toplevel + "' is no longer a git repository";
  const SpawnResult has = git->run({"rev-parse", "-q", "--verify", ref});
  if (has.exit_code != 0) return "";  // already gone
  if (strip(has.out) != commit)
    return "its snapshot ref " + ref + " in '" + toplevel + "' now names another commit; left alone";
  // The old value makes git refuse if the ref moved between the check and the deletion.
  const SpawnResult del = git->run({"update-ref", "-d", ref, commit});
  if (del.exit_code != 0) return "cannot delete " + ref + " in '" + toplevel + "': " + strip(del.err);
  return "";
}

std::string fetch_snapshot_ref(const std::string& toplevel, const std::string& bundle, const std::string& ref,
                               const std::string& commit) {
  const auto git = repository_at(toplevel);
  if (!git) return "the recorded repository '" + toplevel + "' does not exist here";
  if (git->run({"rev-parse", "-q", "--verify", ref}).exit_code == 0)
    return "the repository already has " + ref + " (left as it is)";
  // The bundle must hold exactly the run's ref: anything else in it is ignored, never fetched.
  const SpawnResult heads = git->run({"bundle", "list-heads", bundle, ref});
  if (heads.exit_code != 0 || strip(heads.out).rfind(commit + " " + ref, 0) != 0)
    return "the archive's snapshot bundle does not hold " + ref + " at " + commit.substr(0, 12);
  const SpawnResult f = git->run({"fetch", "-q", "--no-tags", "--no-write-fetch-head", bundle, ref + ":" + ref});
  if (f.exit_code != 0) return "git fetch failed: " + strip(f.err);
  const SpawnResult now = git->run({"rev-parse", "-q", "--verify", ref});
  if (now.exit_code != 0 || strip(now.out) != commit) {
    git->run({"update-ref", "-d", ref});
    return "the fetched " + ref + " does not name the recorded commit; removed";
  }
  return "";
}

int sweep_snapshot_leftovers(const std::string& git_dir, double min_age_seconds) {
  int removed = 0;
  DIR* d = ::opendir(git_dir.c_str());
  if (!d) return 0;
  const double now = static_cast<double>(std::time(nullptr));
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.rfind("codedag-index.", 0) != 0) continue;
    struct stat st {};
    const std::string p = git_dir + "/" + n;
    if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        now - static_cast<double>(st.st_mtim.tv_sec) >= min_age_seconds && ::unlink(p.c_str()) == 0)
      ++removed;
  }
  ::closedir(d);
  return removed;
}

std::string snapshot_diff(const std::string& toplevel, const std::string& a, const std::string& b, bool stat_only) {
  Git git{toplevel, {}};
  std::vector<std::string> args = {"diff", "--no-color", "--no-ext-diff"};
  if (stat_only) args.push_back("--stat");
  args.push_back(a);
  args.push_back(b);
  args.push_back("--");
  const SpawnResult r = git.run(args);
  if (r.exit_code != 0)
    throw Error("cannot diff snapshots " + a + " and " + b + " in '" + toplevel + "': " + strip(r.err));
  return r.out;
}

}  // namespace codedag::store
