#pragma once
// What a sweep does after an attempt ends: carry on (the default: one failure stops nothing),
// retry the cell (--retries, for causes that a second try can fix: signals, preemption, timeouts,
// OOM kills, NCCL; exceptions only with --retry-on all), stop launching (the breaker: N
// consecutive failures with the same signature — a systematic bug, a full disk), or stop
// everything (--fail-fast). The same policy serves the local and the Slurm backend.
#include <string>

#include "codedag/common/json_file.hpp"
#include "codedag/runner/manifest.hpp"

namespace codedag::runner {

enum class AfterAttempt { carry_on, retry, stop_launching, stop_all };

class FailurePolicy {
 public:
  FailurePolicy(const RunPolicy& policy, std::string sweep_id) : policy_(policy), sweep_id_(std::move(sweep_id)) {}

  // `status`: the run's final status; `failure`: its "failure" object; `attempt`: 1-based.
  AfterAttempt on_attempt_end(int cell, const std::string& status, const json& failure, int attempt);
  // Why launching stopped (empty while it has not).
  const std::string& stop_reason() const { return reason_; }

 private:
  RunPolicy policy_;
  std::string sweep_id_;
  std::string last_signature_;
  int consecutive_ = 0;
  std::string reason_;
};

}  // namespace codedag::runner
