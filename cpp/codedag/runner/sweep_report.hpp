#pragma once
// The closing summary of a sweep: a ✓/✗ table of the cells (parameters, status, classified cause,
// duration, the chosen metric, run id), then for each cell that did not finish its log path and
// last lines, then one summary line. The same facts go to sweep_summary.json and `--json`:
//   {"sweep": ID, "name", "status": {"finished": 5, ...}, "stopped": reason or null, "best": {...},
//    "cells": [{"cell", "params", "run", "status", "exit_code", "attempts", "runs", "cause",
//               "kind", "duration", "metric", "log", "log_tail"}]}
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/runner/manifest.hpp"
#include "codedag/runner/sweep_dir.hpp"
#include "codedag/runner/sweep_state.hpp"

namespace codedag::runner {

// "acc" / "acc:max" / "loss:min" -> key and direction ("max" unless said). InputError otherwise.
std::pair<std::string, std::string> parse_metric_option(const std::string& text);

json cell_json(const Manifest& m, const SweepDir& dir, const CellState& state);

json summary_json(const Manifest& m, const SweepDir& dir, const std::vector<CellState>& states,
                  const std::string& stopped);

// Prints the table, the failures with their log tails (`tail_lines` each) and the summary line.
void print_summary(term::Printer& out, const json& summary, double seconds, size_t tail_lines = 5);

// One line for a cell that just ended: "✓ cell 3 lr=0.1 finished in 3.2s (run ...)" or
// "✗ cell 2 lr=1 failed: ZeroDivisionError ... — log: PATH".
void print_cell_event(term::Printer& out, const json& cell);

}  // namespace codedag::runner
