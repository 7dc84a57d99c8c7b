#include "codedag/graph/cost/cost_model.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {
namespace {

std::string describe(const Node& n) { return "node " + std::to_string(n.id) + " (" + n.qualname + ")"; }

}  // namespace

std::vector<std::string> patch_qualnames(const Node& node) {
  std::vector<std::string> out = {node.qualname};
  if (node.extra.is_object() && node.extra.contains("members") && node.extra.at("members").is_array())
    for (const json& q : node.extra.at("members"))
      if (q.is_string() && std::find(out.begin(), out.end(), q.get<std::string>()) == out.end())
        out.push_back(q.get<std::string>());
  return out;
}

bool reachable_name(const Node& node) {
  return node.kind == "python" && !node.qualname.empty() && node.qualname.find('<') == std::string::npos;
}

bool is_patchable(const Node& node) {
  if (node.extra.is_object() && node.extra.contains("call_site")) return true;
  return !node.library && reachable_name(node);
}

void check_feasible(const Dag& dag, const Placement& p) {
  if (p.executors.empty() || p.executors.front() != "cpu")
    throw InputError("a placement's executors must start with \"cpu\"");
  if (p.of_node.size() != dag.nodes().size())
    throw InputError("the placement covers " + std::to_string(p.of_node.size()) + " nodes but the DAG has " +
                     std::to_string(dag.nodes().size()));
  for (const int e : p.of_node)
    if (e < 0 || static_cast<size_t>(e) >= p.executors.size())
      throw InputError("the placement names executor index " + std::to_string(e) + ", which does not exist");
  std::unordered_map<std::string, size_t> first_of;  // qualname -> node position
  for (size_t i = 0; i < dag.nodes().size(); ++i) {
    const Node& n = dag.nodes()[i];
    const std::string& ex = p.executors[p.of_node[i]];
    if (ex != "cpu" && !n.gpu_eligible)
      throw InfeasiblePlanError("infeasible plan: constraint 'non-eligible nodes stay on cpu' is broken by " +
                                describe(n) + ", placed on " + ex + " although it is not gpu_eligible" +
                                (n.blocked_by.empty() ? std::string() : " (blocked by " + n.blocked_by.front() + ")") +
                                "; leave it on cpu");
    if (ex != "cpu" && !is_patchable(n))
      throw InfeasiblePlanError("infeasible plan: constraint 'only patchable functions move' is broken by " +
                                describe(n) + ", placed on " + ex + " although " +
                                (n.library ? "it is library code" : "its module cannot reach it") +
                                ", which the migrator never patches; leave it on cpu (it runs where its caller runs)");
    for (const std::string& q : patch_qualnames(n)) {
      const auto [it, fresh] = first_of.emplace(q, i);
      if (!fresh && p.of_node[it->second] != p.of_node[i])
        throw InfeasiblePlanError(
            "infeasible plan: constraint 'one function, one executor' is broken by " + q + ": " +
            describe(dag.nodes()[it->second]) + " is on " + p.executors[p.of_node[it->second]] + " but " + describe(n) +
            " is on " + ex + "; a plan patches functions, so every context of one function must share an executor");
    }
  }
  for (const Edge& e : dag.edges()) {
    if (e.kind != EdgeKind::data) continue;
    const size_t u = dag.index_of(e.src), v = dag.index_of(e.dst);
    if (p.of_node[u] != 0 && p.of_node[v] == 0 && is_patchable(dag.nodes()[v]))
      throw InfeasiblePlanError(
          "infeasible plan: constraint 'data flows forward (no data edge from a main-process "
          "executor back to cpu)' is broken by the data edge " +
          describe(dag.nodes()[u]) + " on " + p.executors[p.of_node[u]] + " -> " + describe(dag.nodes()[v]) +
          " on cpu; move the consumer off cpu too, or keep the producer on cpu");
  }
}

double stage_cost(const std::vector<double>& stage, int main_cpu, const DeviceModel& model,
                  const std::vector<std::string>* executors, std::string* limit) {
  double cost = 0;
  size_t top = 0;
  for (size_t e = 0; e < stage.size(); ++e)
    if (e == 0 || stage[e] > cost) {
      cost = stage[e];
      top = e;
    }
  if (limit) *limit = executors && top < executors->size() ? (*executors)[top] : std::string("cpu");
  if (model.workers <= 0) {
    double sum = 0;
    for (const double v : stage) sum += v;
    if (stage.size() > 1 && sum > cost) {
      cost = sum;
      if (limit) *limit = "serial";
    }
  }
  if (model.cores > 0 && !stage.empty()) {
    const double cpu_work = stage[0] * model.parallel_workers() +
                            (main_cpu > 0 && static_cast<size_t>(main_cpu) < stage.size() ? stage[main_cpu] : 0.0);
    // With W = 0 the stages already run one after the other on one process: the budget binds
    // only when they could overlap.
    const double budget = model.workers > 0 ? cpu_work / model.cores : 0.0;
    if (budget > cost && !(std::fabs(budget - cost) <= 1e-9 * cost)) {
      cost = budget;
      if (limit) *limit = "cores";
    }
  }
  return cost;
}

