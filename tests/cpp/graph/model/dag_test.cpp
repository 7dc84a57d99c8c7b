#include "codedag/graph/model/dag.hpp"

#include <gtest/gtest.h>

#include <string>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/dot.hpp"
#include "codedag/graph/model/summary.hpp"
#include "codedag/graph/model/topology.hpp"

namespace {

using codedag::json;
using codedag::graph::Dag;

json small_doc() {
  return json::parse(R"({"schema": "codedag.dag/1", "meta": {"batches": 1, "samples": 4},
    "nodes": [{"id": 1, "name": "Dataset.__getitem__", "qualname": "pkg.Dataset.__getitem__", "depth": 0,
               "calls": 4, "cpu_ns": 100, "total_ns": 400},
              {"id": 2, "name": "load", "qualname": "pkg.load", "parent": 1, "depth": 1, "calls": 4,
               "cpu_ns": 200, "out_bytes": 64, "custom": {"kept": true}},
              {"id": 3, "name": "crop", "qualname": "pkg.crop", "parent": 1, "depth": 1, "calls": 4,
               "cpu_ns": 100, "gpu_eligible": true, "gpu_ns": 5}],
    "edges": [{"src": 2, "dst": 3, "kind": "data", "bytes": 64, "count": 4},
              {"src": 1, "dst": 2, "kind": "call", "count": 4},
              {"src": 1, "dst": 3, "kind": "call", "count": 4}]})");
}

