// The worker count and threads as part of the optimizer's decision (graph/parallelism.hpp,
// worker_choice.cpp) and their place in the plan file.
#include "codedag/graph/parallelism.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "codedag/common/error.hpp"
#include "codedag/graph/optimizer.hpp"
#include "codedag/graph/plan/plan.hpp"

namespace {

using codedag::json;
using namespace codedag::graph;

// load (cpu only) -> augment (movable, 4x faster batched), `per_batch_ns` of CPU work in all,
// traced with `workers` workers on batches of 32.
Dag pipeline(double per_batch_ns, int64_t workers) {
  Dag d;
  d.meta = {{"workers", workers}, {"samples", 64}, {"batches", 2}};
  Node a;
  a.id = 1;
  a.name = a.qualname = "pkg.load";
  a.cpu_ns = per_batch_ns / 2;
  a.calls = 32;
  d.add_node(a);
  Node b;
  b.id = 2;
  b.name = b.qualname = "pkg.augment";
  b.cpu_ns = per_batch_ns / 2;
  b.calls = 32;
  b.gpu_eligible = true;
  b.batch_ns = per_batch_ns / 8;
  d.add_node(b);
  d.add_edge({1, 2, EdgeKind::data, 1e5, 32});
  return d;
}

OptimizerOptions choosing(double cores, double handoff_ns) {
  OptimizerOptions o;
  o.choose_workers = true;
  DeviceModel m = DeviceModel::defaults(1);
  m.cores = cores;
  m.worker_handoff_ns = handoff_ns;
  o.device_model = m;
  return o;
}

TEST(Parallelism, HeavySamplesUseTheCoresAndMoveTheBatchableStage) {
  const OptimizeResult r = optimize(pipeline(40e6, 2), choosing(2, 0.5e6));
  ASSERT_TRUE(r.parallelism.has_value());
  const Parallelism& p = *r.parallelism;
  EXPECT_DOUBLE_EQ(p.cores, 2);
  EXPECT_EQ(p.untouched_workers, 2);
  EXPECT_GE(p.workers, 1);
  EXPECT_EQ(r.plan.context_device_map.count("pkg.augment"), 1u);
  EXPECT_LE(r.breakdown.cost, p.plain_cost);  // never worse than the best plain DataLoader it scored
  EXPECT_LE(p.plain_cost, p.untouched_cost);
  EXPECT_EQ(p.settings.size(), 5u);  // 0 .. 2 x cores
  for (const WorkerSetting& s : p.settings) EXPECT_GE(s.plan_cost, r.breakdown.cost * (1 - 1e-9));
  EXPECT_EQ(p.threads_per_worker, 1);  // two cores, the main process busy: one thread each
  EXPECT_EQ(p.batch_size, 32);
  ASSERT_TRUE(r.plan.parallelism.has_value());
  EXPECT_EQ(r.plan.parallelism->workers, p.workers);
}

TEST(Parallelism, CheapSamplesLoadInTheMainProcess) {
  // 0.2 ms of work per batch against a 2 ms hand-off from a worker: num_workers=0 is fastest.
  const OptimizeResult r = optimize(pipeline(0.2e6, 2), choosing(2, 2e6));
  const Parallelism& p = *r.parallelism;
  EXPECT_EQ(p.plain_workers, 0);
  EXPECT_EQ(p.workers, 0);
  EXPECT_LT(p.plain_cost, p.untouched_cost / 5);
  // The fixed cost of a batch is paid only with workers; none here, so no bigger batch is asked for.
  EXPECT_EQ(p.suggested_batch_size, 32);
}

TEST(Parallelism, MoreWorkersThanCoresGainNothing) {
  const OptimizeResult r = optimize(pipeline(40e6, 8), choosing(2, 0));
  const Parallelism& p = *r.parallelism;
  EXPECT_EQ(p.untouched_workers, 8);
  EXPECT_LE(p.plain_workers, 2);  // a tie with more workers goes to fewer
  EXPECT_NEAR(p.untouched_cost, p.plain_cost, 1e-6 * p.plain_cost);
  bool scored_untouched = false;
  for (const WorkerSetting& s : p.settings) scored_untouched |= s.workers == 8;
  EXPECT_TRUE(scored_untouched);
}

TEST(Parallelism, ChoosingWorkersNeedsTheCores) {
  OptimizerOptions o;
  o.choose_workers = true;
  try {
    optimize(pipeline(1e6, 2), o);
    FAIL() << "choosing workers without cores was accepted";
  } catch (const codedag::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cores"), std::string::npos);
  }
  o.cores = 4;
  EXPECT_NO_THROW(optimize(pipeline(1e6, 2), o));
}

TEST(Parallelism, ThreadsPerWorkerFitTheCores) {
  EXPECT_EQ(threads_per_worker(8, 3, 1.0), 2);  // (8 - 1) / 3
  EXPECT_EQ(threads_per_worker(2, 2, 0.5), 1);
  EXPECT_EQ(threads_per_worker(2, 8, 0.0), 1);  // never below one
  EXPECT_EQ(threads_per_worker(6, 0, 0.9), 6);  // no workers: the main process's threads
  EXPECT_EQ(threads_per_worker(0, 4, 0.0), 1);  // cores unknown
}

TEST(Parallelism, BatchSizeSuggestion) {
  std::string why;
  EXPECT_EQ(suggest_batch_size(32, 10e6, 0.1e6, why), 32);
  EXPECT_NE(why.find("fine"), std::string::npos);
  // 2 ms fixed of a 10 ms batch of 32: needs >= 2 * 0.95 / (0.05 * 0.25 ms) = 152 samples.
  EXPECT_EQ(suggest_batch_size(32, 10e6, 2e6, why), 256);
  EXPECT_NE(why.find("256 samples"), std::string::npos);
  EXPECT_EQ(suggest_batch_size(32, 1e6, 0.9e6, why), 256);  // capped at 8x
  EXPECT_EQ(suggest_batch_size(0, 1e6, 0.9e6, why), 0);
  EXPECT_NE(why.find("does not say"), std::string::npos);
}

TEST(Parallelism, PlanFileRoundTripAndRejections) {
  const OptimizeResult r = optimize(pipeline(40e6, 2), choosing(2, 0.5e6));
  const json doc = r.plan.to_json();
  ASSERT_TRUE(doc.contains("parallelism"));
  const MigrationPlan back = MigrationPlan::from_json(doc, "plan.json");
  ASSERT_TRUE(back.parallelism.has_value());
  EXPECT_EQ(back.parallelism->to_json(), r.plan.parallelism->to_json());
  EXPECT_FALSE(back.extra.contains("parallelism"));

  auto rejected = [&](const std::function<void(json&)>& edit) {
    json d = doc;
    edit(d);
    try {
      MigrationPlan::from_json(d, "plan.json");
    } catch (const codedag::FormatError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(rejected([](json& d) { d["parallelism"]["workers"] = -1; }).find("parallelism.workers"), std::string::npos);
  EXPECT_NE(rejected([](json& d) { d["parallelism"].erase("workers"); }).find("is missing"), std::string::npos);
  EXPECT_NE(rejected([](json& d) { d["parallelism"]["threads_per_worker"] = 0; }).find("threads_per_worker"),
            std::string::npos);
  EXPECT_NE(rejected([](json& d) { d["parallelism"]["speed"] = 1; }).find("parallelism.speed"), std::string::npos);
  EXPECT_NE(rejected([](json& d) { d["parallelism"] = 3; }).find("must be an object"), std::string::npos);
  EXPECT_NE(rejected([](json& d) { d["parallelism"]["settings"] = {1}; }).find("settings[0]"), std::string::npos);
  // A hand-written plan may give only the worker count.
  json hand = {{"schema", "codedag.plan/1"}, {"context_device_map", json::object()}, {"parallelism", {{"workers", 3}}}};
  const MigrationPlan h = MigrationPlan::from_json(hand, "hand.json");
  EXPECT_EQ(h.parallelism->workers, 3);
  EXPECT_EQ(h.parallelism->threads_per_worker, 1);
}

}  // namespace
