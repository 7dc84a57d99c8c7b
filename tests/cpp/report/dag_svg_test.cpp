// The DAG picture: placement colours from a plan (inherited by callees), edge widths by bytes,
// transfers marked, user text escaped, and an empty DAG that says so.
#include <gtest/gtest.h>

#include <regex>

#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/plan/plan.hpp"
#include "codedag/report/dag_svg.hpp"

using namespace codedag;

namespace {

graph::Dag pipeline() {
  graph::Dag d;
  auto node = [&](int64_t id, const std::string& name, std::optional<int64_t> parent, double cpu) {
    graph::Node n;
    n.id = id;
    n.name = name;
    n.qualname = "pkg." + name;
    n.parent = parent;
    n.depth = parent ? 1 : 0;
    n.calls = 32;
    n.cpu_ns = cpu;
    n.total_ns = cpu;
    d.add_node(n);
  };
  node(1, "Dataset.__getitem__", std::nullopt, 1e6);
  node(2, "load", 1, 2e6);
  node(3, "MelSpec.__call__", 1, 8e6);
  node(4, "stft", 3, 5e6);
  node(5, "<crop & \"pad\">", 1, 1e5);
  d.add_edge({1, 2, graph::EdgeKind::call, 0, 32});
  d.add_edge({1, 3, graph::EdgeKind::call, 0, 32});
  d.add_edge({3, 4, graph::EdgeKind::call, 0, 32});
  d.add_edge({1, 5, graph::EdgeKind::call, 0, 32});
  d.add_edge({2, 5, graph::EdgeKind::data, 4096, 32});
  d.add_edge({5, 3, graph::EdgeKind::data, 5 << 20, 32});
  return d;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(DagSvg, WithoutAPlanEverythingIsOnCpu) {
  const graph::Dag d = pipeline();
  const std::string svg = report::render_dag_svg(d, nullptr, {"my dag", true, ""});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"node\""), 5u);
  EXPECT_EQ(count(svg, "data-executor=\"cpu\""), 5u);
  EXPECT_EQ(count(svg, "class=\"call\""), 4u);
  EXPECT_EQ(count(svg, "class=\"data\""), 2u);  // no transfer without a plan
  EXPECT_NE(svg.find("cpu (5)"), std::string::npos);
  EXPECT_NE(svg.find("my dag"), std::string::npos);
}

TEST(DagSvg, PlanColoursMovedContextsAndTheirCallees) {
  const graph::Dag d = pipeline();
  graph::MigrationPlan plan;
  plan.context_device_map["pkg.MelSpec.__call__"] = "cuda:0";
  const report::NodePlacementInfo where = report::node_executors(d, &plan);
  EXPECT_EQ(where.executor[2], "cuda:0");
  EXPECT_FALSE(where.inherited[2]);
  EXPECT_EQ(where.executor[3], "cuda:0");  // stft runs where its caller runs
  EXPECT_TRUE(where.inherited[3]);
  EXPECT_EQ(where.executor[0], "cpu");
  const std::string svg = report::render_dag_svg(d, &plan);
  EXPECT_EQ(count(svg, "data-executor=\"cuda:0\""), 2u);
  EXPECT_NE(svg.find("cuda:0 (2)"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"data transfer\""), 1u);  // crop (cpu) -> MelSpec (cuda:0)
  EXPECT_NE(svg.find(report::executor_colour("cuda:0")), std::string::npos);
}

TEST(DagSvg, EdgeWidthFollowsBytes) {
  const std::string svg = report::render_dag_svg(pipeline(), nullptr, {"", false, ""});
  std::regex width("class=\"data\"[^>]*stroke-width=\"([0-9.]+)\"");
  std::vector<double> widths;
  for (std::sregex_iterator it(svg.begin(), svg.end(), width), end; it != end; ++it)
    widths.push_back(std::stod((*it)[1]));
  ASSERT_EQ(widths.size(), 2u);
  EXPECT_LT(widths[0], widths[1]);              // 4 KiB thinner than 5 MiB
  EXPECT_EQ(count(svg, "class=\"call\""), 0u);  // call edges left out
}

TEST(DagSvg, EscapesNamesAndSaysWhenEmpty) {
  const std::string svg = report::render_dag_svg(pipeline(), nullptr);
  EXPECT_NE(svg.find("&lt;crop &amp; &quot;pad&quot;&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<crop"), std::string::npos);
  const std::string empty = report::render_dag_svg(graph::Dag{}, nullptr);
  EXPECT_NE(empty.find("empty DAG"), std::string::npos);
}
