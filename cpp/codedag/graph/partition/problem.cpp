#include "codedag/graph/partition/problem.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "codedag/common/error.hpp"
#include "codedag/graph/cost/cost_model.hpp"
#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {
namespace {

int find(std::vector<int>& parent, int x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

void csr(int n, const std::vector<GroupArc>& arcs, bool out, std::vector<int>& begin, std::vector<int>& list) {
  begin.assign(n + 1, 0);
  for (const GroupArc& a : arcs) ++begin[(out ? a.u : a.v) + 1];
  for (int g = 0; g < n; ++g) begin[g + 1] += begin[g];
  list.assign(arcs.size(), 0);
  std::vector<int> fill(begin.begin(), begin.end() - 1);
  for (size_t i = 0; i < arcs.size(); ++i) list[fill[out ? arcs[i].u : arcs[i].v]++] = static_cast<int>(i);
}

}  // namespace

Problem build_problem(const Dag& dag, const DeviceModel& model, const std::vector<std::string>& executors, int k) {
  if (executors.empty() || executors.front() != "cpu") throw InputError("executors must start with \"cpu\"");
  if (k < 2) throw InputError("k must be at least 2 (cpu and one main-process executor), got " + std::to_string(k));
  Problem p;
  p.executors = executors;
  const int E = p.E();
  p.max_main = std::min(k - 1, E - 1);
  p.train.assign(E, 0.0);
  p.model = model;
  for (int e = 1; e < E; ++e) {
    p.train[e] = model.train_for(executors[e]);
    if (executors[e] == "batch:cpu") {
      p.main_cpu = e;
      if (model.workers > 0) p.train[e] += model.worker_handoff_ns;
    }
  }
  p.latency.assign(static_cast<size_t>(E) * E, 0.0);
  p.ns_per_byte.assign(static_cast<size_t>(E) * E, 0.0);
  for (int a = 0; a < E; ++a)
    for (int b = 0; b < E; ++b) {
      if (a == b) continue;
      const TransferCost& t = model.transfer_for(executors[a], executors[b]);
      p.latency[a * E + b] = t.latency_ns;
      p.ns_per_byte[a * E + b] = t.bytes_per_s ? 1e9 / *t.bytes_per_s : 0.0;
    }

  // Group contexts that share a function: union-find over every qualname a node stands for.
  const size_t n = dag.nodes().size();
  std::vector<int> parent(n);
  for (size_t i = 0; i < n; ++i) parent[i] = static_cast<int>(i);
  std::unordered_map<std::string, int> owner;
  owner.reserve(n * 2);
  for (size_t i = 0; i < n; ++i)
    for (const std::string& q : patch_qualnames(dag.nodes()[i])) {
      const auto [it, fresh] = owner.emplace(q, static_cast<int>(i));
      if (!fresh) parent[find(parent, static_cast<int>(i))] = find(parent, it->second);
    }
  p.group_of_node.assign(n, -1);
  std::vector<int> group_of_root(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const int r = find(parent, static_cast<int>(i));
    if (group_of_root[r] < 0) group_of_root[r] = p.groups++;
    p.group_of_node[i] = group_of_root[r];
  }
  const int G = p.groups;
  p.cpu_stage.assign(G, 0.0);
  p.time.assign(static_cast<size_t>(G) * E, 0.0);
  p.eligible.assign(G, 1);
  const double W = model.parallel_workers();
  for (size_t i = 0; i < n; ++i) {
    const Node& node = dag.nodes()[i];
    const int g = p.group_of_node[i];
    p.cpu_stage[g] += node.cpu_ns / W;
    if (!node.gpu_eligible || !is_patchable(node)) p.eligible[g] = 0;
    for (int e = 1; e < E; ++e) p.time[static_cast<size_t>(g) * E + e] += model.node_time_ns(node, executors[e]);
  }
  for (int g = 0; g < G; ++g) {
    p.time[static_cast<size_t>(g) * E] = p.cpu_stage[g];
    if (!p.eligible[g])
      for (int e = 1; e < E; ++e) p.time[static_cast<size_t>(g) * E + e] = kInfinity;
  }
  std::unordered_map<uint64_t, size_t> arc_of;
  for (const Edge& e : dag.edges()) {
    if (e.kind != EdgeKind::data) continue;
    const int u = p.group_of_node[dag.index_of(e.src)], v = p.group_of_node[dag.index_of(e.dst)];
    if (u == v) continue;
    // Data into a context that cannot be patched (it stays on cpu) neither constrains nor costs:
    // the same rule as evaluate_placement (see is_patchable).
    if (!is_patchable(dag.nodes()[dag.index_of(e.dst)])) continue;
    const uint64_t key = (static_cast<uint64_t>(u) << 32) | static_cast<uint32_t>(v);
    const auto [it, fresh] = arc_of.emplace(key, p.arcs.size());
    if (fresh) p.arcs.push_back({u, v, 0, 0});
    p.arcs[it->second].bytes += e.bytes;
    p.arcs[it->second].count += static_cast<double>(e.count);
  }
  csr(G, p.arcs, true, p.out_begin, p.out_arcs);
  csr(G, p.arcs, false, p.in_begin, p.in_arcs);
  return p;
}

std::string infeasibility(const Problem& p, const std::vector<int>& exec) {
  if (static_cast<int>(exec.size()) != p.groups) return "assignment size differs from the number of groups";
  std::vector<char> used(p.E(), 0);
  for (int g = 0; g < p.groups; ++g) {
    if (exec[g] < 0 || exec[g] >= p.E()) return "executor index out of range";
    if (exec[g] != 0 && !p.eligible[g]) return "non-eligible nodes stay on cpu";
    used[exec[g]] = 1;
  }
  int mains = 0;
  for (int e = 1; e < p.E(); ++e) mains += used[e];
  if (mains > p.max_main) return "at most k partitions";
  for (const GroupArc& a : p.arcs)
    if (exec[a.u] != 0 && exec[a.v] == 0) return "no data edge from a main-process executor back to cpu";
  return "";
}

void score(const Problem& p, Solution& s) {
  if (!infeasibility(p, s.exec).empty()) {
    s.cost = s.work = kInfinity;
    return;
  }
  const int E = p.E();
  s.stage.assign(E, 0.0);
  for (int e = 1; e < E; ++e) s.stage[e] = p.train[e];
  for (int g = 0; g < p.groups; ++g) s.stage[s.exec[g]] += p.t(g, s.exec[g]);
  for (const GroupArc& a : p.arcs) {
    const int x = s.exec[a.u], y = s.exec[a.v];
    if (x == y) continue;
    const double c = p.arc_cost(a, x, y);
    if (x != 0) s.stage[x] += c;
    if (y != 0) s.stage[y] += c;
  }
  s.cost = stage_cost(s.stage, p.main_cpu, p.model);
  s.work = 0;
  for (const double v : s.stage) s.work += v;
}

bool same_cost(double a, double b) {
  if (a == b) return true;
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

bool better(const Solution& a, const Solution& b) {
  if (!same_cost(a.cost, b.cost)) return a.cost < b.cost;
  return !same_cost(a.work, b.work) && a.work < b.work;
}

Solution all_cpu(const Problem& p) {
  Solution s;
  s.exec.assign(p.groups, 0);
  score(p, s);
  return s;
}

}  // namespace codedag::graph
