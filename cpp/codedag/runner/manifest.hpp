#pragma once
// The manifest of a sweep (sweep.json, schema codedag.sweep/1): every cell with its parameters,
// its full command line and its fingerprint, plus how the cells are run. It is written atomically
// before any cell starts and never changed afterwards, so `resume` runs exactly the cells that
// were planned, with the same random draws, whatever happened to the process that wrote it.
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/runner/sweep_spec.hpp"

namespace codedag::runner {

inline constexpr const char* kManifestSchema = "codedag.sweep/1";

// How cells are run. Stored in the manifest; resume uses it unless told otherwise.
struct RunPolicy {
  std::string backend = "local";  // local | slurm
  int parallel = 1;
  std::vector<std::string> gpus;  // the pool of device ids leased to cells (CUDA_VISIBLE_DEVICES)
  int gpus_per_run = 0;
  int retries = 0;                // extra attempts for cells killed by a signal, preempted or dead
  bool retry_exceptions = false;  // --retry-on all: failed cells (exceptions, exit codes) retried too
  bool fail_fast = false;
  int max_consecutive_failures = 0;     // 0: no breaker
  double timeout = 0;                   // seconds per attempt; 0: none
  std::string metric;                   // "acc", "acc:max" or "loss:min": shown in the summary
  std::vector<std::string> slurm_args;  // passed to sbatch as given

  json to_json() const;
  static RunPolicy from_json(const json& j, const std::string& where);
};

struct ManifestCell {
  int index = 0;
  std::vector<ParamValue> params;
  std::vector<std::string> argv;  // the command plus --key=text per parameter
  std::string fingerprint;        // sha256 of cwd, command and parameters
};

struct Manifest {
  std::string id;
  std::string name;  // the experiment name of every cell's run
  double created_at = 0;
  std::string cwd;
  std::string home;  // CODEDAG_HOME the runs go to
  std::vector<std::string> command;
  json spec = json::object();  // what expanded into the cells (for the record)
  RunPolicy policy;
  std::vector<ManifestCell> cells;

  json to_json() const;
  // Validates everything a cell runner will trust (types, indices, argv). FormatError names the
  // file and the element.
  static Manifest from_json(const json& j, const std::string& where);
};

// The cells of `spec` for `command` run in `cwd`: argv = command + --key=text, fingerprints set.
std::vector<ManifestCell> make_cells(const std::vector<std::string>& command, const std::string& cwd,
                                     const std::vector<CellParams>& expanded);

// sha256 over cwd, command and the parameters (key order as given).
std::string cell_fingerprint(const std::string& cwd, const std::vector<std::string>& command,
                             const std::vector<ParamValue>& params);

// "lr=0.1 bs=32": a cell's parameters for people (escaped for a terminal by the caller).
std::string params_text(const std::vector<ParamValue>& params);

// The default experiment name for a command: the script's stem for "python train.py" (and
// "python -m pkg.mod" -> "mod"), else the program's basename; made a valid experiment name.
std::string default_sweep_name(const std::vector<std::string>& command);

}  // namespace codedag::runner
