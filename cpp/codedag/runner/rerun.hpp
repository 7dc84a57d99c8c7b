#pragma once
// Re-running a recorded run: its argv with --key=value overrides merged in, executed without a
// shell (posix_spawn) in its recorded working directory, or, with at_snapshot, in a temporary
// checkout of its git snapshot so the recorded code runs even after the working tree changed.
// The new run learns where it comes from through CODEDAG_RERUN_FROM and links both records.
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/store/store.hpp"

namespace codedag::runner {

// Merges overrides ("--key=value", "-k=v", "key=value", "--flag") into argv:
// "--key=old" and "key=old" tokens get the new value, "--key old" gets its next token replaced,
// anything not present is appended as given. Throws InputError for an override without a key.
std::vector<std::string> merge_overrides(std::vector<std::string> argv, const std::vector<std::string>& overrides);

struct RerunPlan {
  std::string from;               // test_name of the recorded run
  std::string program;            // what is executed (the recorded executable)
  std::vector<std::string> argv;  // argv[0] is the program
  std::string cwd;
  std::string snapshot_dir;  // non-empty with at_snapshot: removed after the run
  std::string commit;
  bool has_snapshot = false;  // the record has a git snapshot (so --at-snapshot can be suggested)
};

// Builds the command from the record. at_snapshot: checks out the run's snapshot into a fresh
// directory under <home>/cache/reruns/ and points cwd (and argv paths inside the repository) there.
RerunPlan plan_rerun(store::Store& store, const std::string& id, const std::vector<std::string>& overrides,
                     bool at_snapshot);

// Runs the plan with stdout/stderr on the terminal; returns the child's exit code (128+signal
// when killed). Removes the snapshot directory afterwards.
int execute_rerun(const RerunPlan& plan);

}  // namespace codedag::runner
