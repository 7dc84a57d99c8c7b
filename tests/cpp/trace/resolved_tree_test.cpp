#include "codedag/trace/resolved_tree.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"
#include "codedag/trace/value_types.hpp"

using namespace codedag::trace;
using codedag::json;

ResolvedContext ctx(const std::string& key, int64_t parent, const std::string& qualname, int64_t calls) {
  ResolvedContext c;
  c.key = key;
  c.parent = parent;
  c.qualname = qualname;
  c.name = qualname;
  c.module = "m";
  c.file = "m.py";
  c.calls = calls;
  c.total_ns = 100.0 * calls;
  c.cpu_ns = 50.0 * calls;
  c.depth = parent < 0 ? 1 : 2;
  return c;
}

ResolvedTree worker_tree(int64_t calls) {
  ResolvedTree t;
  t.add(ctx("getitem", -1, "m.Data.__getitem__", calls));
  auto load = ctx("getitem/load", 0, "m.load", calls);
  load.ret_types = kTensor;
  load.lib_calls = {"torch.rand"};
  t.add(load);
  t.add(ctx("getitem/aug", 0, "m.aug", calls));
  t.flows.push_back({1, 2, 64.0 * calls, calls});
  t.spans.push_back({1, 10, 5, 42, 42});
  return t;
}

TEST(ResolvedTree, MergeSumsByKeyAndUnitesLists) {
  ResolvedTree parent;
  parent.add(ctx("main", -1, "m.main", 1));
  parent.merge(worker_tree(2));
  ResolvedTree second = worker_tree(3);
  second.contexts[1].lib_calls = {"torch.rand", "cv2.resize"};
  parent.merge(second);
  ASSERT_EQ(parent.contexts.size(), 4u);
  const int64_t load = parent.find("getitem/load");
  ASSERT_GE(load, 0);
  EXPECT_EQ(parent.contexts[load].calls, 5);
  EXPECT_DOUBLE_EQ(parent.contexts[load].total_ns, 500);
  EXPECT_EQ(parent.contexts[load].lib_calls, (std::vector<std::string>{"torch.rand", "cv2.resize"}));
  EXPECT_EQ(parent.contexts[load].parent, parent.find("getitem"));
  ASSERT_EQ(parent.flows.size(), 1u);
  EXPECT_EQ(parent.flows[0].count, 5);
  EXPECT_EQ(parent.flows[0].src, load);
  EXPECT_EQ(parent.spans.size(), 2u);
}

TEST(ResolvedTree, JsonRoundTrip) {
  const ResolvedTree t = worker_tree(4);
  const ResolvedTree back = ResolvedTree::from_json(t.to_json(), "test");
  EXPECT_EQ(back.to_json(), t.to_json());
}

TEST(ResolvedTree, MalformedInputNamesTheElement) {
  json doc = worker_tree(1).to_json();
  doc["contexts"][1]["parent"] = 5;
  EXPECT_THROW(
      {
        try {
          ResolvedTree::from_json(doc, "stream.jsonl:3");
        } catch (const codedag::FormatError& e) {
          EXPECT_NE(std::string(e.what()).find("stream.jsonl:3: contexts[1]"), std::string::npos);
          throw;
        }
      },
      codedag::FormatError);
  doc = worker_tree(1).to_json();
  doc["flows"][0][1] = 99;
  EXPECT_THROW(ResolvedTree::from_json(doc, "x"), codedag::FormatError);
  doc = worker_tree(1).to_json();
  doc["contexts"][0]["arg_types"] = json::array({"Quaternion"});
  EXPECT_THROW(ResolvedTree::from_json(doc, "x"), codedag::FormatError);
  doc = worker_tree(1).to_json();
  doc["contexts"][0]["calls"] = -1;
  EXPECT_THROW(ResolvedTree::from_json(doc, "x"), codedag::FormatError);
}

TEST(ResolvedTree, DuplicateKeyIsRefused) {
  ResolvedTree t;
  t.add(ctx("a", -1, "m.a", 1));
  EXPECT_THROW(t.add(ctx("a", -1, "m.a", 1)), codedag::InputError);
}

TEST(ResolvedTree, ApplyCoverageByName) {
  ResolvedTree t = worker_tree(1);
  t.contexts[2].lib_calls = {"cv2.resize", "torch.stft", "librosa.feature.mfcc"};
  t.apply_coverage({"cv2.resize"});
  EXPECT_EQ(t.contexts[2].uncovered_calls, (std::vector<std::string>{"librosa.feature.mfcc"}));
}

TEST(ValueTypes, NamesRoundTrip) {
  const uint32_t mask = kTensor | kTuple | kOther;
  EXPECT_EQ(value_type_names(mask), (std::vector<std::string>{"Tensor", "tuple", "other"}));
  EXPECT_EQ(value_type_mask(value_type_names(mask)), mask);
}

TEST(ResolvedTree, AddOrMergeSumsContextsWithOneKey) {
  ResolvedTree t;
  t.add(ctx("root", -1, "m.root", 1));
  auto a = ctx("root/step", 0, "m.step", 2);
  a.lib_calls = {"numpy.clip"};
  EXPECT_EQ(t.add_or_merge(a), 1);
  auto b = ctx("root/step", 0, "m.step", 3);
  b.lib_calls = {"cv2.resize"};
  EXPECT_EQ(t.add_or_merge(b), 1);
  ASSERT_EQ(t.contexts.size(), 2u);
  EXPECT_EQ(t.contexts[1].calls, 5);
  EXPECT_EQ(t.contexts[1].lib_calls, (std::vector<std::string>{"numpy.clip", "cv2.resize"}));
  t.add_flow(0, 1, 10, 1);
  t.add_flow(0, 1, 5, 2);
  ASSERT_EQ(t.flows.size(), 1u);
  EXPECT_DOUBLE_EQ(t.flows[0].bytes, 15);
  EXPECT_EQ(t.flows[0].count, 3);
  EXPECT_THROW(t.add_flow(0, 7, 1, 1), codedag::InputError);
}

TEST(ResolvedTree, DiagnosticsTravelInJsonAndMerge) {
  ResolvedTree worker = worker_tree(1);
  worker.diagnostics = {"the tracer's hook failed in a call event: boom"};
  const ResolvedTree back = ResolvedTree::from_json(worker.to_json(), "test");
  EXPECT_EQ(back.diagnostics, worker.diagnostics);
  ResolvedTree parent;
  parent.merge(back);
  parent.merge(back);
  EXPECT_EQ(parent.diagnostics, worker.diagnostics);  // united, not repeated
  json old = worker_tree(1).to_json();                // a record without the field still reads
  EXPECT_FALSE(old.contains("diagnostics"));
  EXPECT_TRUE(ResolvedTree::from_json(old, "test").diagnostics.empty());
}
