#pragma once
// The process that runs one attempt of one cell (`codedag sweep cell`, started by the local
// backend, or by a Slurm array task). It is separate from the sweep on purpose: when the sweep is
// killed (even with SIGKILL) the runner lives on with its command, keeps the run's heartbeat, and
// records how the command ended, so `resume` finds the truth in the store.
//
// It claims the queued run, starts the command in its own process group with the run's identity
// in the environment (CODEDAG_RUN_ID, CODEDAG_HOME, CODEDAG_SWEEP, CODEDAG_SWEEP_CELL,
// CODEDAG_SWEEP_ATTEMPT, PYTHONUNBUFFERED=1), writes both streams to the cell's log (and, with
// `tee`, stdout to its stdout and stderr to its stderr — through a pseudo-terminal when that is a
// terminal, so progress bars keep drawing), forwards SIGINT/SIGTERM/SIGHUP, stops the command at
// the timeout, and on SIGUSR1 (Slurm's --signal before preemption or the time limit) stops it
// and requeues the array task when retries remain.
#include <string>

namespace codedag::runner {

struct CellRunnerOptions {
  std::string home;
  std::string sweep;
  int cell = -1;
  std::string run;  // the queued run to claim; empty with a Slurm chunk: read from the chunk file
  bool tee = false;
  bool stdout_to_stderr = false;  // tee the command's stdout to our stderr (the sweep prints --json)
  int slurm_chunk = -1;           // Slurm: chunk file index; the task index comes from the environment
};

// Runs the attempt; returns the command's exit code (128 + signal when killed), or 0 when there
// was nothing to run (the run was claimed or given up by someone else).
int run_cell(const CellRunnerOptions& options);

}  // namespace codedag::runner
