#include "codedag/store/shard.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/process_rank.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/layout.hpp"
#include "codedag/store/process_identity.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/safe_fs.hpp"

namespace codedag::store {
namespace {

std::string shard_file(const std::string& info_dir, int rank) { return shard_dir(info_dir, rank) + "/shard.json"; }

void check_rank(int rank, const char* what) {
  if (rank < 0 || rank >= kMaxWorldSize)
    throw InputError(std::string(what) + ": rank " + std::to_string(rank) + " is outside 0.." +
                     std::to_string(kMaxWorldSize - 1));
}

bool is_shard_status(const std::string& s) {
  return s == "running" || s == "finished" || s == "failed" || s == "killed" || s == "interrupted";
}

// "rank<digits>" without leading zeros → the rank; -1 otherwise.
int rank_of_entry(const std::string& name) {
  if (name.size() < 5 || name.size() > 12 || name.compare(0, 4, "rank") != 0) return -1;
  if (name.size() > 5 && name[4] == '0') return -1;
  long n = 0;
  for (size_t i = 4; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    n = n * 10 + (name[i] - '0');
    if (n >= kMaxWorldSize) return -1;
  }
  return static_cast<int>(n);
}

void save_shard(const std::string& info_dir, int rank, const json& shard) {
  save_json_file(shard_file(info_dir, rank), shard, 1);
}

}  // namespace

std::string shard_dir(const std::string& info_dir, int rank) {
  return info_dir + "/" + kShardsDir + "/rank" + std::to_string(rank);
}
std::string rank_log_file(const std::string& info_dir, int rank) {
  return info_dir + "/" + kRankLogsDir + "/rank" + std::to_string(rank) + ".log";
}
std::string rank_metrics_file(const std::string& info_dir, int rank) {
  return rank == 0 ? info_dir + "/" + kMetricsFile : shard_dir(info_dir, rank) + "/" + kMetricsFile;
}

json start_shard(const std::string& info_dir, const ShardStart& s) {
  check_rank(s.rank, "start_shard");
  if (s.world_size < 1 || s.world_size > kMaxWorldSize || s.rank >= s.world_size)
    throw InputError("start_shard: rank " + std::to_string(s.rank) + " does not fit a world of " +
                     std::to_string(s.world_size) + " ranks");
  if (s.attempt < 0) throw InputError("start_shard: attempt " + std::to_string(s.attempt) + " is negative");
  make_directories(shard_dir(info_dir, s.rank));
  make_directories(info_dir + "/" + kRankLogsDir);
  json attempts = json::array();
  // A torchelastic restart: this rank's shard from the previous attempt is history, not lost.
  try {
    json previous = load_shard(info_dir, s.rank);
    if (previous.contains("attempts") && previous["attempts"].is_array()) attempts = previous["attempts"];
    previous.erase("attempts");
    attempts.push_back(previous);
  } catch (const NotFoundError&) {
  } catch (const FormatError& e) {
    attempts.push_back(json{{"unreadable", e.what()}});
  }
  const ProcessIdentity self = self_identity();
  json shard = json::object();
  shard["schema"] = kShardSchema;
  shard["rank"] = s.rank;
  shard["world_size"] = s.world_size;
  shard["local_rank"] = s.local_rank;
  shard["attempt"] = s.attempt;
  shard["launcher"] = s.launcher;
  shard["job_key"] = s.job_key;
  shard["status"] = "running";
  shard["started_at"] = unix_now();
  shard["host"] = self.host;
  shard["pid"] = self.pid;
  shard["process"] = self.to_json();
  // Relative to the run's directory, so a restored backup still finds them.
  shard["metrics_file"] = s.rank == 0 ? std::string(kMetricsFile)
                                      : std::string(kShardsDir) + "/rank" + std::to_string(s.rank) + "/" + kMetricsFile;
  shard["log_file"] = std::string(kRankLogsDir) + "/rank" + std::to_string(s.rank) + ".log";
  if (!attempts.empty()) shard["attempts"] = attempts;
  save_shard(info_dir, s.rank, shard);
  return shard;
}

json end_shard(const std::string& info_dir, int rank, const std::string& status, const json& details) {
  check_rank(rank, "end_shard");
  if (status == "running" || !is_shard_status(status))
    throw InputError("end_shard: status '" + term::printable(status) +
                     "' is not one of finished, failed, killed, interrupted");
  json shard = load_shard(info_dir, rank);
  shard["status"] = status;
  const double now = unix_now();
  shard["ended_at"] = now;
  if (details.is_object())
    for (const auto& [k, v] : details.items())
      if (k != "schema" && k != "rank" && k != "status" && k != "attempts") shard[k] = v;
  save_shard(info_dir, rank, shard);
  // A killed rank (the launcher's SIGTERM after another rank failed, a cancelled job) is not a cause.
  if (status == "failed") mark_run_failed_by(info_dir, rank, status, details);
  return shard;
}

void mark_run_failed_by(const std::string& info_dir, int rank, const std::string& status, const json& details) {
  check_rank(rank, "mark_run_failed_by");
  update_run(info_dir, [&](json& r) {
    json& ranks = r["failed_ranks"];
    if (!ranks.is_array()) ranks = json::array();
    if (std::find(ranks.begin(), ranks.end(), json(rank)) == ranks.end()) ranks.push_back(rank);
    // The first rank to fail is the cause; the others usually fail because it went (a collective
    // that lost a peer, the launcher's SIGTERM). Its traceback is the one worth reading.
    if (r.contains("failed_rank")) return;
    r["failed_rank"] = rank;
    r["status"] = "failed";
    json exception = details.is_object() && details.contains("exception") && details["exception"].is_object()
                         ? details["exception"]
                         : json{{"type", status == "killed" ? "Killed" : "RankFailed"},
                                {"message", "rank " + std::to_string(rank) + " ended " + status}};
    exception["rank"] = rank;
    if (details.is_object() && details.contains("signal")) exception["signal"] = details["signal"];
    r["exception"] = exception;
  });
}

void validate_shard(const JsonDocument& doc, int expected_rank) {
  const json& s = doc.value();
  if (!s.is_object()) throw doc.error("", "a shard record must be a JSON object");
  const auto need = [&](const char* key, json::value_t a, json::value_t b = json::value_t::discarded) -> const json& {
    const auto it = s.find(key);
    if (it == s.end()) throw doc.error(std::string("/") + key, "is missing");
    if (it->type() != a && it->type() != b &&
        !(a == json::value_t::number_integer && it->type() == json::value_t::number_unsigned))
      throw doc.error(std::string("/") + key, std::string("must be ") +
                                                  (a == json::value_t::string ? "a string" : "an integer") +
                                                  ", found " + json_type_name(*it));
    return *it;
  };
  if (need("schema", json::value_t::string).get<std::string>() != kShardSchema)
    throw doc.error("/schema", std::string("expected \"") + kShardSchema + "\"");
  const json& rank = need("rank", json::value_t::number_integer);
  if (!rank.is_number_integer() || rank.get<long long>() != expected_rank)
    throw doc.error("/rank", "does not match its directory rank" + std::to_string(expected_rank));
  const json& world = need("world_size", json::value_t::number_integer);
  if (world.get<long long>() < 1 || world.get<long long>() > kMaxWorldSize || world.get<long long>() <= expected_rank)
    throw doc.error("/world_size", "must be more than the rank and at most " + std::to_string(kMaxWorldSize));
  const std::string status = need("status", json::value_t::string).get<std::string>();
  if (!is_shard_status(status)) throw doc.error("/status", "'" + term::printable(status) + "' is not a shard status");
  if (const auto it = s.find("exception"); it != s.end() && !it->is_object())
    throw doc.error("/exception", "must be an object");
  for (const char* key : {"started_at", "ended_at"})
    if (const auto it = s.find(key); it != s.end() && !it->is_number())
      throw doc.error(std::string("/") + key, "must be a number");
  for (const char* key : {"metrics_file", "log_file"})
    if (const auto it = s.find(key); it != s.end()) {
      if (!it->is_string()) throw doc.error(std::string("/") + key, "must be a string");
      const std::string rel = it->get<std::string>();
      // Paths read from disk are never followed outside the run.
      if (rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos)
        throw doc.error(std::string("/") + key, "must be a path inside the run's directory");
    }
}

json load_shard(const std::string& info_dir, int rank) {
  JsonDocument doc = JsonDocument::load(shard_file(info_dir, rank), JsonLimits{64, kMaxShardFileBytes});
  validate_shard(doc, rank);
  return std::move(doc.value());
}

std::vector<json> read_shards(const std::string& info_dir, std::vector<std::string>& warnings) {
  std::vector<std::pair<int, std::string>> ranks;
  const DirFd dir = open_dir_under(info_dir, {kShardsDir});
  if (!dir) return {};
  for (const DirEntry& e : directory_entries(dir.get())) {
    const int rank = rank_of_entry(e.name);
    if (rank < 0) {
      warnings.push_back(info_dir + "/" + kShardsDir + "/" + e.name + ": not a shard directory (rank<k>), skipped");
      continue;
    }
    ranks.emplace_back(rank, e.name);
  }
  std::sort(ranks.begin(), ranks.end());
  if (ranks.size() > kMaxShardsListed) {
    warnings.push_back(info_dir + ": " + std::to_string(ranks.size()) + " shards, the first " +
                       std::to_string(kMaxShardsListed) + " listed");
    ranks.resize(kMaxShardsListed);
  }
  std::vector<json> out;
  for (const auto& [rank, name] : ranks) {
    try {
      out.push_back(load_shard(info_dir, rank));
    } catch (const Error& e) {
      warnings.push_back(std::string(e.what()) + " (shard skipped)");
    }
  }
  return out;
}

std::string rank_log_tail(const std::string& info_dir, int rank, size_t max_lines) {
  check_rank(rank, "rank_log_tail");
  const std::string path = rank_log_file(info_dir, rank);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return "";
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    // The tail only: a log may be large; 64 KiB holds far more than max_lines ordinary lines.
    const off_t want = std::min<off_t>(st.st_size, 64 << 10);
    text.resize(static_cast<size_t>(want));
    const ssize_t n = ::pread(fd, text.data(), text.size(), st.st_size - want);
    text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  ::close(fd);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t pos = text.size();
  for (size_t lines = 0; pos > 0; --pos)
    if (text[pos - 1] == '\n' && ++lines == max_lines) break;
  return text.substr(pos);
}

}  // namespace codedag::store
