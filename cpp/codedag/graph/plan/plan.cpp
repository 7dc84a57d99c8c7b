#include "codedag/graph/plan/plan.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {
namespace {

[[noreturn]] void bad(const std::string& origin, const std::string& field, const std::string& problem) {
  throw FormatError(origin + ": '" + field + "' " + problem);
}

double number(const json& doc, const std::string& origin, const char* field) {
  if (!doc.contains(field)) bad(origin, field, "is missing");
  const json& v = doc.at(field);
  if (!v.is_number()) bad(origin, field, std::string("must be a number, got ") + json_type_name(v));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < 0) bad(origin, field, "must be a finite number of 0 or more, got " + v.dump());
  return x;
}

std::string executor(const json& v, const std::string& origin, const std::string& field) {
  if (!v.is_string()) bad(origin, field, std::string("must be an executor name, got ") + json_type_name(v));
  const std::string name = v.get<std::string>();
  if (!is_executor_name(name))
    bad(origin, field, "names executor \"" + name + "\"; executors are cpu, batch:cpu and cuda:<n>");
  return name;
}

// cuda:<n> sorts by n, after cpu and batch:cpu.
bool executor_less(const std::string& a, const std::string& b) {
  auto rank = [](const std::string& s) -> long {
    return s == "cpu" ? -2 : s == "batch:cpu" ? -1 : std::stol(s.substr(5));
  };
  return rank(a) < rank(b);
}

}  // namespace

MigrationPlan MigrationPlan::from_json(const json& doc, const std::string& origin) {
  if (!doc.is_object()) throw FormatError(origin + ": a plan must be a JSON object, got " + json_type_name(doc));
  if (!doc.contains("schema"))
    throw FormatError(origin + ": no 'schema' field; expected \"" + std::string(kPlanSchema) + "\"");
  if (doc.at("schema") != kPlanSchema)
    throw FormatError(origin + ": unknown schema " + doc.at("schema").dump() + "; this version reads \"" + kPlanSchema +
                      "\"");
  MigrationPlan p;
  if (!doc.contains("context_device_map")) bad(origin, "context_device_map", "is missing");
  const json& map = doc.at("context_device_map");
  if (!map.is_object())
    bad(origin, "context_device_map",
        std::string("must be an object qualname -> executor, got ") + json_type_name(map));
  for (const auto& [q, ex] : map.items()) {
    if (q.empty()) bad(origin, "context_device_map", "has an empty qualname");
    p.context_device_map[q] = executor(ex, origin, "context_device_map." + q);
  }
  p.default_device =
      doc.contains("default_device") ? executor(doc.at("default_device"), origin, "default_device") : "cpu";
  if (doc.contains("modes")) {
    const json& modes = doc.at("modes");
    if (!modes.is_object())
      bad(origin, "modes", std::string("must be an object qualname -> mode, got ") + json_type_name(modes));
    for (const auto& [q, m] : modes.items()) {
      if (!m.is_string() || (m != "batched" && m != "inline"))
        bad(origin, "modes." + q, "must be \"batched\" or \"inline\", got " + m.dump());
      if (!p.context_device_map.count(q))
        bad(origin, "modes." + q, "gives a mode to a function that context_device_map does not place");
      p.modes[q] = m.get<std::string>();
    }
  }
  if (doc.contains("transfer_points")) {
    const json& list = doc.at("transfer_points");
    if (!list.is_array()) bad(origin, "transfer_points", std::string("must be a list, got ") + json_type_name(list));
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = origin + ": transfer_points[" + std::to_string(i) + "]";
      const json& t = list[i];
      if (!t.is_object()) throw FormatError(where + ": must be an object {src, dst, bytes}");
      TransferPoint tp;
      for (const char* f : {"src", "dst"}) {
        if (!t.contains(f) || !t.at(f).is_string())
          throw FormatError(where + ": '" + f + "' must be a qualname string");
        (std::string(f) == "src" ? tp.src : tp.dst) = t.at(f).get<std::string>();
      }
      tp.bytes = t.contains("bytes") ? number(t, where, "bytes") : 0.0;
      p.transfer_points.push_back(std::move(tp));
    }
  }
  if (doc.contains("cost") || doc.contains("baseline_cost")) {
    const char* why = "is missing (a plan gives both cost and baseline_cost, or neither)";
    if (!doc.contains("cost")) bad(origin, "cost", why);
    if (!doc.contains("baseline_cost")) bad(origin, "baseline_cost", why);
    p.cost = number(doc, origin, "cost");
    p.baseline_cost = number(doc, origin, "baseline_cost");
  }
  if (doc.contains("predicted_speedup"))
    p.predicted_speedup = number(doc, origin, "predicted_speedup");
  else if (p.cost)
    p.predicted_speedup = *p.cost > 0 ? *p.baseline_cost / *p.cost : 1.0;
  if (doc.contains("device_model") && !(doc.at("device_model").is_object() && doc.at("device_model").empty())) {
    json dm = doc.at("device_model");
    if (dm.is_object() && !dm.contains("schema")) dm["schema"] = kDeviceModelSchema;
    p.device_model = DeviceModel::from_json(dm, origin + ": device_model");
  }
  if (doc.contains("parallelism") && !doc.at("parallelism").is_null())
    p.parallelism = Parallelism::from_json(doc.at("parallelism"), origin);
  static const std::set<std::string> known = {
      "schema", "default_device", "context_device_map", "modes",        "transfer_points",
      "cost",   "baseline_cost",  "predicted_speedup",  "device_model", "parallelism"};
  for (const auto& [key, value] : doc.items())
    if (!known.count(key)) p.extra[key] = value;
  return p;
}

