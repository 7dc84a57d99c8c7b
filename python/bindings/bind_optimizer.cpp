// The optimizer: codedag.DeviceModel and the engine functions behind codedag.OptimizerManager,
// codedag.evaluate_plan, codedag.load_plan / save_plan. All computation is C++; the Python
// package only shapes arguments and results.
#include "bind_optimizer.hpp"

#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "codedag/common/error.hpp"
#include "codedag/graph/cost/device_model.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/model/pipeline_check.hpp"
#include "codedag/graph/model/random_dag.hpp"
#include "codedag/graph/optimizer.hpp"
#include "codedag/graph/partition/partition.hpp"
#include "codedag/graph/plan/plan.hpp"

namespace codedag::bindings {

using graph::Dag;
using graph::DeviceModel;
using graph::MigrationPlan;
using graph::OptimizerOptions;

namespace {

MigrationPlan plan_from(nb::handle plan) {
  if (nb::isinstance<nb::str>(plan)) return MigrationPlan::load(nb::cast<std::string>(plan));
  if (!nb::isinstance<nb::dict>(plan))
    throw InputError("a plan must be a dict (codedag.plan/1) or the path of a plan file");
  return MigrationPlan::from_json(to_json(plan), "plan");
}

}  // namespace

void add_optimizer(nb::module_& m) {
  nb::class_<DeviceModel>(m, "DeviceModel",
                          "Every constant of the cost model (codedag.device_model/1): workers, training step per "
                          "executor, transfer latency/bandwidth per executor pair, time estimates.")
      .def(nb::init<>())
      .def_static("defaults", &DeviceModel::defaults, nb::arg("workers") = 1, "The documented defaults.")
      .def_static("load", &DeviceModel::load, nb::arg("path"), "Read and validate a device model file.")
      .def("save", &DeviceModel::save, nb::arg("path"), "Write the device model atomically.")
      .def_static(
          "from_dict", [](nb::handle d) { return DeviceModel::from_json(to_json(d), "device model"); }, nb::arg("doc"))
      .def("to_dict", [](const DeviceModel& d) { return from_json(d.to_json()); })
      .def_rw("workers", &DeviceModel::workers)
      .def_rw("gpu_speedup", &DeviceModel::gpu_speedup)
      .def_rw("gpu_launch_ns", &DeviceModel::gpu_launch_ns)
      .def_rw("batch_speedup", &DeviceModel::batch_speedup)
      .def_rw("cores", &DeviceModel::cores)
      .def_rw("worker_handoff_ns", &DeviceModel::worker_handoff_ns)
      .def_rw("train_ns", &DeviceModel::train_ns)
      .def("transfer_ns", &DeviceModel::transfer_ns, nb::arg("src"), nb::arg("dst"), nb::arg("bytes"),
           nb::arg("count") = 1.0, "Time of one transfer between two executors, in ns.")
      .def("__repr__", [](const DeviceModel& d) {
        return "<DeviceModel workers=" + std::to_string(d.workers) + " gpu_speedup=" + std::to_string(d.gpu_speedup) +
               ">";
      });

  nb::class_<OptimizerOptions>(m, "OptimizerOptions",
                               "Every parameter of one optimizer run (the same struct `codedag optimize` fills from "
                               "its command line). Build it with from_dict(kwargs): wrong types and out-of-range "
                               "values are InputError naming the option.")
      .def(nb::init<>())
      .def_static(
          "from_dict", [](nb::handle d) { return OptimizerOptions::from_json(to_json(d)); }, nb::arg("options"),
          "Options from a dict of option -> value (absent or None: the default); validated.")
      .def("to_dict", [](const OptimizerOptions& o) { return from_json(o.to_json()); })
      .def("validate", &OptimizerOptions::validate, "Raise InputError naming the first option out of range.")
      .def_rw("k", &OptimizerOptions::k)
      .def_rw("coarsen_max_depth", &OptimizerOptions::coarsen_max_depth)
      .def_rw("max_iterations", &OptimizerOptions::max_iterations)
      .def_rw("seed", &OptimizerOptions::seed)
      .def_rw("gpu_count", &OptimizerOptions::gpu_count)
      .def_rw("workers", &OptimizerOptions::workers, nb::arg().none())
      .def_rw("device_model", &OptimizerOptions::device_model, nb::arg().none())
      .def_rw("algorithm", &OptimizerOptions::algorithm)
      .def_rw("preset", &OptimizerOptions::preset)
      .def_rw("chain_merge_min_nodes", &OptimizerOptions::chain_merge_min_nodes)
      .def_rw("choose_workers", &OptimizerOptions::choose_workers)
      .def_rw("max_workers", &OptimizerOptions::max_workers)
      .def_rw("cores", &OptimizerOptions::cores, nb::arg().none())
      .def("__repr__", [](const OptimizerOptions& o) { return "<OptimizerOptions " + o.to_json().dump() + ">"; });

  m.def(
      "_optimize",
      [](const Dag& dag, const OptimizerOptions& options, std::optional<std::string> export_dir) {
        graph::require_pipeline(dag, "OptimizerManager.optimize");  // nothing to place: say why
        graph::OptimizeResult r;
        {
          nb::gil_scoped_release release;  // pure C++: let other Python threads run
          r = graph::optimize(dag, options);
          if (export_dir) graph::export_result(dag, r, *export_dir);
        }
        nb::dict partitions;
        for (const auto& [id, part] : r.partitions) partitions[nb::int_(id)] = nb::int_(part);
        nb::object summary = from_json(r.to_json(false));
        summary["optimized_partitions"] = partitions;
        return nb::make_tuple(summary, std::move(r.coarse.dag), from_json(r.plan.to_json()));
      },
      nb::arg("dag"), nb::arg("options"), nb::arg("export_dir").none() = nb::none());

  m.def(
      "_migration_plan",
      [](const Dag& dag, const std::map<int64_t, int>& partitions, int gpu_count, const DeviceModel& model) {
        return from_json(graph::migration_plan(dag, partitions, gpu_count, model).to_json());
      },
      nb::arg("dag"), nb::arg("partitions"), nb::arg("gpu_count"), nb::arg("device_model"));

  m.def("threads_per_worker", &graph::threads_per_worker, nb::arg("cores"), nb::arg("workers"),
        nb::arg("main_busy") = 0.0,
        "Intra-op threads (torch and BLAS) each DataLoader worker may run on `cores` cores beside a main "
        "process busy `main_busy` (0..1) of the time; with 0 workers, the main process's threads.");

  m.def("_resolve_device_model", &graph::resolve_model, nb::arg("dag"), nb::arg("device_model").none(),
        nb::arg("workers").none(), nb::arg("cores").none() = nb::none());

  m.def(
      "evaluate_plan",
      [](const Dag& dag, nb::handle plan, std::optional<DeviceModel> device_model) {
        const MigrationPlan p = plan_from(plan);
        return from_json(graph::evaluate_plan(dag, p, device_model ? &*device_model : nullptr).to_json());
      },
      nb::arg("dag"), nb::arg("plan"), nb::arg("device_model").none() = nb::none(),
      "Score a plan (dict or path) on a DAG with SPEC §2's cost model: per-executor stage times, transfers, cost, "
      "baseline_cost, predicted_speedup, bottleneck. InfeasiblePlanError names a broken constraint.");

  m.def(
      "load_plan", [](const std::string& path) { return from_json(MigrationPlan::load(path).to_json()); },
      nb::arg("path"), "Read and validate a codedag.plan/1 file; returns the plan as a dict.");
  m.def(
      "save_plan",
      [](nb::handle plan, const std::string& path) { MigrationPlan::from_json(to_json(plan), path).save(path); },
      nb::arg("plan"), nb::arg("path"), "Validate a plan dict and write it atomically as codedag.plan/1.");
  m.def(
      "validate_plan", [](nb::handle plan) { return from_json(plan_from(plan).to_json()); }, nb::arg("plan"),
      "Read and validate a plan (dict or path); returns it normalised (the one plan reader).");
  m.def("is_executor_name", &graph::is_executor_name, nb::arg("name"),
        "True for the executor names a plan may use: cpu, batch:cpu, cuda:<n>.");

  m.def("partitioner_names", &graph::partitioner_names, "The partitioning algorithms known to the registry.");
  m.def(
      "random_layered_dag",
      [](int64_t nodes, uint64_t seed, int64_t workers, double shared_function_rate, double eligible_rate) {
        graph::RandomDagOptions o;
        o.nodes = nodes;
        o.seed = seed;
        o.workers = workers;
        o.shared_function_rate = shared_function_rate;
        o.eligible_rate = eligible_rate;
        nb::gil_scoped_release release;
        return graph::random_layered_dag(o);
      },
      nb::arg("nodes"), nb::arg("seed") = 0, nb::arg("workers") = 4, nb::arg("shared_function_rate") = 0.05,
      nb::arg("eligible_rate") = 0.9, "A seeded random layered pipeline DAG (benchmarks, tests).");
}

}  // namespace codedag::bindings