CostBreakdown evaluate_placement(const Dag& dag, const DeviceModel& model, const Placement& p) {
  check_feasible(dag, p);
  const size_t E = p.executors.size();
  CostBreakdown out;
  out.stages.resize(E);
  double baseline_cpu = 0;
  int main_cpu = -1;
  for (size_t e = 0; e < E; ++e) {
    out.stages[e].executor = p.executors[e];
    if (e != 0) out.stages[e].train_ns = model.train_for(p.executors[e]);
    if (p.executors[e] == "batch:cpu") {
      main_cpu = static_cast<int>(e);
      if (model.workers > 0) out.stages[e].handoff_ns = model.worker_handoff_ns;
    }
  }
  const double W = model.parallel_workers();
  for (size_t i = 0; i < dag.nodes().size(); ++i) {
    const Node& n = dag.nodes()[i];
    StageTime& s = out.stages[p.of_node[i]];
    s.node_ns += p.of_node[i] == 0 ? n.cpu_ns / W : model.node_time_ns(n, s.executor);
    s.nodes += 1;
    baseline_cpu += n.cpu_ns / W;
  }
  for (const Edge& e : dag.edges()) {
    if (e.kind != EdgeKind::data) continue;
    const int a = p.of_node[dag.index_of(e.src)], b = p.of_node[dag.index_of(e.dst)];
    if (a == b) continue;
    // Into DataLoader machinery on cpu (see is_patchable): the moved part's inputs are collated
    // instead, and their transfer is already the edge into the moved part.
    if (b == 0 && !is_patchable(dag.node(e.dst))) continue;
    TransferTime t{e.src, e.dst, p.executors[a], p.executors[b], e.bytes, static_cast<double>(e.count), 0};
    t.ns = model.transfer_ns(t.from, t.to, e.bytes, t.count);
    // Charged to every main-process end: the main process does the copy; workers only hand over.
    if (a != 0) out.stages[a].transfer_ns += t.ns;
    if (b != 0) out.stages[b].transfer_ns += t.ns;
    out.transfers.push_back(std::move(t));
  }
  std::vector<double> stage(E), baseline(E);
  for (size_t e = 0; e < E; ++e) {
    StageTime& s = out.stages[e];
    s.stage_ns = s.train_ns + s.node_ns + s.transfer_ns + s.handoff_ns;
    out.total_work += s.stage_ns;
    stage[e] = s.stage_ns;
    baseline[e] = e == 0 ? baseline_cpu : s.train_ns + s.handoff_ns;
  }
  out.cost = stage_cost(stage, main_cpu, model, &p.executors, &out.bottleneck);
  out.baseline_cost = stage_cost(baseline, main_cpu, model);
  out.predicted_speedup = out.cost > 0 ? out.baseline_cost / out.cost : 1.0;
  return out;
}

json CostBreakdown::to_json(bool with_transfers) const {
  json stage_list = json::array();
  json stage_map = json::object();
  for (const StageTime& s : stages) {
    stage_map[s.executor] = s.stage_ns;
    stage_list.push_back({{"executor", s.executor},
                          {"stage_ns", s.stage_ns},
                          {"node_ns", s.node_ns},
                          {"transfer_ns", s.transfer_ns},
                          {"train_ns", s.train_ns},
                          {"handoff_ns", s.handoff_ns},
                          {"nodes", s.nodes}});
  }
  json transfer_list = json::array();
  for (const TransferTime& t : transfers) {
    if (!with_transfers) break;
    transfer_list.push_back({{"src", t.src},
                             {"dst", t.dst},
                             {"from", t.from},
                             {"to", t.to},
                             {"bytes", t.bytes},
                             {"count", t.count},
                             {"ns", t.ns}});
  }
  return {{"cost", cost},
          {"baseline_cost", baseline_cost},
          {"predicted_speedup", predicted_speedup},
          {"total_work", total_work},
          {"bottleneck", bottleneck},
          {"stage_ns", stage_map},
          {"stages", stage_list},
          {"transfer_count", transfers.size()},
          {"transfers", transfer_list}};
}

}  // namespace codedag::graph
