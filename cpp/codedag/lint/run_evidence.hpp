#pragma once
// `codedag lint --with-run RUN_ID`: what a recorded run measured, joined with the static findings.
// From the run's attachments (see docs/experiments.md, docs/monitoring.md):
// - monitor_result: step time (median of batch_times) and the time between timed steps
//   ((total_time − Σ batch_times) / batches), which is where a training loop waits for its
//   DataLoader; a run is *loader-bound* when that wait is ≥ 10 % of each step's wall time;
// - dag: the traced pipeline's CPU time per batch and the workers it was traced with;
// - plan: where `codedag optimize` would move the pipeline, and its predicted speedup.
// Findings get ms/step (measured, or estimated and said so), are ranked by it, and a DataLoader
// finding becomes an error only when the run was loader-bound (else it is information).
#include <optional>
#include <string>
#include <vector>

#include "codedag/lint/finding.hpp"

namespace codedag::lint {

struct RunEvidence {
  std::string run_id;              // name/test_name
  std::vector<std::string> notes;  // what was missing or unreadable, said to the user
  // monitor_result
  bool has_monitor = false;
  std::string mode;    // which mode was read ("baseline" when present)
  double step_ms = 0;  // median timed step
  double wait_ms = 0;  // per step, between timed steps
  size_t steps = 0;
  bool loader_bound = false;
  bool gpu = false;  // the run had GPU series or GPUs in its inventory
  // dag
  bool has_dag = false;
  double pipeline_cpu_ms = 0;  // per batch, all traced contexts
  int traced_workers = 0;
  // plan
  bool has_plan = false;
  double predicted_speedup = 0;
  std::vector<std::string> plan_moves;  // "MelSpec.__call__ → batch:cpu"
};

// Reads the run from the store at $CODEDAG_HOME (or `home`). NotFoundError for an unknown id.
RunEvidence load_run_evidence(const std::string& run_id, const std::string& home = "");

// The share of each step's wall time spent waiting between steps.
inline double wait_share(const RunEvidence& e) {
  return e.wait_ms + e.step_ms > 0 ? e.wait_ms / (e.wait_ms + e.step_ms) : 0;
}

// Adds ms_per_step / evidence / severity to each finding and sorts by cost (highest first; findings
// without a figure after, in their usual order).
void apply_run_evidence(std::vector<Finding>& findings, const RunEvidence& evidence);

}  // namespace codedag::lint
