#pragma once
// The Slurm backend: cells become array tasks (`sbatch --array=0-N%P`), each running
// `codedag sweep cell` on its node. Arrays are cut into chunks that respect the cluster's
// MaxArraySize (it caps the task *index*, so every chunk counts from 0 and a chunk file maps task
// index -> cell) and MaxJobCount / MaxSubmitJobs (read from `scontrol show config`; a chunk waits
// until it fits). With --parallel, chunks are chained (afterany) so at most P tasks run at once.
// State comes from the run store plus `squeue` (never sacct, which needs slurmdbd): the run id
// travels in the chunk file, not in the job id, so a reused job id cannot confuse a cell.
#include <map>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/runner/local_sweep.hpp"
#include "codedag/runner/sweep_state.hpp"

namespace codedag::runner {

struct SlurmLimits {
  size_t max_array_size = 1001;  // Slurm's default
  size_t max_job_count = 10000;  // MaxJobCount
  size_t max_submit_jobs = 0;    // MaxSubmitJobs when the configuration states one; 0: unknown
};

// Parses `scontrol show config` output ("MaxArraySize            = 4"); missing keys keep defaults.
SlurmLimits parse_slurm_config(const std::string& text);

// Cells per chunk: MaxArraySize, MaxJobCount and MaxSubmitJobs, whichever is smallest.
size_t chunk_capacity(const SlurmLimits& limits);

// How many cells go into each chunk: at most max_array_size (indices 0..size-1) and at most what
// may be submitted at once.
std::vector<std::vector<int>> chunk_cells(const std::vector<int>& cells, const SlurmLimits& limits);

// "0-9" or "0-9%3" for n tasks with at most `parallel` running (0: no throttle).
std::string array_range(size_t tasks, int parallel);

// squeue's view of this sweep's tasks: "<job>_<task>" -> state (PENDING, RUNNING, ...).
std::map<std::string, std::string> squeue_tasks(const std::string& sweep_id);
bool slurm_state_alive(const std::string& state);

// The queued-run check for Slurm launchers: alive while its task is in squeue (one squeue call,
// made on first use, per check object); a run never submitted is alive while its sweep process is.
QueuedAliveCheck slurm_queued_check(const std::string& sweep_id);

// Submits `cells` and waits for them (and the ones in flight in `before`). Returns why it stopped
// early, as run_local does.
std::string run_slurm(store::Store& store, const SweepDir& dir, const Manifest& m, const std::vector<int>& cells,
                      const std::vector<CellState>& before, term::Printer& out, const LaunchSettings& settings);

}  // namespace codedag::runner
