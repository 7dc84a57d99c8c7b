#include "codedag/graph/partition/partition.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"
#include "codedag/graph/cost/cost_model.hpp"
#include "codedag/graph/model/random_dag.hpp"
#include "codedag/graph/optimizer.hpp"

namespace {

using namespace codedag::graph;

TEST(Partition, RegistryKnowsItsAlgorithms) {
  EXPECT_EQ(partitioner_names(), (std::vector<std::string>{"auto", "exact", "greedy", "parametric"}));
  try {
    partitioner("annealing");
    FAIL();
  } catch (const codedag::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("known: auto, exact, greedy, parametric"), std::string::npos);
  }
  EXPECT_THROW(PartitionOptions::preset("turbo"), codedag::InputError);
}

TEST(Partition, LargeGraphBoundGreedyAndDeterminism) {
  const Dag dag = random_layered_dag(RandomDagOptions{3000, 11});
  for (const int k : {2, 3}) {
    OptimizerOptions o;
    o.k = k;
    o.gpu_count = 2;
    o.seed = 5;
    const OptimizeResult a = optimize(dag, o);
    EXPECT_EQ(a.partition.method.rfind("parametric", 0), 0u);
    EXPECT_LE(a.partition.lower_bound, a.breakdown.cost * (1 + 1e-9));
    EXPECT_GT(a.partition.lower_bound, 0.5 * a.breakdown.cost) << "the bound says something";
    EXPECT_LE(a.breakdown.cost, a.partition.greedy.cost * (1 + 1e-9));
    EXPECT_LT(a.breakdown.cost, a.breakdown.baseline_cost);
    EXPECT_NO_THROW(check_feasible(a.coarse.dag, a.placement));
    EXPECT_LE(static_cast<int>(a.partition_executor.size()), k);
    const OptimizeResult b = optimize(dag, o);
    EXPECT_EQ(a.partitions, b.partitions) << "same seed, same plan";
  }
}

TEST(Partition, ExactProvesOptimalityOnSmallGraphs) {
  const Dag dag = random_layered_dag(RandomDagOptions{12, 3});
  OptimizerOptions o;
  o.gpu_count = 1;
  const OptimizeResult r = optimize(dag, o);
  EXPECT_TRUE(r.partition.proved_optimal);
  EXPECT_DOUBLE_EQ(r.partition.lower_bound, r.breakdown.cost);
}

TEST(Partition, BadOptionsAreRefused) {
  const Dag dag = random_layered_dag(RandomDagOptions{10, 1});
  OptimizerOptions o;
  o.k = 1;
  EXPECT_THROW(optimize(dag, o), codedag::InputError);
  o.k = 2;
  o.gpu_count = -1;
  EXPECT_THROW(optimize(dag, o), codedag::InputError);
  o.gpu_count = 0;
  o.workers = -1;
  EXPECT_THROW(optimize(dag, o), codedag::InputError);
  o.workers.reset();
  o.max_workers = -1;
  EXPECT_THROW(optimize(dag, o), codedag::InputError);
  o.max_workers = 0;
  o.cores = -1.0;
  EXPECT_THROW(optimize(dag, o), codedag::InputError);
  o.cores.reset();
  o.max_iterations = -1;
  EXPECT_THROW(optimize(dag, o), codedag::InputError);
}

TEST(Partition, MigrationPlanMapsPartitionsOntoExistingExecutors) {
  const Dag dag = random_layered_dag(RandomDagOptions{40, 2});
  OptimizerOptions o;
  o.gpu_count = 1;
  const OptimizeResult r = optimize(dag, o);
  const MigrationPlan none = migration_plan(r.coarse.dag, r.partitions, 0, r.model);
  for (const auto& [q, ex] : none.context_device_map) EXPECT_EQ(ex, "batch:cpu");
  ASSERT_TRUE(none.cost && none.baseline_cost) << "a plan the optimizer makes carries its verdict";
  EXPECT_LE(*none.cost, *none.baseline_cost);
  const MigrationPlan one = migration_plan(r.coarse.dag, r.partitions, 1, r.model);
  ASSERT_TRUE(one.cost);
  EXPECT_NEAR(*one.cost, r.breakdown.cost, 1e-6 * r.breakdown.cost);
}

}  // namespace
