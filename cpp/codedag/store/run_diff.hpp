#pragma once
// What differs between two recorded runs, as data: used by `codedag diff` (terminal) and the
// panel's diff page (JSON API), so both say the same thing.
#include <string>

#include "codedag/common/json_file.hpp"
#include "codedag/store/store.hpp"

namespace codedag::store {

// Keys whose flattened values differ: {key: [a, b]} (a missing side is null).
json differing(const json& a, const json& b);

// "best.<key>" and "last.<key>" metric values of a run record.
json metric_values(const json& run);

struct RunDiffOptions {
  bool code = true;           // diff the git snapshots
  bool code_stat = false;     // only which files changed
  size_t max_code_bytes = 0;  // 0: unbounded; else the code diff is cut there (code_truncated)
};

// {a, b, status, argv, params, versions, env, metrics, code, code_note?, code_truncated?}
// for two run records (run.json); the code diff needs both snapshots in one repository.
json diff_runs(const RunRef& ra, const json& a, const RunRef& rb, const json& b, const RunDiffOptions& options = {});

}  // namespace codedag::store
