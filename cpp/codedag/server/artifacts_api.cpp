// GET routes of what a run attached: its pipeline DAG (with the plan's placement), its resource
// usage and baseline-vs-optimised comparison (the monitor result), and its notes and logs.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/plan/plan.hpp"
#include "codedag/report/comparison.hpp"
#include "codedag/report/dag_svg.hpp"
#include "codedag/server/panel_context.hpp"

namespace codedag::server {
namespace {

constexpr size_t kResourcePoints = 600;
constexpr size_t kLogTailBytes = 64 * 1024;

struct RunDag {
  std::string dag_file, plan_file, closed_loop_file;
  std::optional<graph::Dag> dag;
  std::optional<graph::MigrationPlan> plan;
  json closed_loop;
  std::string problem;  // why there is no DAG to show
};

RunDag load_run_dag(const LoadedRun& run) {
  RunDag d;
  d.dag_file = attachment_path(run, "dag");
  d.plan_file = attachment_path(run, "plan");
  d.closed_loop_file = attachment_path(run, "closed_loop");
  if (d.dag_file.empty()) {
    d.problem =
        "this run recorded no pipeline DAG (a DAG is attached when a tracer or codedag.optimize_pipeline "
        "runs inside the Experiment)";
    return d;
  }
  d.dag = graph::Dag::load(d.dag_file);
  if (!d.plan_file.empty()) d.plan = graph::MigrationPlan::load(d.plan_file);
  if (!d.closed_loop_file.empty()) d.closed_loop = load_json_file(d.closed_loop_file);
  return d;
}

json closed_loop_summary(const json& c) {
  if (!c.is_object()) return nullptr;
  json out = json::object();
  for (const char* key :
       {"kept", "reason", "predicted_speedup", "measured_speedup", "baseline_batches_per_s", "migrated_batches_per_s"})
    if (c.contains(key)) out[key] = c[key];
  return out;
}

json series_json(const std::string& label, const report::Series& points) {
  SeriesPoints s;
  for (const auto& p : points) {
    s.step.push_back(p[0]);
    s.value.push_back(p[1]);
    s.time.push_back(NAN);
  }
  bool sorted = true;
  for (size_t i = 1; i < s.step.size(); ++i) sorted = sorted && s.step[i - 1] <= s.step[i];
  if (!sorted) return json{{"key", label}, {"raw_points", points.size()}, {"buckets", json::array()}};
  return to_json(bucket_series(label, s, kResourcePoints, std::nullopt, std::nullopt));
}

std::string tail_of(const std::string& path, size_t max_bytes, bool& truncated) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff start =
      size > static_cast<std::streamoff>(max_bytes) ? size - static_cast<std::streamoff>(max_bytes) : 0;
  truncated = start > 0;
  in.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

}  // namespace

void add_artifact_routes(HttpServer& http, PanelContext& ctx) {
  http.get("/api/runs/([^/]+)/dag", [&](const HttpRequest& req) {
    const LoadedRun run = load_run_record(ctx, req.captures.at(0));
    const RunDag d = load_run_dag(run);
    json out = json{{"test_name", run.ref.test_name}, {"present", d.dag.has_value()}};
    if (!d.dag) {
      out["reason"] = d.problem;
      return HttpResponse::json_body(dump(out));
    }
    const report::NodePlacementInfo where = report::node_executors(*d.dag, d.plan ? &*d.plan : nullptr);
    json nodes = json::array(), executors = json::object(), moved = json::array();
    for (size_t i = 0; i < d.dag->nodes().size(); ++i) {
      const graph::Node& n = d.dag->nodes()[i];
      nodes.push_back(json{{"id", n.id},
                           {"name", n.name},
                           {"qualname", n.qualname},
                           {"executor", where.executor[i]},
                           {"inherited", where.inherited[i]},
                           {"calls", n.calls},
                           {"cpu_ns", n.cpu_ns},
                           {"total_ns", n.total_ns},
                           {"out_bytes", n.out_bytes},
                           {"gpu_eligible", n.gpu_eligible},
                           {"blocked_by", n.blocked_by},
                           {"file", n.file},
                           {"line", n.line}});
      executors[where.executor[i]] = executors.value(where.executor[i], 0) + 1;
      if (where.executor[i] != "cpu" && !where.inherited[i])
        moved.push_back(json{{"qualname", n.qualname}, {"executor", where.executor[i]}});
    }
    out["dag_file"] = d.dag_file;
    out["meta"] = d.dag->meta;
    out["nodes"] = std::move(nodes);
    out["data_edges"] = d.dag->data_edge_count();
    out["call_edges"] = d.dag->call_edge_count();
    out["executors"] = std::move(executors);
    out["moved"] = std::move(moved);
    if (d.plan)
      out["plan"] = json{{"file", d.plan_file},
                         {"predicted_speedup", number_or_null(d.plan->predicted_speedup)},
                         {"cost_ns", number_or_null(d.plan->cost)},
                         {"baseline_cost_ns", number_or_null(d.plan->baseline_cost)},
                         {"default_device", d.plan->default_device}};
    else
      out["plan"] = nullptr;
    out["closed_loop"] = closed_loop_summary(d.closed_loop);
    return HttpResponse::json_body(dump(out));
  });

  http.get("/api/runs/([^/]+)/dag\\.svg", [&](const HttpRequest& req) {
    const LoadedRun run = load_run_record(ctx, req.captures.at(0));
    const RunDag d = load_run_dag(run);
    if (!d.dag) throw NotFoundError(run.ref.test_name + ": " + d.problem);
    report::DagSvgOptions o;
    o.call_edges = req.param("calls", "1") != "0";
    o.element_id = "dag-svg";
    HttpResponse r;
    r.content_type = "image/svg+xml";
    r.body = report::render_dag_svg(*d.dag, d.plan ? &*d.plan : nullptr, o);
    return r;
  });

  http.get("/api/runs/([^/]+)/resources", [&](const HttpRequest& req) {
    const LoadedRun run = load_run_record(ctx, req.captures.at(0));
    const std::string path = attachment_path(run, "monitor_result");
    json out = json{{"test_name", run.ref.test_name}, {"present", !path.empty()}};
    if (path.empty()) {
      out["reason"] =
          "this run attached no monitor result (ExperimentMonitor.save_json inside the Experiment "
          "attaches one)";
      return HttpResponse::json_body(dump(out));
    }
    const report::ExperimentResult result = report::ExperimentResult::load(path);
    json modes = json::array();
    for (const report::ModeResult& m : result.modes) {
      json series = json::array();
      report::Series batch_times;
      for (const auto& [i, s] : m.batch_times) batch_times.push_back({static_cast<double>(i), s});
      series.push_back(series_json("batch_time_s", batch_times));
      series.push_back(series_json("cpu_percent", m.resources.cpu_usage));
      series.push_back(series_json("memory_percent", m.resources.memory_usage));
      series.push_back(series_json("process_cpu_percent", m.resources.process_cpu_usage));
      series.push_back(series_json("process_memory_mb", m.resources.process_memory));
      for (const auto& [gpu, s] : m.resources.gpu_usage) series.push_back(series_json("gpu" + gpu + "_percent", s));
      for (const auto& [gpu, s] : m.resources.gpu_memory) series.push_back(series_json("gpu" + gpu + "_memory_mb", s));
      modes.push_back(json{{"name", m.name},
                           {"summary", parse_json(m.summary().dump(), "summary of mode " + m.name)},
                           {"series", series}});
    }
    out["modes"] = std::move(modes);
    if (!result.modes.empty()) {
      const report::Comparison c = report::compare(result);
      json rows = json::array();
      for (const report::ComparisonRow& r : c.rows)
        rows.push_back(json{{"metric", r.metric}, {"values", r.values}, {"change", r.change}, {"better", r.better}});
      out["comparison"] = json{{"baseline", c.baseline ? json(c.baseline->name) : json(nullptr)},
                               {"candidate", c.candidate ? json(c.candidate->name) : json(nullptr)},
                               {"speedup", c.speedup ? json(*c.speedup) : json(nullptr)},
                               {"rows", std::move(rows)}};
    }
    return HttpResponse::json_body(dump(out));
  });

  http.get("/api/runs/([^/]+)/logs", [&](const HttpRequest& req) {
    const LoadedRun run = load_run_record(ctx, req.captures.at(0));
    json out = json{{"test_name", run.ref.test_name},
                    {"notes", run.record.value("notes", json::array())},
                    {"exception", run.record.value("exception", json(nullptr))},
                    {"files", json::array()}};
    const auto attachments = run.record.find("attachments");
    if (attachments != run.record.end() && attachments->is_object())
      for (const auto& [kind, list] : attachments->items()) {
        if (kind.find("log") == std::string::npos && kind != "stdout" && kind != "stderr") continue;
        std::string path;
        try {
          path = attachment_path(run, kind);
        } catch (const FormatError& e) {
          out["files"].push_back(json{{"kind", kind}, {"error", e.what()}});
          continue;
        }
        bool truncated = false;
        out["files"].push_back(json{{"kind", kind},
                                    {"path", path},
                                    {"tail", tail_of(path, kLogTailBytes, truncated)},
                                    {"truncated", truncated}});
      }
    return HttpResponse::json_body(dump(out));
  });
}

}  // namespace codedag::server
