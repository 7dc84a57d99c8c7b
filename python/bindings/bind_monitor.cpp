// Bindings of the monitor area: the experiment session behind codedag.ExperimentMonitor, the
// seed's Timer / ResourceMonitor / MetricsLogger engines, one-shot readers for the benchmark, and
// the report renderer. Python keeps only the seed-compatible names and the store hand-off.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <filesystem>

#include "bindings.hpp"
#include "codedag/monitor/batch_timer.hpp"
#include "codedag/monitor/cgroup.hpp"
#include "codedag/monitor/cpu_budget.hpp"
#include "codedag/monitor/experiment_session.hpp"
#include "codedag/monitor/metrics_log.hpp"
#include "codedag/monitor/resource_reader.hpp"
#include "codedag/monitor/resource_sampler.hpp"
#include "codedag/monitor/statistics.hpp"
#include "codedag/report/comparison.hpp"
#include "codedag/report/html_report.hpp"

namespace codedag::bindings {

namespace {

using namespace codedag::monitor;
namespace rp = codedag::report;

// ordered_json -> Python, keeping key order (the result file reads top-down as the seed wrote it).
nb::object from_ordered(const ordered_json& v) {
  switch (v.type()) {
    case ordered_json::value_t::object: {
      nb::dict d;
      for (const auto& [key, value] : v.items()) d[nb::str(key.c_str(), key.size())] = from_ordered(value);
      return d;
    }
    case ordered_json::value_t::array: {
      nb::list l;
      for (const auto& value : v) l.append(from_ordered(value));
      return l;
    }
    default:
      return from_json(json(v));
  }
}

SamplerOptions sampler_options(double interval, int pid, const std::string& root, bool gpu, const std::string& nvml) {
  SamplerOptions o;
  o.interval_s = interval;
  o.pid = pid;
  o.root = root;
  o.gpu = gpu;
  o.nvml_library = nvml;
  return o;
}

nb::dict sample_dict(const ResourceSample& s) {
  nb::dict d;
  d["timestamp"] = s.timestamp;
  d["cpu_usage"] = s.cpu_pct;
  d["memory_usage"] = s.memory_pct;
  d["system_cpu_usage"] = s.system_cpu_pct;
  d["process_cpu_usage"] = s.process_cpu_pct;
  d["process_memory"] = s.process_memory_mb;
  d["cpu_throttled"] = s.throttled_ms;
  d["processes"] = s.processes;
  nb::dict gu, gm;
  for (const GpuReading& g : s.gpus) {
    gu[nb::str(std::to_string(g.index).c_str())] = g.utilization_pct;
    gm[nb::str(std::to_string(g.index).c_str())] = g.memory_used_mb;
  }
  d["gpu_usage"] = gu;
  d["gpu_memory"] = gm;
  return d;
}

nb::object usage_dict(const std::vector<ResourceSample>& samples) {
  monitor::ModeResult m;
  for (const ResourceSample& s : samples) append_sample(m.resources, s);
  return from_ordered(m.to_json()["resource_usage"]);
}

// Timer statistics as the result file's summary has them.
nb::object timer_stats(const BatchTimer& t) {
  monitor::ModeResult m;
  m.batch_times = t.batch_times();
  m.total_time = t.total_time();
  const ordered_json s = m.summary();
  return from_ordered(ordered_json{{"total_time", s["total_time"]}, {"batch_time", s["batch_time"]}});
}

monitor::ExperimentResult result_from(nb::handle source) {
  if (nb::isinstance<nb::str>(source) || nb::hasattr(source, "__fspath__")) {
    const std::string path = nb::cast<std::string>(nb::module_::import_("os").attr("fspath")(source));
    return monitor::ExperimentResult::load(path);
  }
  return monitor::ExperimentResult::from_json(to_json(source), "result dict");
}

}  // namespace

void add_monitor(nb::module_& m) {
  m.def(
      "available_cpus", [](const std::string& root) { return from_json(available_cpus(root).to_json()); },
      nb::arg("root") = "/",
      "CPUs this process may use: {cores (min of cgroup quota and affinity mask), quota_cpus, affinity_cpus, "
      "limited_by}.");
  nb::class_<BatchTimer>(m, "BatchTimer", "Batch times and total time of a training mode (the seed's Timer).")
      .def(nb::init<>())
      .def("start", &BatchTimer::start, "Start (or resume) the total-time clock.")
      .def("stop", &BatchTimer::stop, "Stop the total-time clock.")
      .def("start_batch", &BatchTimer::start_batch)
      .def("end_batch", &BatchTimer::end_batch, "Record the batch; returns its seconds.")
      .def_prop_ro("running", &BatchTimer::running)
      .def_prop_ro("total_time", &BatchTimer::total_time)
      .def_prop_ro(
          "batch_times",
          [](const BatchTimer& t) {
            nb::list out;
            for (const auto& [i, s] : t.batch_times()) out.append(nb::make_tuple(i, s));
            return out;
          },
          "[(global batch index, seconds), ...]")
      .def("get_stats", &timer_stats, "{'total_time', 'batch_time': {mean, std, min, max, count, median}}")
      .def("reset", &BatchTimer::reset);

  nb::class_<MetricsLog>(m, "MetricsLog", "Losses and accuracies per (epoch, batch) (the seed's MetricsLogger).")
      .def(nb::init<>())
      .def("log_loss", &MetricsLog::log_loss, nb::arg("epoch"), nb::arg("batch"), nb::arg("loss"))
      .def("log_accuracy", &MetricsLog::log_accuracy, nb::arg("epoch"), nb::arg("batch"), nb::arg("acc"))
      .def("get_metrics", [](const MetricsLog& l) { return from_ordered(l.metrics_json()); })
      .def("get_summary", [](const MetricsLog& l) { return from_ordered(l.summary_json()); })
      .def("reset", &MetricsLog::reset);

  nb::class_<ResourceSampler>(m, "ResourceSampler", "The C++ sampler thread (CPU, memory, GPUs, cgroup-aware).")
      .def(
          "__init__",
          [](ResourceSampler* self, double interval, int pid, const std::string& root, bool gpu,
             const std::string& nvml) { new (self) ResourceSampler(sampler_options(interval, pid, root, gpu, nvml)); },
          nb::arg("interval") = 1.0, nb::arg("pid") = 0, nb::arg("root") = "/", nb::arg("gpu") = true,
          nb::arg("nvml_library") = "libnvidia-ml.so.1")
      .def("start", [](ResourceSampler& s) { s.start(); })
      .def("stop", &ResourceSampler::stop, nb::call_guard<nb::gil_scoped_release>())
      .def_prop_ro("running", &ResourceSampler::running)
      .def_prop_rw("interval", &ResourceSampler::interval, &ResourceSampler::set_interval)
      .def_prop_ro("sample_count", &ResourceSampler::sample_count)
      .def(
          "samples",
          [](const ResourceSampler& s) {
            nb::list out;
            for (const ResourceSample& x : s.samples()) out.append(sample_dict(x));
            return out;
          },
          "Every sample as a dict.")
      .def(
          "usage", [](const ResourceSampler& s) { return usage_dict(s.samples()); },
          "The samples as the result file's resource_usage series.")
      .def("describe", [](const ResourceSampler& s) { return from_json(s.describe()); })
      .def("clear", &ResourceSampler::clear)
      .def_prop_ro("open_files", &ResourceSampler::open_files);

  nb::class_<ResourceReader>(m, "ResourceReader", "One full sample on demand (no thread): for benchmarks and tools.")
      .def(
          "__init__",
          [](ResourceReader* self, int pid, const std::string& root, bool gpu, const std::string& nvml) {
            new (self) ResourceReader(sampler_options(1.0, pid, root, gpu, nvml));
          },
          nb::arg("pid") = 0, nb::arg("root") = "/", nb::arg("gpu") = true,
          nb::arg("nvml_library") = "libnvidia-ml.so.1")
      .def("prime", &ResourceReader::prime)
      .def("sample", [](ResourceReader& r) { return sample_dict(r.sample()); })
      .def(
          "time_samples",
          [](ResourceReader& r, size_t n) {
            // Timed in C++ so the figure is the sampler's own cost, not the binding's.
            std::vector<double> ns;
            ns.reserve(n);
            r.prime();
            for (size_t i = 0; i < n; ++i) {
              const auto a = std::chrono::steady_clock::now();
              const ResourceSample s = r.sample();
              const auto b = std::chrono::steady_clock::now();
              (void)s;
              ns.push_back(std::chrono::duration<double, std::nano>(b - a).count());
            }
            return ns;
          },
          nb::arg("n"), nb::call_guard<nb::gil_scoped_release>(), "Take n samples; nanoseconds each.")
      .def("describe", [](const ResourceReader& r) { return from_json(r.describe()); })
      .def_prop_ro("open_files", &ResourceReader::open_files);

  nb::class_<ExperimentSession>(m, "ExperimentSession", "The engine of ExperimentMonitor.")
      .def(
          "__init__",
          [](ExperimentSession* self, const std::string& name, const std::string& save_dir, int pid,
             const std::string& root, bool gpu, const std::string& nvml) {
            new (self) ExperimentSession(name, save_dir, sampler_options(1.0, pid, root, gpu, nvml));
          },
          nb::arg("experiment_name"), nb::arg("save_dir") = "./results", nb::arg("pid") = 0, nb::arg("root") = "/",
          nb::arg("gpu") = true, nb::arg("nvml_library") = "libnvidia-ml.so.1")
      .def(
          "start_mode",
          [](ExperimentSession& s, const std::string& mode, nb::handle config, double interval) {
            s.start_mode(mode, to_json(config), interval);
          },
          nb::arg("mode"), nb::arg("config") = nb::none(), nb::arg("resource_interval") = 1.0)
      .def("start_batch", &ExperimentSession::start_batch)
      .def("end_batch", &ExperimentSession::end_batch)
      .def("log_loss", &ExperimentSession::log_loss, nb::arg("epoch"), nb::arg("batch"), nb::arg("loss"))
      .def("log_accuracy", &ExperimentSession::log_accuracy, nb::arg("epoch"), nb::arg("batch"), nb::arg("acc"))
      .def("stop_mode", &ExperimentSession::stop_mode, nb::call_guard<nb::gil_scoped_release>())
      .def(
          "save", [](ExperimentSession& s, std::optional<std::string> path) { return s.save(path.value_or("")); },
          nb::arg("path") = nb::none(), nb::call_guard<nb::gil_scoped_release>())
      .def("to_dict", [](const ExperimentSession& s) { return from_ordered(s.snapshot().to_json()); })
      .def_prop_ro("running", &ExperimentSession::running)
      .def_prop_ro("current_mode", &ExperimentSession::current_mode)
      .def_prop_rw(
          "default_path", [](const ExperimentSession& s) { return s.default_path(); },
          [](ExperimentSession& s, const std::string& p) { s.set_default_path(p); })
      .def_prop_ro("experiment_name", &ExperimentSession::experiment_name)
      .def_prop_ro("save_dir", &ExperimentSession::save_dir)
      .def("set_autosave", &ExperimentSession::set_autosave, nb::arg("on"))
      .def_prop_ro("last_autosave_error", &ExperimentSession::last_autosave_error)
      .def_prop_ro("open_files", &ExperimentSession::open_files);

  m.def(
      "load_result",
      [](const std::string& path) { return from_ordered(monitor::ExperimentResult::load(path).to_json()); },
      nb::arg("path"), "Read and check a result file; returns it normalised (summaries recomputed).");
  m.def(
      "normalise_result", [](nb::handle doc) { return from_ordered(result_from(doc).to_json()); }, nb::arg("doc"),
      "Check a result dict and return it with the summaries recomputed.");
  m.def(
      "compare_results",
      [](nb::handle source, const std::string& baseline, const std::string& candidate) {
        const monitor::ExperimentResult r = result_from(source);
        const rp::Comparison c = rp::compare(r, baseline, candidate);
        nb::dict out;
        nb::list modes;
        for (const monitor::ModeResult* mode : c.modes) modes.append(mode->name);
        out["modes"] = modes;
        out["baseline"] = c.baseline ? nb::cast(c.baseline->name) : nb::none();
        out["candidate"] = c.candidate ? nb::cast(c.candidate->name) : nb::none();
        out["speedup"] = c.speedup ? nb::cast(*c.speedup) : nb::none();
        out["total_time_ratio"] = c.total_time_ratio ? nb::cast(*c.total_time_ratio) : nb::none();
        nb::list rows;
        for (const rp::ComparisonRow& row : c.rows) {
          nb::dict d;
          d["metric"] = row.metric;
          d["values"] = row.values;
          d["change"] = row.change;
          d["better"] = row.better;
          rows.append(d);
        }
        out["rows"] = rows;
        return out;
      },
      nb::arg("source"), nb::arg("baseline") = "", nb::arg("candidate") = "",
      "Baseline against candidate: speedup and a row per metric.");
  m.def(
      "render_report",
      [](nb::handle source, const std::string& out_dir, const std::string& stem, const std::string& baseline,
         const std::string& candidate) {
        const monitor::ExperimentResult r = result_from(source);
        const rp::Comparison c = rp::compare(r, baseline, candidate);
        const rp::ReportFiles files = rp::write_report(r, c, out_dir, stem);
        return std::make_pair(files.html, files.svg);
      },
      nb::arg("source"), nb::arg("out_dir"), nb::arg("stem"), nb::arg("baseline") = "", nb::arg("candidate") = "",
      "Write <out_dir>/<stem>_report.html and .svg; returns their paths.");
  m.def(
      "cgroup_info",
      [](const std::string& root) {
        CgroupReader reader(root);
        const CgroupLayout& l = reader.layout();
        const CgroupLimits& lim = reader.limits();
        const CgroupReading r = reader.read();
        nb::dict d;
        d["version"] = to_string(l.version);
        d["cpu_dir"] = l.cpu_dir;
        d["cpuacct_dir"] = l.cpuacct_dir;
        d["memory_dir"] = l.memory_dir;
        d["cpu_quota_cpus"] = lim.cpu_quota_cpus;
        d["memory_limit_bytes"] = lim.memory_limit_bytes;
        d["affinity_cpus"] = lim.affinity_cpus;
        d["cpu_capacity"] = lim.cpu_capacity();
        d["container_detected"] = reader.container().detected;
        d["container_evidence"] = reader.container().evidence;
        d["cpu_usage_ns"] = r.has_cpu_usage ? nb::cast(r.cpu_usage_ns) : nb::none();
        d["nr_throttled"] = r.has_throttling ? nb::cast(r.nr_throttled) : nb::none();
        d["throttled_ns"] = r.has_throttling ? nb::cast(r.throttled_ns) : nb::none();
        d["memory_usage_bytes"] = r.has_memory ? nb::cast(r.memory_usage_bytes) : nb::none();
        d["working_set_bytes"] = r.has_memory ? nb::cast(r.working_set_bytes()) : nb::none();
        return d;
      },
      nb::arg("root") = "/", "The cgroup layout, limits, counters and container evidence seen under `root`.");
}

}  // namespace codedag::bindings
