#include "codedag/trace/chrome_trace.hpp"

#include <gtest/gtest.h>

using namespace codedag::trace;
using codedag::json;

TEST(ChromeTrace, CompleteEventsInMicrosecondsWithProcessNames) {
  ResolvedTree t;
  ResolvedContext c;
  c.key = "f";
  c.qualname = "m.f";
  c.name = "f";
  t.add(c);
  t.spans = {{0, 5000, 2000, 10, 11}, {0, 9000, 1000, 20, 21}};
  const json doc = chrome_trace(t, {{10, "main"}});
  const auto& ev = doc["traceEvents"];
  ASSERT_EQ(ev.size(), 2u + 2u + 2u);  // 2 spans, 2 process names, 2 thread names
  EXPECT_EQ(ev[0]["ph"], "X");
  EXPECT_DOUBLE_EQ(ev[0]["ts"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(ev[0]["dur"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(ev[1]["ts"].get<double>(), 4.0);
  EXPECT_EQ(ev[0]["args"]["node"], 1);
  EXPECT_EQ(ev[2]["args"]["name"], "main");
  EXPECT_EQ(ev[3]["args"]["name"], "process 20");
}
