// GET /api/diff?a=&b=: what differs between two runs — the sections of `codedag diff` (params,
// argv, versions, environment, metrics, code) plus the pipeline plan: contexts whose executor
// changed, and predicted against measured speedup of each run's closed loop.
#include <set>

#include "codedag/common/error.hpp"
#include "codedag/graph/plan/plan.hpp"
#include "codedag/server/panel_context.hpp"
#include "codedag/store/run_diff.hpp"

namespace codedag::server {
namespace {

constexpr size_t kMaxCodeDiffBytes = 512 * 1024;

struct PlanSide {
  std::optional<graph::MigrationPlan> plan;
  json closed_loop;
};

PlanSide plan_side(const LoadedRun& run) {
  PlanSide side;
  const std::string plan = attachment_path(run, "plan");
  if (!plan.empty()) side.plan = graph::MigrationPlan::load(plan);
  const std::string loop = attachment_path(run, "closed_loop");
  if (!loop.empty()) side.closed_loop = load_json_file(loop);
  return side;
}

json speedups(const PlanSide& s) {
  json out = json::object();
  out["predicted"] = s.plan ? number_or_null(s.plan->predicted_speedup) : json(nullptr);
  out["measured"] = s.closed_loop.is_object() ? s.closed_loop.value("measured_speedup", json(nullptr)) : json(nullptr);
  out["kept"] = s.closed_loop.is_object() ? s.closed_loop.value("kept", json(nullptr)) : json(nullptr);
  return out;
}

json plan_diff(const PlanSide& a, const PlanSide& b) {
  json out = json{{"a", speedups(a)}, {"b", speedups(b)}, {"moved", json::array()}};
  if (!a.plan && !b.plan) {
    out["note"] = "neither run recorded a plan";
    return out;
  }
  std::set<std::string> contexts;
  if (a.plan)
    for (const auto& [q, e] : a.plan->context_device_map) contexts.insert(q);
  if (b.plan)
    for (const auto& [q, e] : b.plan->context_device_map) contexts.insert(q);
  auto where = [](const PlanSide& s, const std::string& q) -> std::string {
    if (!s.plan) return "cpu";
    const auto it = s.plan->context_device_map.find(q);
    return it == s.plan->context_device_map.end() ? "cpu" : it->second;
  };
  for (const std::string& q : contexts) {
    const std::string ea = where(a, q), eb = where(b, q);
    if (ea != eb) out["moved"].push_back(json{{"context", q}, {"a", ea}, {"b", eb}});
  }
  if (!a.plan || !b.plan) out["note"] = std::string("only run ") + (a.plan ? "A" : "B") + " recorded a plan";
  return out;
}

}  // namespace

void add_diff_routes(HttpServer& http, PanelContext& ctx) {
  http.get("/api/diff", [&](const HttpRequest& req) {
    const std::string ida = req.param("a"), idb = req.param("b");
    if (ida.empty() || idb.empty()) throw InputError("give two runs: /api/diff?a=RUN&b=RUN");
    const LoadedRun a = load_run_record(ctx, ida), b = load_run_record(ctx, idb);
    store::RunDiffOptions options;
    options.max_code_bytes = kMaxCodeDiffBytes;
    options.code_stat = req.param("stat") == "1";
    json out = store::diff_runs(a.ref, a.record, b.ref, b.record, options);
    out["plan"] = plan_diff(plan_side(a), plan_side(b));
    out["names"] = json{{"a", a.ref.name}, {"b", b.ref.name}};
    return HttpResponse::json_body(dump(out));
  });
}

}  // namespace codedag::server
