#pragma once
// A sweep from start to end: `create_sweep` expands the options into cells and writes the
// manifest (nothing runs yet); `execute_sweep` runs the cells that need running — all of them the
// first time, on `resume` those without a finished run and not in flight (plus failed ones with
// retry_failed) — on the manifest's backend, then writes and prints the closing summary.
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/runner/local_sweep.hpp"
#include "codedag/runner/manifest.hpp"
#include "codedag/runner/sweep_dir.hpp"

namespace codedag::runner {

struct SweepRequest {
  std::string name;                 // experiment name of the cells' runs; empty: from the command
  std::vector<std::string> grid;    // -p KEY=V1,V2
  std::vector<std::string> random;  // --random KEY=LO:HI[:log]
  int samples = 0;
  int repeat = 1;
  std::optional<uint64_t> random_seed;  // nullopt: drawn now and stored in the manifest
  RunPolicy policy;
  std::optional<std::string> gpus;  // --gpus; nullopt: detected (CUDA_VISIBLE_DEVICES, NVML)
  std::optional<int> gpus_per_run;  // nullopt: 1 when there are GPUs, else 0
  std::vector<std::string> command;
  std::string home;  // empty: CODEDAG_HOME / ~/.codedag
  std::string cwd;   // empty: the current directory
};

// Validates, expands and writes <home>/sweeps/<id>/sweep.json. InputError for bad options.
Manifest create_sweep(const SweepRequest& request);

struct ExecuteSettings {
  bool retry_failed = false;
  LaunchSettings launch;
};

// Runs what needs running and returns the summary (also in sweep_summary.json). StateError when
// another process is running the sweep.
json execute_sweep(const SweepDir& dir, const Manifest& m, const ExecuteSettings& settings, term::Printer& out);

// The summary of a sweep as the store has it now (runs whose process vanished are marked dead).
json sweep_status(const std::string& home, const std::string& id);

// One entry per sweep: {"sweep", "name", "created_at", "cells", "status": {...}, "command"}.
json list_sweeps(const std::string& home, std::vector<std::string>* warnings);

// The home a request or an empty string means.
std::string home_or_default(const std::string& home);

}  // namespace codedag::runner
