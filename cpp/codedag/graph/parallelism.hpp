#pragma once
// How many DataLoader workers, how many threads each, and what batch size: the part of a plan that
// is not a placement. Moving code into the main process and choosing the worker count are one
// decision on a machine with few cores (two workers already fill two cores; the main process
// shares them), so the optimizer scores every worker count from 0 to a bound with the cost model
// (device model with `cores`) and keeps the best placement over all of them. It also keeps the best
// *plain* DataLoader (nothing moved) it found, so the plan is never worse than a worker count the
// optimizer itself considered.
#include <cstdint>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::graph {

// One worker count the optimizer scored.
struct WorkerSetting {
  int64_t workers = 0;
  double plan_cost = 0;   // the best placement with this many workers (ns per batch)
  double plain_cost = 0;  // everything in the workers: a plain DataLoader
  std::string limit;      // what sets plan_cost: an executor, "serial" or "cores"
};

struct Parallelism {
  int64_t workers = 1;             // DataLoader workers the plan runs with
  int64_t threads_per_worker = 1;  // intra-op threads (torch and BLAS) in each worker
  // false: the workers keep the threads torch gives them (threads_per_worker is not applied). The
  // closed loop measures both; a limit that avoids oversubscription on one pipeline slows another.
  bool limit_threads = true;
  int64_t main_threads = 1;   // threads for the main process's batch work
  int64_t plain_workers = 1;  // the best plain DataLoader by the model
  int64_t plain_threads_per_worker = 1;
  double plain_cost = 0;
  int64_t untouched_workers = -1;  // the traced loader's worker count (-1: the DAG does not say)
  double untouched_cost = 0;       // a plain DataLoader with untouched_workers (0: unknown)
  double cores = 0;
  int64_t batch_size = 0;            // samples per traced batch (0: the DAG does not say)
  int64_t suggested_batch_size = 0;  // 0: no suggestion
  std::string batch_size_reason;
  std::vector<WorkerSetting> settings;

  json to_json() const;
  // Validates every field (a plan file is untrusted): FormatError "<origin>: parallelism.<field> ...".
  static Parallelism from_json(const json& doc, const std::string& origin);
};

// Threads per worker that keep `workers` processes plus the main process's busy share (`main_busy`,
// 0..1 of a core) within `cores`: at least 1. With 0 workers, the main process's threads.
int64_t threads_per_worker(double cores, int64_t workers, double main_busy);

// A batch size that makes the per-batch fixed cost (`fixed_ns`: the worker hand-off) at most 5 % of
// a batch's time (`batch_ns` at `batch_size` samples): the next power of two at or above what that
// needs, at most 8x the current one; the current one when it already is. `reason` says why.
int64_t suggest_batch_size(int64_t batch_size, double batch_ns, double fixed_ns, std::string& reason);

}  // namespace codedag::graph
