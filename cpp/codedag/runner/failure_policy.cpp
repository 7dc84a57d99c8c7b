#include "codedag/runner/failure_policy.hpp"

namespace codedag::runner {

AfterAttempt FailurePolicy::on_attempt_end(int cell, const std::string& status, const json& failure, int attempt) {
  if (status == "finished") {
    consecutive_ = 0;
    last_signature_.clear();
    return AfterAttempt::carry_on;
  }
  const json f = failure.is_object() ? failure : json::object();
  const std::string kind = f.value("kind", std::string());
  if (status == "interrupted" || kind == "interrupted") return AfterAttempt::carry_on;  // we stopped it
  const bool retryable = f.value("retryable", false) || status == "dead" || policy_.retry_exceptions;
  if (retryable && attempt <= policy_.retries) return AfterAttempt::retry;
  const std::string signature = f.value("signature", status);
  consecutive_ = signature == last_signature_ ? consecutive_ + 1 : 1;
  last_signature_ = signature;
  if (policy_.fail_fast) {
    reason_ = "--fail-fast: cell " + std::to_string(cell) + " " + status + " (" + f.value("cause", status) +
              "); the running cells were stopped";
    return AfterAttempt::stop_all;
  }
  if (policy_.max_consecutive_failures > 0 && consecutive_ >= policy_.max_consecutive_failures) {
    reason_ = "breaker: " + std::to_string(consecutive_) + " consecutive failures with the same error (" + signature +
              "); no new cells were launched, running ones finished. Fix it, then `codedag sweep resume " + sweep_id_ +
              " --retry-failed`";
    return AfterAttempt::stop_launching;
  }
  return AfterAttempt::carry_on;
}

}  // namespace codedag::runner
