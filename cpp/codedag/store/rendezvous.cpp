#include "codedag/store/rendezvous.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/sha256.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/heartbeat.hpp"

namespace codedag::store {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// A job key is read back from disk and printed: keep it a printable, bounded line.
std::string bounded(std::string s) {
  if (s.size() > 512) s.resize(512);
  return s;
}

constexpr size_t kMaxRendezvousBytes = 64u << 10;

// Entries stay after their job (a slow rank may still need one when rank 0 has finished), so each
// publish removes those older than a week; a bounded look, never an error.
void prune_rendezvous(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(24 * 7);
  size_t looked = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end && looked < 10000; it.increment(ec), ++looked) {
    const std::string name = it->path().filename().string();
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    std::error_code stat_ec;
    if (it->is_regular_file(stat_ec) && it->last_write_time(stat_ec) < cutoff && !stat_ec)
      fs::remove(it->path(), stat_ec);
  }
}

bool is_unsigned_integer(const json& v) { return v.is_number_integer() || v.is_number_unsigned(); }

}  // namespace

JobIdentity launcher_job() {
  const std::string master =
      !env("MASTER_ADDR").empty() && !env("MASTER_PORT").empty() ? env("MASTER_ADDR") + ":" + env("MASTER_PORT") : "";
  if (const std::string elastic = env("TORCHELASTIC_RUN_ID"); !elastic.empty()) {
    if (elastic != "none") return {"torchrun", bounded("torchrun:" + elastic)};
    // torchrun's default rendezvous id is the same for every job: add what tells jobs apart. On one
    // node every rank is a child of the same agent, so the agent's identity does (and it stays the
    // same across the agent's restarts of its workers, which continue the run).
    std::string key = "torchrun:" + master;
    if (!env("LOCAL_WORLD_SIZE").empty() && env("LOCAL_WORLD_SIZE") == env("WORLD_SIZE")) {
      const ProcessIdentity agent = identity_of(static_cast<long>(::getppid()));
      key += ":agent" + std::to_string(agent.pid) + "." + std::to_string(agent.start_ticks);
    }
    return {"torchrun", bounded(key)};
  }
  if (!env("SLURM_JOB_ID").empty() && !env("SLURM_STEP_ID").empty())
    return {"slurm", bounded("slurm:" + env("SLURM_JOB_ID") + "." + env("SLURM_STEP_ID"))};
  for (const char* name : {"PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_hnp_uri", "PMI_KVSNAME"})
    if (const std::string v = env(name); !v.empty()) return {"mpi", bounded(std::string("mpi:") + name + "=" + v)};
  if (!master.empty()) return {"master", bounded("master:" + master)};
  return {};
}

json RendezvousEntry::to_json() const {
  return json{{"schema", kRendezvousSchema}, {"job_key", job_key},       {"run_id", run_id},
              {"attempt", attempt},          {"created_at", created_at}, {"process", process.to_json()}};
}

std::string rendezvous_file(const std::string& home, const std::string& job_key) {
  if (job_key.empty()) throw InputError("rendezvous: the job key is empty");
  return home + "/rendezvous/" + sha256_hex(job_key).substr(0, 32) + ".json";
}

std::optional<RendezvousEntry> read_rendezvous(const std::string& path) {
  std::optional<JsonDocument> doc;
  try {
    doc.emplace(JsonDocument::load(path, JsonLimits{8, kMaxRendezvousBytes}));
  } catch (const NotFoundError&) {
    return std::nullopt;
  }
  const json& v = doc->value();
  if (!v.is_object()) throw doc->error("", "a rendezvous entry must be a JSON object");
  const auto str = [&](const char* key) {
    const auto it = v.find(key);
    if (it == v.end() || !it->is_string()) throw doc->error(std::string("/") + key, "must be a string");
    return it->get<std::string>();
  };
  if (str("schema") != kRendezvousSchema) throw doc->error("/schema", std::string("expected ") + kRendezvousSchema);
  RendezvousEntry e;
  e.job_key = str("job_key");
  e.run_id = str("run_id");
  if (e.run_id.empty()) throw doc->error("/run_id", "is empty");
  const auto attempt = v.find("attempt");
  if (attempt == v.end() || !attempt->is_number_integer() || attempt->get<long long>() < 0 ||
      attempt->get<long long>() > 1000000)
    throw doc->error("/attempt", "must be an integer from 0 to 1000000");
  e.attempt = attempt->get<int>();
  const auto created = v.find("created_at");
  if (created == v.end() || !created->is_number()) throw doc->error("/created_at", "must be a number");
  e.created_at = created->get<double>();
  const auto p = v.find("process");
  if (p == v.end() || !p->is_object() || !p->contains("pid") || !is_unsigned_integer((*p)["pid"]) ||
      !p->contains("start_ticks") || !is_unsigned_integer((*p)["start_ticks"]) ||
      !(*p).value("boot_id", json("")).is_string() || !(*p).value("host", json("")).is_string())
    throw doc->error("/process", "must be {pid, start_ticks, boot_id, host}");
  e.process = ProcessIdentity::from_json(*p);
  return e;
}

