#include "codedag/graph/cost/cost_model.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"

namespace {

using namespace codedag::graph;

// A context of `calls` calls taking `cpu_ns` per batch in a worker.
Node context(int64_t id, const char* name, double cpu_ns, int64_t calls) {
  Node n;
  n.id = id;
  n.name = n.qualname = name;
  n.cpu_ns = cpu_ns;
  n.calls = calls;
  return n;
}

// A (8 ms, cpu only) -> B (4 ms, 2 calls) -> C (6 ms, measured 1 ms on a GPU).
Dag abc() {
  Dag d;
  d.add_node(context(1, "pkg.A", 8e6, 2));
  Node b = context(2, "pkg.B", 4e6, 2);
  b.gpu_eligible = true;
  d.add_node(b);
  Node c = context(3, "pkg.C", 6e6, 2);
  c.gpu_eligible = true;
  c.gpu_ns = 1e6;
  d.add_node(c);
  d.add_edge({1, 2, EdgeKind::data, 12e6, 2});
  d.add_edge({2, 3, EdgeKind::data, 1e6, 2});
  return d;
}

TEST(CostModel, HandComputedExample) {
  const Dag d = abc();
  const DeviceModel m = DeviceModel::defaults(2);
  const Placement p{{"cpu", "batch:cpu", "cuda:0"}, {0, 2, 2}};
  const CostBreakdown b = evaluate_placement(d, m, p);
  // S_cpu = 8 ms / 2 workers. On cuda:0: B = max(4 ms / 10, 2 * 10 µs) = 0.4 ms, C = 1 ms measured,
  // A -> B = 2 * 10 µs + 12 MB / 12 GB/s = 1.02 ms charged to cuda:0.
  EXPECT_DOUBLE_EQ(b.stages[0].stage_ns, 4e6);
  EXPECT_DOUBLE_EQ(b.stages[2].node_ns, 1.4e6);
  EXPECT_DOUBLE_EQ(b.stages[2].transfer_ns, 1.02e6);
  EXPECT_DOUBLE_EQ(b.stages[2].stage_ns, 2.42e6);
  EXPECT_DOUBLE_EQ(b.stages[1].stage_ns, 0);
  EXPECT_DOUBLE_EQ(b.cost, 4e6);
  EXPECT_EQ(b.bottleneck, "cpu");
  EXPECT_DOUBLE_EQ(b.baseline_cost, 9e6);
  EXPECT_DOUBLE_EQ(b.predicted_speedup, 2.25);
  EXPECT_DOUBLE_EQ(b.total_work, 6.42e6);
  ASSERT_EQ(b.transfers.size(), 1u);
  EXPECT_EQ(b.transfers[0].from, "cpu");
  EXPECT_EQ(b.transfers[0].to, "cuda:0");
}

TEST(CostModel, TrainingStepCountsEvenOnAnEmptyExecutor) {
  const Dag d = abc();
  DeviceModel m = DeviceModel::defaults(2);
  m.train_ns["cuda:0"] = 20e6;
  const CostBreakdown b = evaluate_placement(d, m, Placement{{"cpu", "batch:cpu", "cuda:0"}, {0, 1, 1}});
  EXPECT_DOUBLE_EQ(b.cost, 20e6);
  EXPECT_EQ(b.bottleneck, "cuda:0");
  EXPECT_DOUBLE_EQ(b.baseline_cost, 20e6);  // training runs whatever the plan
  // cpu -> batch:cpu is free by default; batch:cpu time is cpu_ns / batch_speedup.
  EXPECT_DOUBLE_EQ(b.stages[1].stage_ns, 10e6);
}

TEST(CostModel, EachConstraintIsNamed) {
  const Dag d = abc();
  const DeviceModel m = DeviceModel::defaults(2);
  auto message = [&](std::vector<int> of) {
    try {
      evaluate_placement(d, m, Placement{{"cpu", "batch:cpu", "cuda:0"}, std::move(of)});
    } catch (const codedag::InfeasiblePlanError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({2, 2, 2}).find("non-eligible nodes stay on cpu"), std::string::npos);
  EXPECT_NE(message({0, 2, 0}).find("back to cpu"), std::string::npos);
  EXPECT_NE(message({0, 2, 1}), "x");  // main -> main is allowed
  EXPECT_EQ(message({0, 2, 1}), "");

  Dag shared = abc();
  shared.node(3).qualname = "pkg.B";  // B and C are one function object
  try {
    evaluate_placement(shared, m, Placement{{"cpu", "batch:cpu", "cuda:0"}, {0, 1, 2}});
    FAIL() << "one function on two executors was accepted";
  } catch (const codedag::InfeasiblePlanError& e) {
    EXPECT_NE(std::string(e.what()).find("one function, one executor"), std::string::npos);
  }
  EXPECT_THROW(evaluate_placement(d, m, Placement{{"cpu"}, {0, 0}}), codedag::InputError);
  EXPECT_THROW(evaluate_placement(d, m, Placement{{"cpu"}, {0, 0, 3}}), codedag::InputError);
}

}  // namespace

namespace {

using namespace codedag::graph;

// Two cpu-only contexts of 10 ms + 6 ms per batch, the second eligible (measured 1 ms batched).
Dag two_stage() {
  Dag d;
  d.add_node(context(1, "pkg.load", 10e6, 8));
  Node b = context(2, "pkg.augment", 6e6, 8);
  b.gpu_eligible = true;
  b.batch_ns = 1e6;
  d.add_node(b);
  d.add_edge({1, 2, EdgeKind::data, 1e6, 8});
  return d;
}

const Placement kAllCpu{{"cpu", "batch:cpu"}, {0, 0}};
const Placement kMoved{{"cpu", "batch:cpu"}, {0, 1}};

}  // namespace

TEST(CostModelCores, WithoutCoresTheSpecFormulaIsUnchanged) {
  DeviceModel m = DeviceModel::defaults(4);
  const CostBreakdown b = evaluate_placement(two_stage(), m, kAllCpu);
  EXPECT_DOUBLE_EQ(b.cost, 16e6 / 4);
  EXPECT_EQ(b.bottleneck, "cpu");
}

TEST(CostModelCores, WorkersBeyondTheCoresDoNotRunAtOnce) {
  DeviceModel m = DeviceModel::defaults(4);
  m.cores = 2;
  const CostBreakdown b = evaluate_placement(two_stage(), m, kAllCpu);
  // S_cpu = 16 ms / min(4 workers, 2 cores); CPU work 16 ms over 2 cores: the same 8 ms.
  EXPECT_DOUBLE_EQ(b.stages[0].stage_ns, 8e6);
  EXPECT_DOUBLE_EQ(b.cost, 8e6);
  EXPECT_DOUBLE_EQ(m.parallel_workers(), 2.0);
}

TEST(CostModelCores, TheMainProcessSharesTheCores) {
  DeviceModel m = DeviceModel::defaults(2);
  m.cores = 2;
  m.train_ns["batch:cpu"] = 7e6;
  // Plain: S_cpu = 8 ms, S_main = 7 ms; but 16 + 7 ms of CPU work on 2 cores is 11.5 ms per batch.
  const CostBreakdown plain = evaluate_placement(two_stage(), m, kAllCpu);
  EXPECT_DOUBLE_EQ(plain.cost, 11.5e6);
  EXPECT_EQ(plain.bottleneck, "cores");
  // Moved: S_cpu = 5 ms, S_main = 7 + 1 ms = 8 ms, budget (10 + 8) / 2 = 9 ms.
  const CostBreakdown moved = evaluate_placement(two_stage(), m, kMoved);
  EXPECT_DOUBLE_EQ(moved.cost, 9e6);
  EXPECT_EQ(moved.bottleneck, "cores");
  EXPECT_DOUBLE_EQ(moved.baseline_cost, 11.5e6);
  EXPECT_NEAR(moved.predicted_speedup, 11.5 / 9, 1e-12);
}

TEST(CostModelCores, NoWorkersMeansTheStagesAddUp) {
  DeviceModel m = DeviceModel::defaults(1);
  m.workers = 0;
  m.cores = 2;
  m.worker_handoff_ns = 3e6;  // not paid without workers
  const CostBreakdown plain = evaluate_placement(two_stage(), m, kAllCpu);
  EXPECT_DOUBLE_EQ(plain.cost, 16e6);
  EXPECT_EQ(plain.stages[1].handoff_ns, 0);
  const CostBreakdown moved = evaluate_placement(two_stage(), m, kMoved);
  EXPECT_DOUBLE_EQ(moved.cost, 10e6 + 1e6);
  EXPECT_EQ(moved.bottleneck, "serial");
}

TEST(CostModelCores, TheWorkerHandOffIsChargedToTheMainProcess) {
  DeviceModel m = DeviceModel::defaults(2);
  m.worker_handoff_ns = 9e6;
  const CostBreakdown b = evaluate_placement(two_stage(), m, kAllCpu);
  EXPECT_DOUBLE_EQ(b.stages[1].handoff_ns, 9e6);
  EXPECT_DOUBLE_EQ(b.stages[1].stage_ns, 9e6);
  EXPECT_DOUBLE_EQ(b.cost, 9e6);  // receiving batches is slower than 2 workers making them
  EXPECT_EQ(b.bottleneck, "batch:cpu");
  EXPECT_EQ(b.to_json()["stages"][1]["handoff_ns"], 9e6);
}

TEST(CostModelCores, StageCostNamesWhatSetsIt) {
  DeviceModel m = DeviceModel::defaults(2);
  std::string limit;
  const std::vector<std::string> ex{"cpu", "batch:cpu"};
  EXPECT_DOUBLE_EQ(stage_cost({4, 5}, 1, m, &ex, &limit), 5);
  EXPECT_EQ(limit, "batch:cpu");
  // One core: the 2 workers run one at a time, so the cpu stage (4 = its work / 1) and batch:cpu's 5
  // share that core: 9 per batch.
  m.cores = 1;
  EXPECT_DOUBLE_EQ(stage_cost({4, 5}, 1, m, &ex, &limit), 9);
  EXPECT_EQ(limit, "cores");
  // Two cores for two workers: the workers' work is 2 x 4, plus 5, over 2 cores = 6.5 > 5.
  m.cores = 2;
  EXPECT_DOUBLE_EQ(stage_cost({4, 5}, 1, m, &ex, &limit), 6.5);
  EXPECT_EQ(limit, "cores");
  m.cores = 0;
  m.workers = 0;
  EXPECT_DOUBLE_EQ(stage_cost({4, 5}, 1, m, &ex, &limit), 9);
  EXPECT_EQ(limit, "serial");
}
