#pragma once
// The state of every cell of a sweep, read from the store (never from a scheduler alone): the
// journal says which runs are a cell's attempts, each run.json says how that attempt stands.
// A cell is finished when one attempt finished; in flight while one is queued or running and
// alive; otherwise it takes the status of its last attempt (failed, killed, interrupted, dead), or
// "pending" when it has none.
#include <functional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/runner/manifest.hpp"
#include "codedag/runner/sweep_dir.hpp"
#include "codedag/store/store.hpp"

namespace codedag::runner {

struct AttemptState {
  int attempt = 0;
  store::RunRef ref;
  std::string status;  // the run's status (see run_status)
  json record;         // run.json (empty object when unreadable)
};

struct CellState {
  int cell = 0;
  std::vector<AttemptState> attempts;  // in attempt order
  std::string status;                  // finished | running | queued | failed | killed | interrupted | dead | pending
  // The attempt that speaks for the cell: the finished one, else a live one, else the last.
  const AttemptState* current() const;
  bool in_flight() const { return status == "running" || status == "queued"; }
};

// Whether a queued run can still start: its launcher (a local sweep process, a Slurm job) is
// alive. Given the run's "launcher" object.
using QueuedAliveCheck = std::function<bool(const json& launcher)>;

// Reads the states. `live_check`: runs still "running" are checked against their lease (and
// marked dead when it expired and their process is gone); queued runs whose launcher is gone are
// given up as dead. Off for a quick look while the sweep itself is running.
std::vector<CellState> load_cell_states(store::Store& store, const SweepDir& dir, const Manifest& m,
                                        std::vector<std::string>* warnings, bool live_check,
                                        const QueuedAliveCheck& queued_alive);

// The default for local launchers: the recorded process (pid + start time) still exists.
bool local_launcher_alive(const json& launcher);

// Which cells `resume` runs: no finished attempt and nothing in flight, and (unless retry_failed)
// a last attempt that did not fail by itself (failed = an exception or a non-zero exit code).
std::vector<int> cells_to_resume(const std::vector<CellState>& states, bool retry_failed);

// Cell statuses in the order summaries list them.
inline constexpr const char* kStatusOrder[] = {"finished", "running",     "queued", "failed",
                                               "killed",   "interrupted", "dead",   "pending"};

// status counts ("finished" -> 5, ...), in kStatusOrder.
std::vector<std::pair<std::string, int>> count_statuses(const std::vector<CellState>& states);

}  // namespace codedag::runner
