#pragma once
// Why an attempt failed, in the words of the closing summary: out-of-memory kill, CUDA out of
// memory, NCCL, the Python exception (type and the frame that raised it), timeout, preemption, a
// signal, or a plain exit code. The same facts give the breaker its signature, so N failures
// "with the same error" means the same exception type at the same line, not merely "failed".
#include <string>
#include <string_view>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::runner {

struct ExitFacts {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;    // the runner stopped it at --timeout
  bool preempted = false;    // the scheduler asked it to stop (Slurm --signal, scontrol requeue)
  bool oom_kill = false;     // the cgroup's oom_kill counter rose while it ran
  bool interrupted = false;  // stopped on purpose: Ctrl-C, --fail-fast, scancel
};

struct FailureCause {
  std::string
      kind;  // exception | cuda_oom | oom_killed | nccl | timeout | preempted | interrupted | signal | exit_code
  std::string cause;           // one line for people: "ZeroDivisionError: division by zero"
  std::string exception_type;  // "ZeroDivisionError", "torch.cuda.OutOfMemoryError"
  std::string last_frame;      // "train.py:12 in step"
  std::string signature;       // kind + exception type + last frame: equal for "the same error"
  bool retryable = false;      // signals, preemption, timeouts, OOM kills: --retries applies

  json to_json() const;
};

// `log_tail`: the end of the attempt's log (both streams). `exception`: the run's recorded
// exception ({"type", "message", "traceback"}) when the script's Experiment recorded one.
FailureCause classify_failure(const ExitFacts& facts, std::string_view log_tail, const json& exception);

// The last `n` non-empty lines of `text`.
std::vector<std::string> last_lines(std::string_view text, size_t n);

// "SIGKILL" for 9; "signal 77" for numbers without a name.
std::string signal_name(int signal);

}  // namespace codedag::runner
