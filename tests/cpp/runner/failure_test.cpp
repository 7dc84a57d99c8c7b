#include "codedag/runner/failure.hpp"

#include <gtest/gtest.h>

#include <csignal>

#include "codedag/runner/failure_policy.hpp"
#include "codedag/runner/log_tail.hpp"

using namespace codedag::runner;
using codedag::json;

namespace {
const char* kTraceback =
    "epoch 1\n"
    "Traceback (most recent call last):\n"
    "  File \"/home/u/train.py\", line 30, in <module>\n"
    "    main()\n"
    "  File \"/home/u/train.py\", line 12, in step\n"
    "    x = 1 / 0\n"
    "        ~~^~~\n"
    "ZeroDivisionError: division by zero\n";
}

TEST(Failure, PythonExceptionGivesTypeMessageAndFrame) {
  ExitFacts facts;
  facts.exit_code = 1;
  const FailureCause f = classify_failure(facts, kTraceback, json());
  EXPECT_EQ(f.kind, "exception");
  EXPECT_EQ(f.exception_type, "ZeroDivisionError");
  EXPECT_EQ(f.last_frame, "train.py:12 in step");
  EXPECT_EQ(f.cause, "ZeroDivisionError: division by zero at train.py:12 in step");
  EXPECT_EQ(f.signature, "exception:ZeroDivisionError@train.py:12 in step");
  EXPECT_FALSE(f.retryable);
}

TEST(Failure, RecordedExceptionWinsOverTheLog) {
  ExitFacts facts;
  facts.exit_code = 1;
  const json exc = {{"type", "OutOfMemoryError"},
                    {"module", "torch.cuda"},
                    {"message", "CUDA out of memory. Tried to allocate 2 GiB"},
                    {"traceback", "Traceback (most recent call last):\n  File \"m.py\", line 3, in fwd\n"}};
  const FailureCause f = classify_failure(facts, "no traceback here\n", exc);
  EXPECT_EQ(f.kind, "cuda_oom");
  EXPECT_EQ(f.exception_type, "torch.cuda.OutOfMemoryError");
  EXPECT_EQ(f.last_frame, "m.py:3 in fwd");
}

TEST(Failure, SignalsTimeoutsAndOomKillsAreRetryable) {
  ExitFacts killed;
  killed.signal = SIGSEGV;
  FailureCause f = classify_failure(killed, "", json());
  EXPECT_EQ(f.kind, "signal");
  EXPECT_EQ(f.cause, "killed by SIGSEGV");
  EXPECT_TRUE(f.retryable);
  ExitFacts oom;
  oom.signal = SIGKILL;
  oom.oom_kill = true;
  EXPECT_EQ(classify_failure(oom, "", json()).kind, "oom_killed");
  ExitFacts timeout;
  timeout.signal = SIGTERM;
  timeout.timed_out = true;
  EXPECT_EQ(classify_failure(timeout, "", json()).kind, "timeout");
  ExitFacts code;
  code.exit_code = 3;
  f = classify_failure(code, "plain output\n", json());
  EXPECT_EQ(f.kind, "exit_code");
  EXPECT_EQ(f.signature, "exit_code:3");
  ExitFacts nccl;
  nccl.exit_code = 1;
  EXPECT_EQ(classify_failure(nccl, "RuntimeError: NCCL error in: ...\n", json()).kind, "nccl");
}

TEST(Failure, PolicyRetriesByCauseAndTheBreakerNeedsTheSameSignature) {
  RunPolicy p;
  p.retries = 1;
  p.max_consecutive_failures = 2;
  FailurePolicy policy(p, "sw1");
  const json exc = {{"kind", "exception"}, {"signature", "exception:ValueError@a.py:1"}, {"retryable", false}};
  const json other = {{"kind", "exception"}, {"signature", "exception:KeyError@b.py:2"}, {"retryable", false}};
  const json sig = {{"kind", "signal"}, {"signature", "signal:SIGKILL"}, {"retryable", true}};
  EXPECT_EQ(policy.on_attempt_end(0, "killed", sig, 1), AfterAttempt::retry);
  EXPECT_EQ(policy.on_attempt_end(0, "killed", sig, 2), AfterAttempt::carry_on);  // out of retries
  EXPECT_EQ(policy.on_attempt_end(1, "failed", exc, 1), AfterAttempt::carry_on);
  EXPECT_EQ(policy.on_attempt_end(2, "failed", other, 1), AfterAttempt::carry_on);
  EXPECT_EQ(policy.on_attempt_end(3, "finished", json(), 1), AfterAttempt::carry_on);
  EXPECT_EQ(policy.on_attempt_end(4, "failed", exc, 1), AfterAttempt::carry_on);
  EXPECT_EQ(policy.on_attempt_end(5, "failed", exc, 1), AfterAttempt::stop_launching);
  EXPECT_NE(policy.stop_reason().find("sweep resume sw1 --retry-failed"), std::string::npos);
  p.fail_fast = true;
  p.retries = 0;
  FailurePolicy fast(p, "sw1");
  EXPECT_EQ(fast.on_attempt_end(0, "interrupted", json{{"kind", "interrupted"}}, 1), AfterAttempt::carry_on);
  EXPECT_EQ(fast.on_attempt_end(0, "failed", exc, 1), AfterAttempt::stop_all);
  p.fail_fast = false;
  p.retries = 2;
  p.retry_exceptions = true;
  FailurePolicy all(p, "sw1");
  EXPECT_EQ(all.on_attempt_end(0, "failed", exc, 1), AfterAttempt::retry);
}

TEST(LogTail, ProgressRedrawsCollapseAndControlCharactersAreEscaped) {
  EXPECT_EQ(collapse_redraws("a 10%\ra 50%\ra 100%\nnext\r\n"), "a 100%\nnext\n");
  EXPECT_EQ(last_visible_line("one\ntwo 1/3\rtwo 2/3"), "two 2/3");
  EXPECT_EQ(last_visible_line("line\n\n  \n"), "line");
  EXPECT_EQ(last_lines("a\n\nb\nc\nd\n", 2), (std::vector<std::string>{"c", "d"}));
}
