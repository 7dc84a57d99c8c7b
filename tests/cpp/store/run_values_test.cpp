// The typed values the index keeps beside each row for the panel's filters (run_values.hpp).
#include "codedag/store/run_values.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace codedag;
using namespace codedag::store;

namespace {

std::map<std::string, TypedValue> by_key(const json& summary) {
  std::map<std::string, TypedValue> out;
  for (TypedValue& v : typed_values(summary)) out[std::string(1, v.kind) + ":" + v.key] = std::move(v);
  return out;
}

}  // namespace

TEST(RunValues, EveryKindOfLeafIsTyped) {
  const auto v = by_key(json::parse(R"({
    "info": {"params": {"lr": 0.1, "batch_size": 64, "use_amp": true, "name": "res net", "none": null,
                        "layers": [1, 2], "opt": {"name": "adamw", "betas": {"b1": 0.9}}, "empty": {}},
             "a.b": 1, "a": {"b": 2}, "x[0]": "bracket"},
    "properties": {"sweep": {"id": "sw1", "cell": 3}},
    "metrics": {"acc": {"value": 0.93, "cmp": "max"}, "txt": {"value": "n/a"}, "bad": 3},
    "last": {"loss": {"value": 0.2, "step": 9}}
  })"));
  EXPECT_EQ(*v.at("p:params.lr").num, 0.1);
  EXPECT_FALSE(v.at("p:params.lr").txt);
  EXPECT_EQ(*v.at("p:params.batch_size").num, 64);  // plain dotted keys, never quoted
  EXPECT_EQ(*v.at("p:params.use_amp").num, 1);
  EXPECT_EQ(*v.at("p:params.use_amp").txt, "true");
  EXPECT_EQ(*v.at("p:params.name").txt, "res net");
  EXPECT_FALSE(v.at("p:params.none").num || v.at("p:params.none").txt);
  EXPECT_EQ(*v.at("p:params.layers").txt, "[1,2]");  // an array is one value
  EXPECT_EQ(*v.at("p:params.opt.betas.b1").num, 0.9);
  EXPECT_FALSE(v.count("p:params.empty"));  // an object is never a value
  EXPECT_EQ(*v.at("p:a.b").num, 2);         // of two spellings of one key, the first in key order ("a" < "a.b")
  EXPECT_EQ(*v.at("p:x[0]").txt, "bracket");
  EXPECT_EQ(*v.at("s:sweep.id").txt, "sw1");
  EXPECT_EQ(*v.at("s:sweep.cell").num, 3);
  EXPECT_EQ(*v.at("b:acc").num, 0.93);
  EXPECT_FALSE(v.at("b:txt").num);  // a metric that is not a number has the key, no value
  EXPECT_FALSE(v.count("b:bad"));   // not an object: not a metric record
  EXPECT_EQ(*v.at("l:loss").num, 0.2);
}

TEST(RunValues, OddSummariesGiveWhatTheyCan) {
  EXPECT_TRUE(typed_values(json::array()).empty());
  EXPECT_TRUE(typed_values(json{{"info", "text"}, {"metrics", 3}, {"properties", {{"sweep", 1}}}}).empty());
  // Nesting past the bound is kept as one JSON text, not recursed into without end.
  json deep = json{{"leaf", 1}};
  for (int i = 0; i < 40; ++i) deep = json{{"d", deep}};
  const auto values = typed_values(json{{"info", deep}});
  ASSERT_EQ(values.size(), 1u);
  EXPECT_TRUE(values[0].txt.has_value());
}