void publish_rendezvous(const std::string& home, const std::string& job_key, const std::string& run_id, int attempt) {
  const std::string path = rendezvous_file(home, job_key);
  make_directories(home + "/rendezvous");
  prune_rendezvous(home + "/rendezvous");
  RendezvousEntry mine{job_key, run_id, attempt, unix_now(), self_identity()};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  write_file_atomic(tmp, dump_json(mine.to_json()) + "\n");
  struct Cleanup {
    const std::string& p;
    ~Cleanup() { ::unlink(p.c_str()); }
  } cleanup{tmp};
  for (int tries = 0; tries < 3; ++tries) {
    if (::link(tmp.c_str(), path.c_str()) == 0) return;
    if (errno != EEXIST) throw SystemCallError("rendezvous: cannot create " + path + ": " + std::strerror(errno));
    std::optional<RendezvousEntry> held;
    try {
      held = read_rendezvous(path);
    } catch (const FormatError&) {
      // A damaged entry cannot be joined by anyone: replace it.
    }
    if (held && held->run_id != run_id && held->attempt == attempt && liveness(held->process) != Liveness::gone &&
        held->process.pid != mine.process.pid)
      throw StateError("rendezvous: job key '" + term::printable(job_key) + "' is held by run " +
                       term::printable(held->run_id) + " (pid " + std::to_string(held->process.pid) + " on " +
                       term::printable(held->process.host) +
                       "): two jobs share one launcher identity; give each job its own (torchrun --rdzv-id, "
                       "MASTER_PORT) or set CODEDAG_RUN_ID");
    // Stale (its creator is gone), an earlier attempt, or ours: replace it atomically.
    if (::rename(tmp.c_str(), path.c_str()) == 0) return;
    if (errno != ENOENT) throw SystemCallError("rendezvous: cannot replace " + path + ": " + std::strerror(errno));
    write_file_atomic(tmp, dump_json(mine.to_json()) + "\n");
  }
  throw StateError("rendezvous: " + path + " keeps changing under this process; another job uses the same key");
}

RendezvousEntry await_rendezvous(const std::string& home, const std::string& job_key, int attempt, double not_before,
                                 double timeout_seconds) {
  const std::string path = rendezvous_file(home, job_key);
  const double started = process_start_time();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  auto pause = std::chrono::milliseconds(10);
  std::string seen = "nothing";
  for (;;) {
    try {
      if (std::optional<RendezvousEntry> e = read_rendezvous(path)) {
        if (e->attempt != attempt)
          seen = "an entry of attempt " + std::to_string(e->attempt) + " (this is attempt " + std::to_string(attempt) +
                 ")";
        else if (e->created_at < not_before)
          seen = "a stale entry for run " + term::printable(e->run_id) + " made before this job started";
        else if (liveness(e->process) == Liveness::gone && e->created_at < started)
          seen = "an entry for run " + term::printable(e->run_id) + " whose rank 0 (pid " +
                 std::to_string(e->process.pid) + ") is gone and made it before this rank started";
        else
          return *e;  // a rank 0 that is gone may have made it for us and finished first: join
      }
    } catch (const FormatError& err) {
      seen = std::string("an unreadable entry (") + err.what() + ")";  // maybe being replaced: retry
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw StateError("rendezvous: no run published by rank 0 for job '" + term::printable(job_key) + "' after " +
                       std::to_string(static_cast<long>(timeout_seconds)) + " s (found " + seen + " at " + path +
                       "); is rank 0 running codedag.Experiment with the same CODEDAG_HOME? "
                       "CODEDAG_RENDEZVOUS_TIMEOUT sets the wait");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

double process_start_time() {
  const unsigned long long ticks = self_identity().start_ticks;
  std::ifstream stat("/proc/stat");
  std::string word;
  double btime = 0;
  while (stat >> word)
    if (word == "btime") {
      stat >> btime;
      break;
    }
  const long hz = ::sysconf(_SC_CLK_TCK);
  if (ticks == 0 || btime <= 0 || hz <= 0) return 0;
  return btime + static_cast<double>(ticks) / static_cast<double>(hz);
}

double default_rendezvous_timeout() {
  const char* v = std::getenv("CODEDAG_RENDEZVOUS_TIMEOUT");
  if (v && *v) {
    char* end = nullptr;
    const double t = std::strtod(v, &end);
    if (end != v && *end == '\0' && t > 0 && t < 1e7) return t;
  }
  return 600;
}

}  // namespace codedag::store
