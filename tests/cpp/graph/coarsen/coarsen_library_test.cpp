// Library contexts (Node::library, decided by the tracer) fold into the user function that calls them,
// so every plan key is patchable.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "codedag/common/error.hpp"
#include "codedag/graph/coarsen/coarsen.hpp"
#include "codedag/graph/cost/cost_model.hpp"
#include "codedag/graph/optimizer.hpp"

namespace {

using namespace codedag::graph;

Node make(int64_t id, const std::string& q, const std::string& module, std::optional<int64_t> parent, int64_t depth,
          double cpu, bool eligible = true, const std::string& kind = "python") {
  Node n;
  n.id = id;
  n.name = n.qualname = q;
  n.module = module;
  n.kind = kind;
  n.parent = parent;
  n.depth = depth;
  n.cpu_ns = cpu;
  n.total_ns = cpu;
  n.calls = 4;
  n.gpu_eligible = eligible;
  n.library = kind == "builtin";
  return n;
}

Node library(Node n, const std::string& distribution) {
  n.library = true;
  n.distribution = distribution;
  return n;
}

double sum_cpu(const Dag& d) {
  return std::accumulate(d.nodes().begin(), d.nodes().end(), 0.0, [](double s, const Node& n) { return s + n.cpu_ns; });
}

// A user pipeline whose functions call torch, numpy and builtins, plus a library root (collate).
Dag pipeline() {
  Dag d;
  d.add_node(make(1, "pkg.data.Dataset.__getitem__", "pkg.data", std::nullopt, 0, 10));
  Node load = make(2, "pkg.audio.load", "pkg.audio", 1, 1, 5, /*eligible=*/true);
  load.lib_calls = {"numpy.load"};
  d.add_node(load);
  d.add_node(make(3, "numpy.load", "numpy", 2, 2, 100, false, "builtin"));
  Node mel = make(4, "pkg.audio.mel", "pkg.audio", 1, 1, 7);
  mel.lib_calls = {"torch.stft"};
  d.add_node(mel);
  // A library function (python kind) calling another library function: both fold into mel.
  d.add_node(
      library(make(5, "torchaudio.transforms.Spectrogram.forward", "torchaudio.transforms", 4, 2, 20), "torchaudio"));
  Node stft = make(6, "torch.stft", "torch", 5, 3, 300, /*eligible=*/false, "builtin");
  stft.lib_calls = {"torch._C.stft"};
  stft.blocked_by = {"torch.stft: not a tensor"};
  d.add_node(stft);
  d.add_node(make(7, "len", "", 4, 2, 1, false, "builtin"));  // builtin by kind
  d.add_node(library(make(8, "numpy.core.fromnumeric.mean", "", 4, 2, 9), "numpy"));
  d.add_node(make(9, "pkg.audio.norm", "pkg.audio", 1, 1, 3));
  d.add_node(library(
      make(10, "torch.utils.data._utils.collate.default_collate", "torch.utils.data._utils", std::nullopt, 0, 15),
      "torch"));
  d.add_node(library(make(11, "torch.stack", "torch", 10, 1, 4), "torch"));  // under a library root: no user ancestor
  for (const auto& [p, c] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 2}, {2, 3}, {1, 4}, {4, 5}, {5, 6}, {4, 7}, {4, 8}, {1, 9}, {10, 11}})
    d.add_edge({p, c, EdgeKind::call, 0, 4});
  d.add_edge({3, 2, EdgeKind::data, 1000, 4});  // numpy.load -> its caller: internal, a self-loop
  d.add_edge({3, 5, EdgeKind::data, 800, 4});   // numpy.load's array -> Spectrogram: load -> mel
  d.add_edge({2, 4, EdgeKind::data, 200, 4});   // parallel to the one above once folded: summed
  d.add_edge({6, 9, EdgeKind::data, 64, 4});    // torch.stft's output -> norm: mel -> norm
  d.add_edge({9, 10, EdgeKind::data, 32, 4});
  d.add_edge({8, 10, EdgeKind::data, 8, 4});  // numpy mean -> collate: mel -> collate
  return d;
}

