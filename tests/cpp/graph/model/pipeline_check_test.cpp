#include "codedag/graph/model/pipeline_check.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"

using namespace codedag::graph;
using codedag::json;

namespace {
Node node(int64_t id, const std::string& qualname, double cpu_ns, const std::string& kind = "python") {
  Node n;
  n.id = id;
  n.name = n.qualname = qualname;
  n.module = qualname.substr(0, qualname.rfind('.'));
  n.kind = kind;
  n.calls = 4;
  n.cpu_ns = n.total_ns = cpu_ns;
  return n;
}
}  // namespace

TEST(PipelineCheck, AUserPipelineIsUsable) {
  Dag dag;
  dag.add_node(node(1, "pipe.Data.__getitem__", 100));
  dag.add_node(node(2, "torch.utils.data._utils.collate.default_collate", 10));
  const PipelineVerdict v = check_pipeline(dag);
  EXPECT_TRUE(v.usable) << v.message();
  EXPECT_NO_THROW(require_pipeline(dag, "dag.json"));
}

TEST(PipelineCheck, EmptyDagNamesTheLikelyCause) {
  Dag dag;
  EXPECT_FALSE(check_pipeline(dag).usable);
  EXPECT_EQ(check_pipeline(dag).problem, "0 contexts");
  EXPECT_NE(check_pipeline(dag).cause.find("ran outside the context"), std::string::npos);
  dag.meta = {{"producer", "codedag.EnhancedTracer"}, {"unarmed_batches", 1}};
  EXPECT_NE(check_pipeline(dag).cause.find("before any EnhancedTracer existed"), std::string::npos);
  dag.meta = {{"producer", "codedag.EnhancedTracer"}, {"untraced_worker_batches", 2}};
  EXPECT_NE(check_pipeline(dag).cause.find("worker_batches"), std::string::npos);
  dag.meta = {{"diagnostics", json::array({"worker 0 died"})}};
  EXPECT_NE(check_pipeline(dag).cause.find("worker 0 died"), std::string::npos);
  try {
    require_pipeline(dag, "run/dag.json");
    FAIL() << "an empty DAG was accepted";
  } catch (const codedag::InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("run/dag.json: 0 contexts: ", 0), 0u) << e.what();
  }
}

TEST(PipelineCheck, OnlyLibraryWorkIsTrivial) {
  Dag dag;
  Node lib = node(1, "librosa.feature.melspectrogram", 500);
  lib.library = true;
  dag.add_node(lib);
  dag.add_node(node(2, "numpy.fft.rfft", 100, "builtin"));
  dag.add_node(node(3, "torch.utils.data._utils.collate.default_collate", 10));
  const PipelineVerdict v = check_pipeline(dag);
  EXPECT_FALSE(v.usable);
  EXPECT_EQ(v.problem.rfind("all work in library code", 0), 0u) << v.problem;
  Node user = node(4, "pipe.load", 5);
  user.library = false;
  dag.add_node(user);
  EXPECT_TRUE(check_pipeline(dag).usable);
}

TEST(PipelineCheck, NoCallsOrNoTimeIsTrivial) {
  Dag dag;
  Node n = node(1, "pipe.f", 0);
  dag.add_node(n);
  EXPECT_NE(check_pipeline(dag).problem.find("no time"), std::string::npos);
  dag.nodes()[0].calls = 0;
  EXPECT_NE(check_pipeline(dag).problem.find("none of which completed a call"), std::string::npos);
}
