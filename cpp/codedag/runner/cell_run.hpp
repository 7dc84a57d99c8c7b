#pragma once
// Each attempt of a cell is one run in the store. The sweep creates it "queued" before launching
// (params, argv, properties.sweep = {id, cell, attempt, fingerprint}, the launcher, the GPU lease),
// the cell runner claims it ("running", its own pid and heartbeat) and records how the command
// ended. A script that opens codedag.Experiment adopts the same run through CODEDAG_RUN_ID; what
// it records (metrics, the exception) stays, and the runner adds the exit status.
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/runner/failure.hpp"
#include "codedag/runner/manifest.hpp"
#include "codedag/runner/sweep_dir.hpp"
#include "codedag/store/store.hpp"

namespace codedag::runner {

// Who launched a queued run, so a later look can tell a run still waiting from one abandoned.
struct Launcher {
  std::string backend = "local";  // local | slurm
  std::string slurm_job;          // "<array job id>_<task>" once submitted
  json to_json() const;           // adds this process's identity
};

// Allocates the run (an exclusive directory, an index row) and writes its queued record.
// Its log is dir.log_path(cell, run).
store::RunRef create_cell_run(store::Store& store, const Manifest& manifest, const ManifestCell& cell, int attempt,
                              const Launcher& launcher, const std::vector<std::string>& gpus, const SweepDir& dir);

// queued -> running, recorded as this process's (pid, host, heartbeat). False when the run is not
// queued any more (already claimed, or given up as never started): the caller must not run it.
bool claim_cell_run(store::Store& store, const store::RunRef& run);

// How the command ended, as the cell runner saw it.
struct CellOutcome {
  ExitFacts exit;
  double started_at = 0;
  double ended_at = 0;
  std::string log_tail;  // the end of the log (both streams)
};

// Records the exit status. A run the script ended itself keeps its status, except that a
// "finished" run whose process then exited non-zero becomes "failed". Returns the record.
json record_cell_outcome(store::Store& store, const store::RunRef& run, const CellOutcome& outcome);

// A queued run whose launcher is gone and that no runner claimed: "dead", with `reason`.
// False when the run was claimed meanwhile.
bool give_up_queued_run(store::Store& store, const store::RunRef& run, const std::string& reason);

// properties.sweep.attempt of a cell's run (1 when absent).
int run_attempt(const json& record);

// The status a run.json shows, for the sweep: finished, failed, killed, interrupted, dead,
// running, queued.
std::string run_status(const json& record);

// `program` resolved as exec would (PATH search when it has no '/'), relative to `cwd`.
std::string resolve_program(const std::string& program, const std::string& cwd);

}  // namespace codedag::runner