TEST(CoarsenLibrary, LibraryContextsFoldIntoTheirNearestUserAncestor) {
  const Dag d = pipeline();
  const CoarsenResult r = coarsen(d, CoarsenOptions{});
  EXPECT_EQ(r.folded_libraries, 5u);
  EXPECT_EQ(r.folded_by_depth, 0u);
  EXPECT_EQ(r.representative.at(3), 2);
  EXPECT_EQ(r.representative.at(5), 4);
  EXPECT_EQ(r.representative.at(6), 4) << "a library call of a library call folds into the user caller";
  EXPECT_EQ(r.representative.at(7), 4);
  EXPECT_EQ(r.representative.at(8), 4);
  EXPECT_EQ(r.representative.at(10), 10) << "a library root stays";
  EXPECT_EQ(r.representative.at(11), 11) << "a library context with no user ancestor stays";
  ASSERT_EQ(r.dag.nodes().size(), 6u);
  // No library context remains under a user ancestor.
  for (const Node& n : r.dag.nodes()) {
    if (!n.library) continue;
    for (auto p = n.parent; p; p = r.dag.node(*p).parent)
      EXPECT_TRUE(r.dag.node(*p).library) << n.qualname << " is still under a user context";
  }
}

TEST(CoarsenLibrary, TimesAreConserved) {
  const Dag d = pipeline();
  const CoarsenResult r = coarsen(d, CoarsenOptions{});
  EXPECT_DOUBLE_EQ(sum_cpu(r.dag), sum_cpu(d));
  EXPECT_DOUBLE_EQ(r.dag.node(4).cpu_ns, 7 + 20 + 300 + 1 + 9);
  EXPECT_DOUBLE_EQ(r.dag.node(2).cpu_ns, 105);
  EXPECT_DOUBLE_EQ(r.dag.node(4).total_ns, 7) << "inclusive time already counted its library calls";
  EXPECT_EQ(r.dag.node(4).calls, 4) << "the caller's call count is its own";
}

TEST(CoarsenLibrary, DataEdgesAttachToTheUserCaller) {
  const Dag d = pipeline();
  const CoarsenResult r = coarsen(d, CoarsenOptions{});
  auto data = [&](int64_t s, int64_t t) -> const Edge* {
    for (const Edge& e : r.dag.edges())
      if (e.kind == EdgeKind::data && e.src == s && e.dst == t) return &e;
    return nullptr;
  };
  const Edge* load_mel = data(2, 4);
  ASSERT_NE(load_mel, nullptr);
  EXPECT_DOUBLE_EQ(load_mel->bytes, 1000) << "parallel edges merge";
  EXPECT_EQ(load_mel->count, 8);
  ASSERT_NE(data(4, 9), nullptr);
  EXPECT_DOUBLE_EQ(data(4, 9)->bytes, 64);
  ASSERT_NE(data(4, 10), nullptr);
  ASSERT_NE(data(9, 10), nullptr);
  double bytes = 0;
  for (const Edge& e : r.dag.edges()) {
    EXPECT_NE(e.src, e.dst) << "self-loops are dropped";
    if (e.kind == EdgeKind::data) bytes += e.bytes;
  }
  EXPECT_DOUBLE_EQ(bytes, 1000 + 64 + 32 + 8) << "only the internal numpy.load -> load edge disappears";
  // Call edges into folded children became self-loops; the user structure stays.
  size_t calls = 0;
  for (const Edge& e : r.dag.edges()) calls += e.kind == EdgeKind::call;
  EXPECT_EQ(calls, 4u);  // 1->2, 1->4, 1->9, 10->11
}

