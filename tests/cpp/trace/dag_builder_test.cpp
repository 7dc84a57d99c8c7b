#include "codedag/trace/dag_builder.hpp"

#include <gtest/gtest.h>

#include "codedag/trace/value_types.hpp"

using namespace codedag::trace;
using codedag::graph::EdgeKind;

namespace {
ResolvedContext node(const std::string& key, int64_t parent, uint32_t args, uint32_t rets) {
  ResolvedContext c;
  c.key = key;
  c.parent = parent;
  c.qualname = "pkg." + key;
  c.name = key;
  c.calls = 4;
  c.total_ns = 400;
  c.cpu_ns = 200;
  c.arg_types = args;
  c.ret_types = rets;
  c.depth = parent < 0 ? 1 : 2;
  return c;
}
}  // namespace

TEST(DagBuilder, NodesEdgesAndPerBatchNumbers) {
  ResolvedTree t;
  t.add(node("getitem", -1, kInt, kInt));
  t.add(node("load", 0, kInt, kTensor));
  t.add(node("aug", 0, kTensor, kTensor));
  t.flows.push_back({1, 2, 800, 4});
  DagBuildOptions o;
  o.batches = 2;
  o.meta = {{"python", "3.11.7"}};
  const auto dag = build_dag(t, o);
  ASSERT_EQ(dag.nodes().size(), 3u);
  EXPECT_EQ(dag.meta["batches"], 2);
  EXPECT_EQ(dag.meta["python"], "3.11.7");
  const auto& aug = dag.node(3);
  EXPECT_EQ(aug.parent, 1);
  EXPECT_EQ(aug.calls, 2);
  EXPECT_DOUBLE_EQ(aug.total_ns, 200);
  EXPECT_EQ(dag.call_edge_count(), 2u);
  ASSERT_EQ(dag.data_edge_count(), 1u);
  for (const auto& e : dag.edges())
    if (e.kind == EdgeKind::data) {
      EXPECT_EQ(e.src, 2);
      EXPECT_EQ(e.dst, 3);
      EXPECT_DOUBLE_EQ(e.bytes, 400);
      EXPECT_EQ(e.count, 2);
    }
  EXPECT_TRUE(aug.gpu_eligible);           // tensors in and out, no library calls
  EXPECT_FALSE(dag.node(1).gpu_eligible);  // ints only
}

TEST(DagBuilder, CyclesAreBrokenDeterministically) {
  ResolvedTree t;
  t.add(node("a", -1, kTensor, kTensor));
  t.add(node("b", -1, kTensor, kTensor));
  t.add(node("c", -1, kTensor, kTensor));
  t.flows = {{0, 1, 1, 1}, {1, 2, 1, 1}, {2, 0, 1, 1}, {1, 1, 1, 1}, {2, 1, 1, 1}};
  DagBuildReport report;
  const auto dag = build_dag(t, {}, &report);
  EXPECT_EQ(report.dropped_data_edges, 3);  // self loop, c->a, c->b
  EXPECT_EQ(dag.data_edge_count(), 2u);
  EXPECT_NO_THROW(dag.validate());
  const auto again = build_dag(t, {});
  EXPECT_EQ(again.to_json(), dag.to_json());
}

TEST(DagBuilder, EligibilityNeedsCoveredLibraryCalls) {
  ResolvedTree t;
  auto mel = node("mel", -1, kNdarray, kNdarray);
  mel.lib_calls = {"librosa.feature.melspectrogram", "numpy.abs"};
  mel.uncovered_calls = {"librosa.feature.melspectrogram"};
  t.add(mel);
  auto resize = node("resize", -1, kNdarray, kNdarray);
  resize.lib_calls = {"cv2.resize"};
  t.add(resize);
  auto other = node("parse", -1, kOther, kTensor);
  t.add(other);
  std::vector<bool> eligible;
  std::vector<std::vector<std::string>> blocked;
  compute_eligibility(t, true, eligible, blocked);
  EXPECT_FALSE(eligible[0]);
  EXPECT_EQ(blocked[0], (std::vector<std::string>{"librosa.feature.melspectrogram"}));
  EXPECT_TRUE(eligible[1]);
  EXPECT_FALSE(eligible[2]);
  compute_eligibility(t, false, eligible, blocked);  // no registry: arrays cannot move
  EXPECT_FALSE(eligible[1]);
}

TEST(DagBuilder, AParentIsBlockedByItsUncoveredChild) {
  ResolvedTree t;
  t.add(node("transform", -1, kTensor, kTensor));
  auto helper = node("helper", 0, kTensor, kTensor);
  helper.uncovered_calls = {"scipy.signal.lfilter"};
  helper.lib_calls = helper.uncovered_calls;
  t.add(helper);
  std::vector<bool> eligible;
  std::vector<std::vector<std::string>> blocked;
  compute_eligibility(t, true, eligible, blocked);
  EXPECT_FALSE(eligible[0]);
  EXPECT_EQ(blocked[0], (std::vector<std::string>{"scipy.signal.lfilter"}));
}
