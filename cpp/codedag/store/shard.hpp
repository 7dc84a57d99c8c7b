#pragma once
// Shards: the ranks of one distributed job recorded in ONE run (issue 14). Every rank of a job
// (torchrun, Lightning ddp/ddp_spawn, srun, MPI) writes into the run rank 0 created or adopted;
// each rank has a shard under the run's directory:
//
//   <info_dir>/shards/rank<k>/shard.json     codedag.shard/1: who the rank is and how it ended
//   <info_dir>/shards/rank<k>/metrics.jsonl  rank k's log_metric series (k > 0; rank 0's are the
//                                            run's metrics.jsonl, which listings read)
//   <info_dir>/shards/rank<k>/heartbeat.json rank k's lease (k > 0; rank 0's is the run's)
//   <info_dir>/logs/rank<k>.log              rank k's console (stdout and stderr, capped)
//
// shard.json: {schema, rank, world_size, local_rank, attempt, launcher, job_key, status,
// started_at, ended_at?, host, pid, process, metrics_file, log_file, exception?, signal?}.
// Status from the process decides: a rank that fails marks the RUN failed too, with its traceback
// and `failed_rank` (the first failure wins; later ones are added to `failed_ranks`), so a run is
// never "finished" while one of its ranks crashed, whatever rank 0 does afterwards.
//
// Nothing read is trusted: shard.json is parsed with the bounded JSON reader and checked field by
// field; a bad shard is skipped with a warning naming the file, field and line.
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

inline constexpr const char* kShardSchema = "codedag.shard/1";
inline constexpr const char* kShardsDir = "shards";
inline constexpr const char* kRankLogsDir = "logs";
// A shard record holds a traceback at most: far below a run record.
inline constexpr size_t kMaxShardFileBytes = 4u << 20;
// Shards listed per run, at most (a larger world is listed up to this, with a warning).
inline constexpr size_t kMaxShardsListed = 1u << 16;

// <info_dir>/shards/rank<k>
std::string shard_dir(const std::string& info_dir, int rank);
// <info_dir>/logs/rank<k>.log
std::string rank_log_file(const std::string& info_dir, int rank);
// Where rank k's metric series live: the run's metrics.jsonl for rank 0, its shard's otherwise.
std::string rank_metrics_file(const std::string& info_dir, int rank);

struct ShardStart {
  int rank = 0;
  int world_size = 1;
  int local_rank = -1;   // -1: unknown
  int attempt = 0;       // torchelastic restarts (TORCHELASTIC_RESTART_COUNT)
  std::string launcher;  // "torchrun", "slurm", "mpi", "lightning", "torch.distributed", "env"
  std::string job_key;   // the launcher's job identity used to meet (rendezvous.hpp), "" when broadcast
};

// Creates <info_dir>/shards/rank<k>/ and writes its shard.json as "running". A rank restarted in a
// new attempt rewrites its shard (the previous attempt's outcome is kept under `attempts`).
json start_shard(const std::string& info_dir, const ShardStart& start);

// Ends rank k's shard with `status` (finished | failed | killed | interrupted) and `details`
// (exception, signal). When the rank failed, the run is marked failed on its behalf
// (mark_run_failed_by); a killed rank (a cancelled job, the launcher's SIGTERM) is not a cause. Returns the shard as
// written.
json end_shard(const std::string& info_dir, int rank, const std::string& status, const json& details);

// Marks the run failed by rank k (under the run's lock): the first failing rank sets `status`
// "failed", `failed_rank` and `exception` (with its rank); later failures only join `failed_ranks`.
void mark_run_failed_by(const std::string& info_dir, int rank, const std::string& status, const json& details);

// Checks a parsed shard.json; FormatError names the file, field and line.
void validate_shard(const JsonDocument& doc, int expected_rank);
// Reads <info_dir>/shards/rank<k>/shard.json (NotFoundError, FormatError).
json load_shard(const std::string& info_dir, int rank);

// Every shard of a run, by rank; unreadable ones skipped and described in `warnings`.
std::vector<json> read_shards(const std::string& info_dir, std::vector<std::string>& warnings);

// The last `max_lines` lines of rank k's console log ("" when there is none), read bounded.
std::string rank_log_tail(const std::string& info_dir, int rank, size_t max_lines = 20);

}  // namespace codedag::store
