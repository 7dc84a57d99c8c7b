#include "codedag/lint/run_evidence.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "codedag/common/error.hpp"
#include "codedag/common/json_file.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/plan/plan.hpp"
#include "codedag/monitor/result_model.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/store.hpp"

namespace codedag::lint {
namespace {

constexpr double kLoaderBoundShare = 0.10;

std::string fmt(double v, const char* f = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// The newest attachment of `kind` (absolute path), or empty.
std::string attachment(const json& run, const std::string& info_dir, const std::string& kind) {
  const json a = run.value("attachments", json::object());
  if (!a.is_object() || !a.contains(kind) || !a[kind].is_array() || a[kind].empty()) return {};
  const json& last = a[kind].back();
  if (!last.is_string()) return {};
  const std::string rel = last.get<std::string>();
  // Recorded paths are relative to the run's directory; anything leaving it is not trusted.
  if (rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos) return {};
  return info_dir + "/" + rel;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

RunEvidence load_run_evidence(const std::string& run_id, const std::string& home) {
  store::Store s(home);
  const store::RunRef ref = s.resolve(run_id);
  RunEvidence e;
  e.run_id = ref.name + "/" + ref.test_name;
  const json run = store::load_run(ref.info_dir);
  const json inventory = run.value("inventory", json::object());
  if (inventory.is_object() && inventory.contains("gpus") && inventory["gpus"].is_array() && !inventory["gpus"].empty())
    e.gpu = true;

  if (const std::string path = attachment(run, ref.info_dir, "monitor_result"); path.empty()) {
    e.notes.push_back(
        "no monitor_result attached (ExperimentMonitor.save_json inside the Experiment records one): "
        "no measured step or loader time");
  } else {
    try {
      const monitor::ExperimentResult result = monitor::ExperimentResult::load(path);
      const monitor::ModeResult* mode = result.find("baseline");
      if (!mode && !result.modes.empty()) mode = &result.modes.front();
      if (!mode || mode->batch_times.empty()) {
        e.notes.push_back("the monitor result has no timed batches (start_batch/end_batch)");
      } else {
        e.has_monitor = true;
        e.mode = mode->name;
        std::vector<double> steps;
        double sum = 0;
        for (const auto& [idx, sec] : mode->batch_times) {
          steps.push_back(sec * 1e3);
          sum += sec;
        }
        e.steps = steps.size();
        e.step_ms = median(steps);
        const double total = mode->total_time > 0 ? mode->total_time : mode->end_time - mode->start_time;
        e.wait_ms = std::max(0.0, (total - sum) * 1e3 / static_cast<double>(steps.size()));
        e.loader_bound = wait_share(e) >= kLoaderBoundShare;
        for (const auto& [gpu, series] : mode->resources.gpu_usage)
          if (!series.empty()) e.gpu = true;
      }
    } catch (const Error& err) {
      e.notes.push_back(std::string("monitor result unreadable: ") + err.what());
    }
  }
  if (const std::string path = attachment(run, ref.info_dir, "dag"); !path.empty()) {
    try {
      const graph::Dag dag = graph::Dag::load(path);
      double ns = 0;
      for (const auto& n : dag.nodes()) ns += n.cpu_ns;
      e.has_dag = true;
      e.pipeline_cpu_ms = ns / 1e6;
      e.traced_workers = dag.meta.value("workers", 0);
    } catch (const Error& err) {
      e.notes.push_back(std::string("traced DAG unreadable: ") + err.what());
    }
  }
  if (const std::string path = attachment(run, ref.info_dir, "plan"); !path.empty()) {
    try {
      const graph::MigrationPlan plan = graph::MigrationPlan::load(path);
      e.has_plan = true;
      e.predicted_speedup = plan.predicted_speedup.value_or(0);  // absent when the plan was not scored
      for (const auto& [ctx, device] : plan.context_device_map)
        if (device != "cpu") e.plan_moves.push_back(ctx + " → " + device);
    } catch (const Error& err) {
      e.notes.push_back(std::string("plan unreadable: ") + err.what());
    }
  }
  return e;
}

void apply_run_evidence(std::vector<Finding>& findings, const RunEvidence& e) {
  for (Finding& f : findings) {
    if (f.code == "CDL006") {
      if (e.has_monitor) {
        f.ms_per_step = e.wait_ms;
        const std::string share = fmt(100 * wait_share(e), "%.0f");
        if (e.loader_bound) {
          f.severity = Severity::error;
          f.evidence = "measured in " + e.run_id + ": " + fmt(e.wait_ms) + " ms/step waiting for data (" + share +
                       "% of each step; steps take " + fmt(e.step_ms) + " ms): loader-bound";
          if (e.has_plan && !e.plan_moves.empty())
            f.evidence +=
                "; its plan moves " + e.plan_moves.front() +
                (e.plan_moves.size() > 1 ? " (+" + std::to_string(e.plan_moves.size() - 1) + ")" : "") +
                (e.predicted_speedup > 0 ? ", predicted " + fmt(e.predicted_speedup, "%.2f") + "x" : std::string()) +
                " (codedag optimize)";
        } else {
          f.severity = Severity::info;
          f.evidence = "measured in " + e.run_id + ": only " + fmt(e.wait_ms) + " ms/step waiting for data (" + share +
                       "%): not loader-bound, workers would gain little";
        }
      } else if (e.has_dag) {
        f.ms_per_step = e.pipeline_cpu_ms;
        f.evidence = "estimated from the traced DAG of " + e.run_id + ": the pipeline costs " + fmt(e.pipeline_cpu_ms) +
                     " ms CPU per batch, spent in the training process without workers";
      } else {
        f.evidence = "not measurable: " + e.run_id + " recorded neither step times nor a traced DAG";
      }
    } else if (f.code == "CDL001") {
      if (!e.gpu) {
        f.ms_per_step = 0;
        f.evidence = "CPU-only run (" + e.run_id + "): no device to wait for, ~0 ms/step here; it costs on a GPU";
      } else {
        f.evidence =
            "not measurable from the record: run once with torch.cuda.set_sync_debug_mode('warn') to see "
            "each sync";
      }
    } else if (f.code == "CDL007") {
      f.evidence = e.gpu ? "not measurable from the record (copy overlap is not timed)"
                         : "CPU-only run (" + e.run_id + "): no device copies, ~0 ms/step here";
      if (!e.gpu) f.ms_per_step = 0;
    } else if (f.code != "CDL000") {
      f.evidence = "not measurable from the record";
    }
  }
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    const double ca = a.ms_per_step.value_or(-1), cb = b.ms_per_step.value_or(-1);
    if (ca != cb) return ca > cb;
    return static_cast<int>(a.severity) > static_cast<int>(b.severity);
  });
}

}  // namespace codedag::lint