// Applies `edit` to the small document and returns the loader's message (or "" if it loaded).
template <class Edit>
std::string rejection(Edit edit) {
  json doc = small_doc();
  edit(doc);
  try {
    Dag::from_json(doc, "dag.json");
  } catch (const codedag::FormatError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Dag, LoadsAllFields) {
  const Dag dag = Dag::from_json(small_doc());
  ASSERT_EQ(dag.nodes().size(), 3u);
  EXPECT_EQ(dag.data_edge_count(), 1u);
  EXPECT_EQ(dag.call_edge_count(), 2u);
  const auto& crop = dag.node(3);
  EXPECT_EQ(crop.qualname, "pkg.crop");
  EXPECT_TRUE(crop.gpu_eligible);
  EXPECT_EQ(crop.gpu_ns, 5.0);
  EXPECT_FALSE(crop.batch_ns.has_value());
  EXPECT_EQ(dag.node(2).parent, 1);
  EXPECT_FALSE(dag.node(1).parent.has_value());
  EXPECT_EQ(dag.node(1).total_ns, 400);
  EXPECT_EQ(dag.node(2).total_ns, 200);  // absent total defaults to the exclusive time
}

TEST(Dag, RoundTripIsIdentityAndKeepsUnknownFields) {
  const Dag dag = Dag::from_json(small_doc());
  const json once = dag.to_json();
  EXPECT_EQ(Dag::from_json(once).to_json(), once);
  EXPECT_EQ(once["nodes"][1]["custom"]["kept"], true);
  EXPECT_EQ(once["meta"]["samples"], 4);
}

TEST(Dag, LibraryAndDistributionAreCarriedAndDefaultForOldFiles) {
  json doc = small_doc();
  doc["nodes"][0]["library"] = false;
  doc["nodes"][1]["library"] = true;
  doc["nodes"][1]["distribution"] = "soundfile";
  doc["nodes"][2]["kind"] = "builtin";  // written before the fields existed: a builtin is library code
  const Dag d = Dag::from_json(doc);
  EXPECT_FALSE(d.node(1).library);
  EXPECT_TRUE(d.node(2).library);
  EXPECT_EQ(d.node(2).distribution, "soundfile");
  EXPECT_TRUE(d.node(3).library);
  EXPECT_FALSE(d.node(3).distribution.has_value());
  EXPECT_FALSE(Dag::from_json(small_doc()).node(2).library) << "absent on python code: the user's";
  const json back = d.to_json();
  EXPECT_EQ(back["nodes"][1]["distribution"], "soundfile");
  EXPECT_TRUE(back["nodes"][0]["distribution"].is_null());
  EXPECT_EQ(Dag::from_json(back).to_json(), back);
  EXPECT_NE(rejection([](json& j) { j["nodes"][0]["library"] = "yes"; }).find("library"), std::string::npos);
  EXPECT_NE(rejection([](json& j) { j["nodes"][0]["distribution"] = ""; }).find("distribution"), std::string::npos);
  EXPECT_NE(rejection([](json& j) { j["nodes"][0]["distribution"] = 3; }).find("distribution"), std::string::npos);
}

TEST(Dag, AnOldFilesAllocBytesLoadsAndIsDropped) {
  // `alloc_bytes` left the format (it was never measured); files written with it still load, and it is
  // neither written back nor kept among the unknown fields.
  json doc = small_doc();
  doc["nodes"][1]["alloc_bytes"] = 4096;
  const json back = Dag::from_json(doc).to_json();
  EXPECT_FALSE(back["nodes"][1].contains("alloc_bytes"));
  EXPECT_EQ(back["nodes"][1]["custom"]["kept"], true);
  EXPECT_NE(rejection([](json& j) { j["nodes"][1]["alloc_bytes"] = "lots"; }).find("alloc_bytes"), std::string::npos)
      << "still a number when present: a damaged old file is named, not silently accepted";
}

TEST(Dag, RejectsUnknownSchema) {
  const auto msg = rejection([](json& d) { d["schema"] = "codedag.dag/9"; });
  EXPECT_TRUE(contains(msg, "unknown schema")) << msg;
  EXPECT_TRUE(contains(rejection([](json& d) { d.erase("schema"); }), "no 'schema'"));
}

TEST(Dag, RejectsDuplicateIds) {
  const auto msg = rejection([](json& d) { d["nodes"][2]["id"] = 1; });
  EXPECT_TRUE(contains(msg, "dag.json: nodes[2]")) << msg;
  EXPECT_TRUE(contains(msg, "used twice")) << msg;
}

TEST(Dag, RejectsDanglingEdges) {
  const auto msg = rejection([](json& d) { d["edges"][0]["dst"] = 42; });
  EXPECT_TRUE(contains(msg, "edges[0]")) << msg;
  EXPECT_TRUE(contains(msg, "dst 42")) << msg;
  EXPECT_TRUE(contains(rejection([](json& d) { d["nodes"][1]["parent"] = 99; }), "parent 99"));
}

TEST(Dag, RejectsDataCyclesNamingTheCycle) {
  const auto msg = rejection([](json& d) { d["edges"].push_back({{"src", 3}, {"dst", 2}, {"kind", "data"}}); });
  EXPECT_TRUE(contains(msg, "cycle")) << msg;
  EXPECT_TRUE(contains(msg, "2 -> 3 -> 2")) << msg;
  // A call edge back is not a data cycle.
  EXPECT_EQ(rejection([](json& d) { d["edges"].push_back({{"src", 3}, {"dst", 1}, {"kind", "call"}}); }), "");
}

TEST(Dag, RejectsSelfLoop) {
  EXPECT_TRUE(contains(rejection([](json& d) { d["edges"].push_back({{"src", 2}, {"dst", 2}}); }), "cycle"));
}

TEST(Dag, RejectsNegativeAndWrongTypedNumbers) {
  auto msg = rejection([](json& d) { d["nodes"][1]["cpu_ns"] = -5; });
  EXPECT_TRUE(contains(msg, "nodes[1]: 'cpu_ns' must not be negative")) << msg;
  msg = rejection([](json& d) { d["edges"][0]["bytes"] = "many"; });
  EXPECT_TRUE(contains(msg, "edges[0]: 'bytes' must be a number, got string")) << msg;
  msg = rejection([](json& d) { d["nodes"][0]["calls"] = 2.5; });
  EXPECT_TRUE(contains(msg, "'calls' must be a whole number")) << msg;
  msg = rejection([](json& d) { d["nodes"][0]["kind"] = "cuda"; });
  EXPECT_TRUE(contains(msg, "'kind' must be \"python\" or \"builtin\"")) << msg;
  msg = rejection([](json& d) { d["meta"]["batches"] = 0; });
  EXPECT_TRUE(contains(msg, "batches")) << msg;
  msg = rejection([](json& d) { d["nodes"][0].erase("name"); });
  EXPECT_TRUE(contains(msg, "'name' is missing")) << msg;
}

TEST(Dag, LoadReportsFileAndPosition) { EXPECT_THROW(Dag::load("/nonexistent/dag.json"), codedag::NotFoundError); }

TEST(Dag, AddNodeAndEdgeCheckIds) {
  Dag dag;
  codedag::graph::Node a;
  a.id = 1;
  a.name = "a";
  dag.add_node(a);
  EXPECT_THROW(dag.add_node(a), codedag::InputError);
  EXPECT_THROW(dag.add_edge({1, 2, codedag::graph::EdgeKind::data, 0, 1}), codedag::InputError);
}

TEST(Topology, OrderFollowsDataEdges) {
  const Dag dag = Dag::from_json(small_doc());
  const auto order = codedag::graph::topological_order(dag);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_LT(std::find(order.begin(), order.end(), 2), std::find(order.begin(), order.end(), 3));
}

TEST(Topology, LongChainDoesNotOverflowTheStack) {
  Dag dag;
  for (int i = 0; i < 200000; ++i) {
    codedag::graph::Node n;
    n.id = i;
    n.name = "n";
    dag.add_node(n);
    if (i) dag.add_edge({i - 1, i, codedag::graph::EdgeKind::data, 1, 1});
  }
  EXPECT_TRUE(codedag::graph::find_data_cycle(dag).empty());
  EXPECT_EQ(codedag::graph::topological_order(dag).size(), 200000u);
}

TEST(Dot, MarksEdgeKindsAndPlacement) {
  const Dag dag = Dag::from_json(small_doc());
  const std::map<int64_t, std::string> placement = {{3, "batch:cpu"}};
  const std::string dot = codedag::graph::to_dot(dag, &placement);
  EXPECT_TRUE(contains(dot, "n2 -> n3 [label=\"64 B\"]")) << dot;
  EXPECT_TRUE(contains(dot, "n1 -> n2 [style=dashed")) << dot;
  EXPECT_TRUE(contains(dot, "[batch:cpu]")) << dot;
}

TEST(Summary, CountsAndHottest) {
  const Dag dag = Dag::from_json(small_doc());
  const auto s = codedag::graph::summarize(dag, 2);
  EXPECT_EQ(s.nodes, 3u);
  EXPECT_EQ(s.gpu_eligible, 1u);
  EXPECT_EQ(s.total_cpu_ns, 400);
  ASSERT_EQ(s.hottest.size(), 2u);
  EXPECT_EQ(s.hottest[0]->id, 2);
}

}  // namespace
