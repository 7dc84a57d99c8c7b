// Bindings of the runner area: creating a sweep's manifest, reading its state, listing sweeps,
// and the GPU detection sweeps use. Running the cells is the CLI's job (`codedag sweep resume`),
// so a sweep started from Python is the same processes, signals and terminal output as one
// started from a shell; codedag.sweep() in Python is the thin face over both.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "codedag/common/error.hpp"
#include "codedag/runner/gpu_pool.hpp"
#include "codedag/runner/sweep.hpp"

namespace codedag::bindings {

namespace {

std::vector<std::string> string_list(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  if (!j[key].is_array()) throw InputError(std::string("sweep(): ") + key + " must be a list of strings");
  for (const auto& v : j[key]) {
    if (!v.is_string()) throw InputError(std::string("sweep(): ") + key + " must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// The request as the CLI would build it from its options (see codedag.runner.sweep for the keys).
runner::SweepRequest request_from(const json& j) {
  if (!j.is_object()) throw InputError("sweep(): the request must be a dict");
  runner::SweepRequest r;
  r.command = string_list(j, "command");
  r.grid = string_list(j, "grid");
  r.random = string_list(j, "random");
  r.name = j.value("name", std::string());
  r.samples = j.value("samples", 0);
  r.repeat = j.value("repeat", 1);
  if (j.contains("random_seed") && !j["random_seed"].is_null()) r.random_seed = j["random_seed"].get<uint64_t>();
  r.policy.backend = j.value("backend", std::string("local"));
  r.policy.parallel = j.contains("parallel") && !j["parallel"].is_null() ? j["parallel"].get<int>()
                                                                         : (r.policy.backend == "slurm" ? 0 : 1);
  if (j.contains("gpus") && !j["gpus"].is_null()) r.gpus = j["gpus"].get<std::string>();
  if (j.contains("gpus_per_run") && !j["gpus_per_run"].is_null()) r.gpus_per_run = j["gpus_per_run"].get<int>();
  r.policy.retries = j.value("retries", 0);
  const std::string retry_on = j.value("retry_on", std::string("signals"));
  if (retry_on != "signals" && retry_on != "all")
    throw InputError("sweep(): retry_on must be \"signals\" or \"all\", not \"" + retry_on + "\"");
  r.policy.retry_exceptions = retry_on == "all";
  r.policy.fail_fast = j.value("fail_fast", false);
  r.policy.max_consecutive_failures = j.value("max_consecutive_failures", 0);
  r.policy.timeout = j.value("timeout", 0.0);
  r.policy.metric = j.value("metric", std::string());
  r.policy.slurm_args = string_list(j, "slurm_args");
  r.home = j.value("home", std::string());
  r.cwd = j.value("cwd", std::string());
  return r;
}

}  // namespace

void add_runner(nb::module_& m) {
  m.def(
      "create_sweep",
      [](nb::handle request) {
        runner::SweepRequest r;
        try {
          r = request_from(to_json(request));
        } catch (const json::exception& e) {
          throw InputError(std::string("sweep(): a value has the wrong type: ") + e.what());
        }
        const runner::Manifest m = [&] {
          nb::gil_scoped_release release;
          return runner::create_sweep(r);
        }();
        return from_json(json{{"sweep", m.id},
                              {"home", m.home},
                              {"dir", runner::SweepDir(m.home, m.id).path()},
                              {"cells", m.cells.size()},
                              {"name", m.name}});
      },
      nb::arg("request"),
      "Expands a sweep request into cells and writes its manifest; returns {sweep, dir, cells, ...}.");
  m.def(
      "sweep_status",
      [](const std::string& id, const std::string& home) {
        json s;
        {
          nb::gil_scoped_release release;
          s = runner::sweep_status(home, id);
        }
        return from_json(s);
      },
      nb::arg("id"), nb::arg("home") = "", "A sweep's summary as the store has it now (sweep_summary.json's layout).");
  m.def(
      "list_sweeps",
      [](const std::string& home) {
        std::vector<std::string> warnings;
        json s;
        {
          nb::gil_scoped_release release;
          s = runner::list_sweeps(home, &warnings);
        }
        return nb::make_tuple(from_json(s), nb::cast(warnings));
      },
      nb::arg("home") = "", "Every sweep of a store: ([{sweep, name, created_at, cells, status, ...}], warnings).");
  m.def(
      "detect_gpus", [] { return runner::detect_gpus(); },
      "GPU ids: CUDA_VISIBLE_DEVICES when set, else one per device NVML reports, else none.");
}

}  // namespace codedag::bindings