TEST(CoarsenLibrary, TheCallerKeepsItsEligibilityAndGainsTheLibraryCalls) {
  const Dag d = pipeline();
  const CoarsenResult r = coarsen(d, CoarsenOptions{});
  const Node& mel = r.dag.node(4);
  EXPECT_TRUE(mel.gpu_eligible) << "the tracer judged mel with its library calls; they do not pin it";
  EXPECT_TRUE(mel.blocked_by.empty());
  EXPECT_NE(std::find(mel.lib_calls.begin(), mel.lib_calls.end(), "torch.stft"), mel.lib_calls.end());
  EXPECT_NE(std::find(mel.lib_calls.begin(), mel.lib_calls.end(), "torch._C.stft"), mel.lib_calls.end());
  EXPECT_EQ(patch_qualnames(mel), std::vector<std::string>{"pkg.audio.mel"}) << "no members: calls run inside";
  EXPECT_TRUE(r.dag.node(2).gpu_eligible);
}

TEST(CoarsenLibrary, DepthFoldingStillPinsAndComposesWithLibraryFolding) {
  Dag d = pipeline();
  // max_depth 1: everything at depth 2+ folds by depth (eligibility ANDs as before).
  const CoarsenResult r = coarsen(d, CoarsenOptions{1, 0});
  EXPECT_EQ(r.folded_by_depth, 5u);
  EXPECT_EQ(r.folded_libraries, 0u);
  EXPECT_FALSE(r.dag.node(4).gpu_eligible);
  EXPECT_DOUBLE_EQ(sum_cpu(r.dag), sum_cpu(d));
}

TEST(CoarsenLibrary, TheNodeFieldAloneDecidesNotTheName) {
  // Names mean nothing here: "torch.flip" marked as the user's own (a [tool.codedag] user override,
  // say) stays a context; a vendored package the tracer judged library folds whatever its name.
  Dag d;
  d.add_node(make(1, "pkg.f", "pkg", std::nullopt, 0, 1));
  d.add_node(library(make(2, "vendored.Resize.__call__", "vendored", 1, 1, 50), "vendored-wheel"));
  d.add_node(make(3, "torch.flip", "torch", 1, 1, 5));
  d.add_node(make(4, "len", "builtins", 1, 1, 1, true, "builtin"));
  const CoarsenResult r = coarsen(d, CoarsenOptions{});
  ASSERT_EQ(r.dag.nodes().size(), 2u);
  EXPECT_TRUE(r.dag.contains(3));
  EXPECT_EQ(r.representative.at(2), 1);
  EXPECT_EQ(r.representative.at(4), 1);
  EXPECT_DOUBLE_EQ(r.dag.node(1).cpu_ns, 52);
}

TEST(CoarsenLibrary, ALibraryCallInAPinnedCallerBecomesACallSite) {
  // __getitem__ touches pandas (cannot move) and calls AmplitudeToDB.forward directly, which could.
  Dag d;
  d.add_node(make(1, "pkg.Data.__getitem__", "pkg", std::nullopt, 0, 10e6, /*eligible=*/false));
  d.add_node(make(2, "pkg.mel", "pkg", 1, 1, 100e6));
  d.add_node(library(make(3, "torchaudio.transforms.AmplitudeToDB.forward", "torchaudio.transforms", 1, 1, 50e6),
                     "torchaudio"));
  d.add_node(library(make(4, "torch.clamp", "torch", 3, 2, 5e6, true, "builtin"), "torch"));  // folds into the site
  d.add_node(library(make(5, "json.loads", "json", 1, 1, 3e6), "stdlib"));                    // stdlib: folds
  d.add_node(make(6, "pkg.norm", "pkg", 1, 1, 20e6));
  d.add_node(library(make(7, "pandas.Series.map", "pandas", 1, 1, 30e6, /*eligible=*/false), "pandas"));  // cannot move
  d.add_node(make(8, "pkg.Data.__getitem__.<locals>.helper", "pkg", 6, 2, 2e6));  // unreachable: folds into norm
  for (int64_t c = 2; c <= 8; ++c) d.add_edge({c == 4 ? 3 : c == 8 ? 6 : 1, c, EdgeKind::call, 0, 4});
  d.add_edge({2, 3, EdgeKind::data, 100, 4});
  d.add_edge({3, 6, EdgeKind::data, 100, 4});
  const CoarsenResult r = coarsen(d, CoarsenOptions{});
  EXPECT_EQ(r.call_sites, 1u);
  EXPECT_EQ(r.folded_unreachable, 1u);
  EXPECT_EQ(r.representative.at(4), 3);
  EXPECT_EQ(r.representative.at(5), 1);
  EXPECT_EQ(r.representative.at(7), 1);
  EXPECT_EQ(r.representative.at(8), 6);
  const Node& site = r.dag.node(3);
  EXPECT_EQ(site.qualname, "pkg.Data.__getitem__->torchaudio.transforms.AmplitudeToDB.forward");
  EXPECT_EQ(site.extra.at("call_site").at("caller"), "pkg.Data.__getitem__");
  EXPECT_EQ(site.extra.at("call_site").at("callee"), "torchaudio.transforms.AmplitudeToDB.forward");
  EXPECT_DOUBLE_EQ(site.cpu_ns, 55e6);
  EXPECT_TRUE(is_patchable(site));
  EXPECT_FALSE(is_patchable(d.node(8))) << "a nested function is not reachable from its module";
  // The mel stage can now leave the workers with the call site: nothing pins it any more.
  OptimizerOptions o;
  o.workers = 1;
  o.gpu_count = 1;
  const OptimizeResult res = optimize(d, o);
  EXPECT_EQ(res.plan.context_device_map.at("pkg.mel"), "cuda:0");
  EXPECT_EQ(res.plan.context_device_map.at(site.qualname), "cuda:0");
  EXPECT_FALSE(res.plan.context_device_map.count("pkg.Data.__getitem__"));
  // When the caller itself can move, the library call simply moves with it.
  d.node(1).gpu_eligible = true;
  d.node(7).gpu_eligible = true;
  EXPECT_EQ(coarsen(d, CoarsenOptions{}).call_sites, 0u);
}

