#pragma once
// The local backend: cells run as processes on this machine, at most `parallel` at once, each
// holding its GPU lease. One cell at a time behaves as seed 000 (the command's stdout on the
// terminal and in its log, stderr straight through); several at once write to their logs and the
// terminal shows a status board, one line per slot. Every cell is started through a cell runner
// (`codedag sweep cell`), which outlives this process if it is killed.
#include <string>
#include <vector>

#include "codedag/common/terminal.hpp"
#include "codedag/runner/manifest.hpp"
#include "codedag/runner/sweep_dir.hpp"
#include "codedag/runner/sweep_state.hpp"
#include "codedag/store/store.hpp"

namespace codedag::runner {

struct LaunchSettings {
  std::string runner_program;  // the codedag executable that runs `codedag sweep cell`
  bool json_mode = false;      // stdout is for the JSON result: the command's stdout goes to stderr
};

// Runs `cells` (manifest indices, in order) and waits for the cells already in flight in
// `before` (from a sweep process that was killed). Returns why launching stopped early (breaker,
// --fail-fast, an interrupt), or "" when every cell was launched.
std::string run_local(store::Store& store, const SweepDir& dir, const Manifest& m, const std::vector<int>& cells,
                      const std::vector<CellState>& before, term::Printer& out, const LaunchSettings& settings);

// The next attempt number of a cell (1 + the highest so far).
int next_attempt(const CellState& state);

}  // namespace codedag::runner
