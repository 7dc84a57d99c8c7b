#include "codedag/graph/cost/cost_model.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"

namespace {

using namespace codedag::graph;

// A (8 ms, cpu only) -> B (4 ms, 2 calls) -> C (6 ms, measured 1 ms on a GPU).
Dag abc() {
  Dag d;
  Node a;
  a.id = 1;
  a.name = a.qualname = "pkg.A";
  a.cpu_ns = 8e6;
  a.calls = 2;
  d.add_node(a);
  Node b;
  b.id = 2;
  b.name = b.qualname = "pkg.B";
  b.cpu_ns = 4e6;
  b.calls = 2;
  b.gpu_eligible = true;
  d.add_node(b);
  Node c;
  c.id = 3;
  c.name = c.qualname = "pkg.C";
  c.cpu_ns = 6e6;
  c.calls = 2;
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
