#include "codedag/store/run_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/change_journal.hpp"
#include "codedag/store/layout.hpp"

namespace codedag::store {
namespace {

// Every run.json write of the engine goes through here: the change journal names the run before the
// rename (an intent: a crash between the two cannot hide the change) and after it (a listing that
// read the intent before the rename landed looks again). See change_journal.hpp.
void write_journaled(const std::string& info_dir, const std::string& content) {
  journal_run_change(info_dir);
  write_file_atomic(info_dir + "/" + kRunFile, content);
  journal_run_change(info_dir);
}

std::string serialize(const json& run) { return run.dump(1, ' ', false, json::error_handler_t::replace) + "\n"; }

bool is_hex_id(const std::string& s) {
  if (s.size() != 40 && s.size() != 64) return false;  // SHA-1 or SHA-256 repositories
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Checks one record; `fail(pointer, message)` throws.
class RecordChecker {
 public:
  RecordChecker(const JsonDocument& doc) : doc_(doc), r_(doc.value()) {}

  [[noreturn]] void fail(const std::string& pointer, const std::string& message) const {
    throw doc_.error(pointer, message);
  }
  // The member `key` of object `o` (at `pointer`), if present, must have one of the given kinds.
  const json* member(const json& o, const std::string& pointer, const char* key,
                     std::initializer_list<const char*> kinds) const {
    const auto it = o.find(key);
    if (it == o.end()) return nullptr;
    const std::string type = json_type_name(*it);
    for (const char* k : kinds)
      if (type == k) return &*it;
    std::string want;
    for (const char* k : kinds) want += (want.empty() ? "" : " or ") + std::string(k);
    fail(pointer + "/" + key, "must be " + want + ", found " + type);
  }

  void check(const RunId* expected) const {
    if (!r_.is_object()) fail("", std::string("a run record must be a JSON object, found ") + json_type_name(r_));
    if (const json* s = member(r_, "", "schema", {"string"}); s && s->get<std::string>() != "codedag.run/1")
      fail("/schema", "is \"" + s->get<std::string>() + "\", expected \"codedag.run/1\"");
    const json* name = member(r_, "", "name", {"string"});
    const json* test_name = member(r_, "", "test_name", {"string"});
    if (!name) fail("/name", "is missing");
    if (!test_name) fail("/test_name", "is missing");
    RunId id;
    try {
      id = checked_run_id(name->get<std::string>(), test_name->get<std::string>());
    } catch (const InputError& e) {
      fail("/name", e.what());
    }
    if (expected && (id.name != expected->name || id.test_name != expected->test_name))
      fail("/test_name", "says " + id.str() + " but belongs to " + expected->str());
    if (const json* s = member(r_, "", "status", {"string"}); s && !is_known_status(s->get<std::string>()))
      fail("/status", "\"" + s->get<std::string>() +
                          "\" is not a status (running, finished, failed, killed, interrupted, dead, queued, pending)");
    for (const char* k : {"started_at", "ended_at", "duration"}) member(r_, "", k, {"number"});
    member(r_, "", "deleted", {"boolean"});
    member(r_, "", "deleted_at", {"number"});
    for (const char* k : {"host", "user", "cwd", "executable", "lastcmd"}) member(r_, "", k, {"string"});
    member(r_, "", "pid", {"number"});
    for (const char* k : {"info", "properties", "attachments", "env", "versions", "inventory", "process"})
      member(r_, "", k, {"object"});
    for (const char* k : {"argv", "script_argv"})
      if (const json* a = member(r_, "", k, {"array"}))
        for (size_t i = 0; i < a->size(); ++i)
          if (!(*a)[i].is_string()) fail(std::string("/") + k + "/" + std::to_string(i), "must be a string");
    if (const json* tags = member(r_, "", "tags", {"array"}))
      for (size_t i = 0; i < tags->size(); ++i)
        if (!(*tags)[i].is_string()) fail("/tags/" + std::to_string(i), "must be a string");
    member(r_, "", "notes", {"array"});
    for (const char* k : {"metrics", "last"})
      if (const json* m = member(r_, "", k, {"object"}))
        for (const auto& [key, v] : m->items()) {
          const std::string p = std::string("/") + k + "/" + escape_pointer(key);
          if (!v.is_object()) fail(p, std::string("must be an object {\"value\": ...}, found ") + json_type_name(v));
          member(v, p, "value", {"number", "null"});
          member(v, p, "step", {"number", "null"});
          member(v, p, "cmp", {"string"});
        }
    if (const json* p = member(r_, "", "process", {"object"})) {
      member(*p, "/process", "pid", {"number"});
      member(*p, "/process", "start_ticks", {"number"});
      member(*p, "/process", "boot_id", {"string"});
      member(*p, "/process", "host", {"string"});
    }
    if (const json* d = member(r_, "", "dead", {"object"})) {
      member(*d, "/dead", "last_heartbeat", {"number"});
      member(*d, "/dead", "detected_at", {"number"});
      member(*d, "/dead", "reason", {"string"});
    }
    member(r_, "", "exception", {"object", "string"});
    member(r_, "", "signal", {"string", "number"});
    if (const json* g = member(r_, "", "git", {"object"})) check_git(*g, id);
  }

 private:
  static std::string escape_pointer(const std::string& key) {
    std::string out;
    for (char c : key) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
    return out;
  }
  // The snapshot's fields become git arguments and paths: a ref other than the run's own, a commit
  // that is not a hash (an option, a revision expression) or a cwd_rel leaving the checkout is refused.
  void check_git(const json& g, const RunId& id) const {
    const json* present = member(g, "/git", "present", {"boolean"});
    member(g, "/git", "reason", {"string"});
    if (!present || !present->get<bool>()) return;
    const json* ref = member(g, "/git", "ref", {"string"});
    if (ref && ref->get<std::string>() != id.ref())
      fail("/git/ref", "is \"" + ref->get<std::string>() + "\"; a run's snapshot ref can only be " + id.ref());
    for (const char* k : {"commit", "tree"})
      if (const json* h = member(g, "/git", k, {"string"}); h && !is_hex_id(h->get<std::string>()))
        fail(std::string("/git/") + k, "is not a git object id (40 or 64 hexadecimal digits)");
    if (const json* p = member(g, "/git", "parent", {"string", "null"});
        p && p->is_string() && !is_hex_id(p->get<std::string>()))
      fail("/git/parent", "is not a git object id (40 or 64 hexadecimal digits)");
    if (const json* t = member(g, "/git", "toplevel", {"string"})) {
      const std::string top = t->get<std::string>();
      if (top.empty() || top[0] != '/' || top.find('\0') != std::string::npos)
        fail("/git/toplevel", "must be an absolute path");
    }
    if (const json* c = member(g, "/git", "cwd_rel", {"string"})) {
      const std::string rel = c->get<std::string>();
      if (rel != "." && !is_safe_relative_path(rel))
        fail("/git/cwd_rel", "must be a relative path inside the repository");
    }
    member(g, "/git", "dirty", {"boolean"});
    member(g, "/git", "branch", {"string", "null"});
    member(g, "/git", "skipped", {"array"});
  }

  const JsonDocument& doc_;
  const json& r_;
};

}  // namespace

bool is_known_status(const std::string& s) {
  return s == "running" || s == "finished" || s == "failed" || s == "killed" || s == "interrupted" || s == "dead" ||
         s == "queued" || s == "pending";
}

void validate_run_record(const JsonDocument& doc, const RunId* expected) { RecordChecker(doc).check(expected); }

RunLock::RunLock(const std::string& info_dir) {
  const std::string path = info_dir + "/" + kLockFile;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) throw_system_error("cannot open the run lock", path);
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      const int err = errno;
      ::close(fd_);
      errno = err;
      throw_system_error("cannot lock", path);
    }
  }
}

RunLock::~RunLock() { ::close(fd_); }  // closing releases the flock

json load_run(const std::string& info_dir, const RunId* expected) {
  JsonLimits limits;
  limits.max_bytes = kMaxRunFileBytes;
  JsonDocument doc = JsonDocument::load(info_dir + "/" + kRunFile, limits);
  validate_run_record(doc, expected);
  return std::move(doc.value());
}

json update_run(const std::string& info_dir, const std::function<void(json&)>& change) {
  RunLock lock(info_dir);
  json run = load_run(info_dir);
  change(run);
  write_journaled(info_dir, serialize(run));
  return run;
}

void create_run(const std::string& info_dir, const json& run) { write_journaled(info_dir, serialize(run)); }

}  // namespace codedag::store