json MigrationPlan::to_json() const {
  json doc = extra.is_object() ? extra : json::object();
  doc["schema"] = kPlanSchema;
  doc["default_device"] = default_device;
  doc["context_device_map"] = json::object();
  for (const auto& [q, ex] : context_device_map) doc["context_device_map"][q] = ex;
  doc["modes"] = json::object();
  for (const auto& [q, m] : modes) doc["modes"][q] = m;
  doc["transfer_points"] = json::array();
  for (const TransferPoint& t : transfer_points)
    doc["transfer_points"].push_back({{"src", t.src}, {"dst", t.dst}, {"bytes", t.bytes}});
  if (cost) doc["cost"] = *cost;
  if (baseline_cost) doc["baseline_cost"] = *baseline_cost;
  if (predicted_speedup) doc["predicted_speedup"] = *predicted_speedup;
  doc["device_model"] = device_model.to_json();
  if (parallelism) doc["parallelism"] = parallelism->to_json();
  return doc;
}

MigrationPlan MigrationPlan::load(const std::string& path) { return from_json(load_json_file(path), path); }

void MigrationPlan::save(const std::string& path) const { save_json_file(path, to_json(), 2); }

MigrationPlan make_plan(const Dag& dag, const Placement& placement, const DeviceModel& model,
                        CostBreakdown* breakdown) {
  CostBreakdown cost = evaluate_placement(dag, model, placement);
  MigrationPlan plan;
  plan.device_model = model;
  // Only executors of this plan carry a training step in the embedded model: the plan is scored
  // on the executors that exist.
  plan.device_model.train_ns.clear();
  for (size_t e = 1; e < placement.executors.size(); ++e)
    plan.device_model.train_ns[placement.executors[e]] = model.train_for(placement.executors[e]);
  const bool batched = dag.meta.is_object() && dag.meta.contains("workers") && dag.meta.at("workers").is_number() &&
                       dag.meta.at("workers").get<double>() > 0;
  std::map<std::string, size_t> moved_per_executor;
  for (size_t i = 0; i < dag.nodes().size(); ++i) {
    const std::string& ex = placement.executors[placement.of_node[i]];
    if (ex == "cpu") continue;
    for (const std::string& q : patch_qualnames(dag.nodes()[i])) {
      plan.context_device_map[q] = ex;
      // batch:cpu is the main process on the collated batch: batched whatever the worker count
      // (inline there would run the same per-sample call in the same place).
      plan.modes[q] = batched || ex == "batch:cpu" ? "batched" : "inline";
    }
    ++moved_per_executor[ex];
  }
  size_t most = 0;
  for (const auto& [ex, n] : moved_per_executor)
    if (n > most) {
      most = n;
      plan.default_device = ex;
    }
  for (const TransferTime& t : cost.transfers)
    plan.transfer_points.push_back({dag.node(t.src).qualname, dag.node(t.dst).qualname, t.bytes});
  plan.cost = cost.cost;
  plan.baseline_cost = cost.baseline_cost;
  plan.predicted_speedup = cost.predicted_speedup;
  json executors = json::array();
  for (const std::string& e : placement.executors) executors.push_back(e);
  plan.extra["executors"] = executors;
  if (breakdown) *breakdown = std::move(cost);
  return plan;
}

Placement resolve_plan(const Dag& dag, const MigrationPlan& plan, const DeviceModel& model) {
  std::set<std::string, decltype(&executor_less)> names(&executor_less);
  names.insert("cpu");
  names.insert("batch:cpu");
  for (const auto& [q, ex] : plan.context_device_map) names.insert(ex);
  for (const auto& [ex, ns] : model.train_ns) names.insert(ex);
  Placement p;
  p.executors.assign(names.begin(), names.end());
  auto index_of = [&](const std::string& ex) {
    return static_cast<int>(std::find(p.executors.begin(), p.executors.end(), ex) - p.executors.begin());
  };
  const size_t n = dag.nodes().size();
  std::vector<int> own(n, -1);
  for (size_t i = 0; i < n; ++i)
    for (const std::string& q : patch_qualnames(dag.nodes()[i]))
      if (const auto it = plan.context_device_map.find(q); it != plan.context_device_map.end()) {
        own[i] = index_of(it->second);
        break;
      }
  // SPEC §2: contexts absent from the map are on cpu.
  p.of_node.assign(n, 0);
  for (size_t i = 0; i < n; ++i)
    if (own[i] >= 0) p.of_node[i] = own[i];
  return p;
}

CostBreakdown evaluate_plan(const Dag& dag, const MigrationPlan& plan, const DeviceModel* model) {
  const DeviceModel& m = model ? *model : plan.device_model;
  return evaluate_placement(dag, m, resolve_plan(dag, plan, m));
}

}  // namespace codedag::graph