TEST(CoarsenLibrary, DataIntoAnUnpatchableRootIsNeitherABackEdgeNorATransfer) {
  // default_collate (library, a root) receives what the moved suffix produced: in batched mode it
  // collates the suffix's inputs instead, so the plan is feasible and the edge costs nothing.
  Dag d;
  d.add_node(make(1, "pkg.Data.__getitem__", "pkg", std::nullopt, 0, 10e6, false));
  d.add_node(make(2, "pkg.mel", "pkg", 1, 1, 100e6));
  d.add_node(library(
      make(3, "torch.utils.data._utils.collate.default_collate", "torch.utils.data._utils", std::nullopt, 0, 15e6),
      "torch"));
  d.add_edge({1, 2, EdgeKind::call, 0, 4});
  d.add_edge({2, 3, EdgeKind::data, 4e6, 4});
  const Placement moved{{"cpu", "batch:cpu"}, {0, 1, 0}};
  const CostBreakdown b = evaluate_placement(d, DeviceModel::defaults(1), moved);
  EXPECT_TRUE(b.transfers.empty());
  const Placement collate_moved{{"cpu", "batch:cpu"}, {0, 1, 1}};
  try {
    check_feasible(d, collate_moved);
    ADD_FAILURE() << "a library root placed off cpu must be refused";
  } catch (const codedag::InfeasiblePlanError& e) {
    EXPECT_NE(std::string(e.what()).find("only patchable functions move"), std::string::npos) << e.what();
  }
  OptimizerOptions o;
  o.workers = 1;
  o.device_model = DeviceModel::defaults(1);
  o.device_model->batch_speedup = 16;
  const OptimizeResult r = optimize(d, o);
  EXPECT_EQ(r.plan.context_device_map.at("pkg.mel"), "batch:cpu");
  EXPECT_EQ(r.plan.context_device_map.size(), 1u) << "the collate function is never a plan key";
}

TEST(CoarsenLibrary, PlansNameOnlyPatchableContexts) {
  const Dag d = pipeline();
  OptimizerOptions o;
  o.workers = 1;
  const OptimizeResult r = optimize(d, o);
  for (const auto& [key, device] : r.plan.context_device_map)
    EXPECT_TRUE(key.rfind("pkg.", 0) == 0) << key << " is not a user function";
}

}  // namespace
