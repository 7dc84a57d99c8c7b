// Property test: on ≥ 500 seeded random small DAGs, the optimizer's plan equals an independent
// brute-force enumeration of SPEC §2's cost model (written here from the formulas, sharing no code
// with the optimizer), never breaks a constraint, never loses to all-cpu or the greedy baseline, and
// its lower bound never exceeds the optimum. The parametric method (the large-graph path) is run on
// the same DAGs: its bound must stay below the optimum and its plan above it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "codedag/graph/cost/cost_model.hpp"
#include "codedag/graph/optimizer.hpp"

namespace {

using namespace codedag::graph;

struct Case {
  Dag dag;
  DeviceModel model;
  int gpus = 0, k = 2;
};

Case random_case(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  Case c;
  c.gpus = pick(0, 2);
  c.k = pick(2, 3);
  const int executors = 2 + c.gpus;
  // Keep the enumeration small enough: executors^nodes stays under ~300k.
  const int max_nodes = executors == 2 ? 12 : executors == 3 ? 10 : 8;
  const int n = pick(2, max_nodes);
  const int pool = pick(std::max(1, n / 2), n);  // qualname pool: shared functions when pool < n
  c.model = DeviceModel::defaults(pick(1, 4));
  c.model.gpu_speedup = uni(1.0, 20.0);
  c.model.gpu_launch_ns = uni(0, 20000);
  c.model.batch_speedup = uni(0.5, 4.0);
  c.model.default_transfer = TransferCost{uni(0, 20000), uni(1e8, 2e10)};
  if (pick(0, 1)) c.model.transfer["batch:cpu->cuda:0"] = TransferCost{uni(0, 5000), std::nullopt};
  if (pick(0, 2) == 0) c.model.train_ns["batch:cpu"] = uni(0, 2e6);
  if (c.gpus > 0 && pick(0, 2) == 0) c.model.train_ns["cuda:0"] = uni(0, 2e6);
  const double eligible_rate = uni(0.3, 1.0);
  for (int i = 0; i < n; ++i) {
    Node node;
    node.id = 100 + i;
    const int fn = pick(0, pool - 1);
    node.qualname = "pkg.f" + std::to_string(fn);
    node.name = "f" + std::to_string(fn);
    node.calls = pick(1, 64);
    node.cpu_ns = std::round(uni(1e3, 5e6));
    node.gpu_eligible = uni(0, 1) < eligible_rate;
    if (pick(0, 3) == 0) node.gpu_ns = std::round(uni(1e2, 1e6));
    if (pick(0, 4) == 0) node.batch_ns = std::round(uni(1e3, 5e6));
    c.dag.add_node(std::move(node));
  }
  for (int j = 1; j < n; ++j)
    for (int i = 0; i < j; ++i)
      if (uni(0, 1) < 0.3) c.dag.add_edge(Edge{100 + i, 100 + j, EdgeKind::data, std::round(uni(0, 2e6)), pick(1, 64)});
  return c;
}

// ---- The independent reference: SPEC §2 formulas, enumerated. ----

double node_time(const Node& n, const std::string& ex, const DeviceModel& m) {
  if (ex == "cpu") return n.cpu_ns;
  if (ex == "batch:cpu") return n.batch_ns ? *n.batch_ns : n.cpu_ns / m.batch_speedup;
  return n.gpu_ns ? *n.gpu_ns : std::max(n.cpu_ns / m.gpu_speedup, n.calls * m.gpu_launch_ns);
}

double transfer(const std::string& a, const std::string& b, const Edge& e, const DeviceModel& m) {
  auto it = m.transfer.find(a + "->" + b);
  const TransferCost& t = it == m.transfer.end() ? m.default_transfer : it->second;
  return e.count * t.latency_ns + (t.bytes_per_s ? e.bytes / *t.bytes_per_s * 1e9 : 0.0);
}

// Workers running at once: W, at most the cores; 1 when the main process loads (W = 0).
double parallel(const DeviceModel& m) {
  if (m.workers == 0) return 1;
  return m.cores > 0 ? std::min<double>(m.workers, m.cores) : m.workers;
}

// The bottleneck; with W = 0 the stages add up; with cores, at least the CPU work over the cores.
double combine(const std::vector<double>& S, const DeviceModel& m) {
  double cost = *std::max_element(S.begin(), S.end());
  if (m.workers == 0) {
    double sum = 0;
    for (const double v : S) sum += v;
    cost = std::max(cost, sum);
  } else if (m.cores > 0) {
    cost = std::max(cost, (S[0] * parallel(m) + S[1]) / m.cores);
  }
  return cost;
}

struct Reference {
  double cost = INFINITY;
  double baseline = 0;
};

Reference brute_force(const Case& c) {
  std::vector<std::string> ex = {"cpu", "batch:cpu"};
  for (int g = 0; g < c.gpus; ++g) ex.push_back("cuda:" + std::to_string(g));
  const auto& nodes = c.dag.nodes();
  std::vector<std::string> fns;
  for (const Node& n : nodes)
    if (std::find(fns.begin(), fns.end(), n.qualname) == fns.end()) fns.push_back(n.qualname);
  const size_t F = fns.size(), E = ex.size();
  std::map<int64_t, size_t> fn_of;
  for (const Node& n : nodes) fn_of[n.id] = std::find(fns.begin(), fns.end(), n.qualname) - fns.begin();
  Reference ref;
  size_t total = 1;
  for (size_t f = 0; f < F; ++f) total *= E;
  std::vector<size_t> a(F);
  for (size_t code = 0; code < total; ++code) {
    size_t x = code;
    for (size_t f = 0; f < F; ++f) {
      a[f] = x % E;
      x /= E;
    }
    std::set<size_t> mains;
    bool ok = true;
    for (const Node& n : nodes) {
      const size_t e = a[fn_of[n.id]];
      if (e != 0 && !n.gpu_eligible) ok = false;
      if (e != 0) mains.insert(e);
    }
    if (!ok || static_cast<int>(mains.size()) > c.k - 1) continue;
    for (const Edge& e : c.dag.edges())
      if (a[fn_of[e.src]] != 0 && a[fn_of[e.dst]] == 0) ok = false;
    if (!ok) continue;
    std::vector<double> S(E, 0.0);
    for (size_t e = 1; e < E; ++e) S[e] = c.model.train_ns.count(ex[e]) ? c.model.train_ns.at(ex[e]) : 0.0;
    if (c.model.workers > 0) S[1] += c.model.worker_handoff_ns;  // ex[1] is batch:cpu
    for (const Node& n : nodes) {
      const size_t e = a[fn_of[n.id]];
      S[e] += e == 0 ? n.cpu_ns / parallel(c.model) : node_time(n, ex[e], c.model);
    }
    for (const Edge& e : c.dag.edges()) {
      const size_t u = a[fn_of[e.src]], v = a[fn_of[e.dst]];
      if (u == v) continue;
      const double t = transfer(ex[u], ex[v], e, c.model);
      if (u != 0) S[u] += t;
      if (v != 0) S[v] += t;
    }
    const double cost = combine(S, c.model);
    if (code == 0) ref.baseline = cost;
    ref.cost = std::min(ref.cost, cost);
  }
  return ref;
}

bool close(double a, double b) { return std::fabs(a - b) <= 1e-7 * std::max({1.0, std::fabs(a), std::fabs(b)}); }

TEST(OptimizerProperty, EqualsBruteForceOn600RandomDags) {
  int with_gpus = 0, k3 = 0, shared = 0, improved = 0, multi_main = 0;
  for (uint64_t seed = 0; seed < 600; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Case c = random_case(seed);
    const Reference ref = brute_force(c);
    OptimizerOptions o;
    o.k = c.k;
    o.gpu_count = c.gpus;
    o.device_model = c.model;
    o.seed = seed;
    const OptimizeResult r = optimize(c.dag, o);
    with_gpus += c.gpus > 0;
    k3 += c.k == 3;
    shared += r.groups < static_cast<int>(c.dag.nodes().size());
    improved += ref.cost < ref.baseline * (1 - 1e-6);
    multi_main += r.partition_executor.size() > 2;

    ASSERT_TRUE(close(r.breakdown.cost, ref.cost)) << "optimizer " << r.breakdown.cost << " vs optimum " << ref.cost;
    ASSERT_TRUE(close(r.breakdown.baseline_cost, ref.baseline));
    ASSERT_NO_THROW(check_feasible(r.coarse.dag, r.placement));
    ASSERT_LE(r.breakdown.cost, ref.baseline * (1 + 1e-9));
    ASSERT_LE(r.breakdown.cost, r.partition.greedy.cost * (1 + 1e-9));
    ASSERT_LE(r.partition.lower_bound, r.breakdown.cost * (1 + 1e-9));
    // The plan, re-scored from its own file form, says the same.
    const CostBreakdown again = evaluate_plan(r.coarse.dag, MigrationPlan::from_json(r.plan.to_json()));
    ASSERT_TRUE(close(again.cost, r.breakdown.cost));

    // The large-graph path: a valid bound and a feasible plan no better than the optimum.
    o.algorithm = "parametric";
    const OptimizeResult p = optimize(c.dag, o);
    ASSERT_LE(p.partition.lower_bound, ref.cost * (1 + 1e-7)) << "parametric bound above the optimum";
    ASSERT_GE(p.breakdown.cost, ref.cost * (1 - 1e-7));
    ASSERT_LE(p.breakdown.cost, p.partition.greedy.cost * (1 + 1e-9));
    ASSERT_NO_THROW(check_feasible(p.coarse.dag, p.placement));
  }
  // The generator really covers what the property is about.
  EXPECT_GT(with_gpus, 150);
  EXPECT_GT(k3, 150);
  EXPECT_GT(shared, 150);
  EXPECT_GT(improved, 250) << "most cases must have a plan better than all-cpu, or the test proves little";
  EXPECT_GT(multi_main, 15) << "some optima must use two main-process executors";
  std::printf("property: %d with GPUs, %d with k=3, %d with shared functions, %d improvable, %d on 2 main executors\n",
              with_gpus, k3, shared, improved, multi_main);
}

TEST(OptimizerProperty, EqualsBruteForceWithCoresAndWorkerCounts) {
  // The same property when the device model knows the cores, pays a hand-off per batch and may
  // have no workers at all (stages in series): the exact method still finds the optimum.
  int serial = 0, budget_bound = 0;
  for (uint64_t seed = 1000; seed < 1300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Case c = random_case(seed);
    std::mt19937_64 rng(seed);
    c.model.workers = std::uniform_int_distribution<int>(0, 4)(rng);
    c.model.cores = std::uniform_real_distribution<double>(1.0, 4.0)(rng);
    c.model.worker_handoff_ns = std::uniform_real_distribution<double>(0, 2e6)(rng);
    const Reference ref = brute_force(c);
    OptimizerOptions o;
    o.k = c.k;
    o.gpu_count = c.gpus;
    o.device_model = c.model;
    o.workers = c.model.workers;
    o.seed = seed;
    o.algorithm = "exact";
    const OptimizeResult r = optimize(c.dag, o);
    serial += c.model.workers == 0;
    budget_bound += r.breakdown.bottleneck == "cores";
    ASSERT_TRUE(close(r.breakdown.cost, ref.cost)) << "optimizer " << r.breakdown.cost << " vs optimum " << ref.cost;
    ASSERT_TRUE(close(r.breakdown.baseline_cost, ref.baseline));
    ASSERT_LE(r.partition.lower_bound, r.breakdown.cost * (1 + 1e-9));
    o.algorithm = "parametric";
    const OptimizeResult p = optimize(c.dag, o);
    ASSERT_LE(p.partition.lower_bound, ref.cost * (1 + 1e-7));
    ASSERT_GE(p.breakdown.cost, ref.cost * (1 - 1e-7));
  }
  EXPECT_GT(serial, 30);
  EXPECT_GT(budget_bound, 10) << "the CPU budget must decide some cases, or the test proves little about it";
}

}  // namespace
