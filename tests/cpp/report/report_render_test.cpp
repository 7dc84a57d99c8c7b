#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/report/comparison.hpp"
#include "codedag/report/html_report.hpp"
#include "codedag/report/svg_chart.hpp"

using namespace codedag;
using namespace codedag::report;

namespace {
ModeResult mode(const std::string& name, double batch_seconds, int batches) {
  ModeResult m;
  m.name = name;
  m.start_time = 1000;
  m.total_time = batch_seconds * batches;
  for (int i = 0; i < batches; ++i) {
    m.batch_times.emplace_back(i, batch_seconds * (1 + 0.1 * ((i % 5) - 2) / 2));
    m.losses.push_back({0, i, 2.0 / (1 + i * 0.1)});
    m.accuracies.push_back({0, i, 0.5 + 0.4 * i / batches});
    m.resources.cpu_usage.push_back({1000.0 + i, 30.0 + i % 7});
    m.resources.memory_usage.push_back({1000.0 + i, 40});
    m.resources.process_memory.push_back({1000.0 + i, 500.0 + i});
  }
  m.resource_info = {{"gpu_note", "libnvidia-ml.so.1 not found (no NVIDIA driver): GPU series stay empty"},
                     {"cgroup", {{"version", "v2"}}},
                     {"cpu_capacity", 2.0}};
  return m;
}
ExperimentResult two_modes() {
  ExperimentResult r;
  r.experiment_name = "BirdCLEF <2023> & co";
  r.datetime = "2024-01-15T10:30:00";
  r.put(mode("baseline", 0.2, 60));
  r.put(mode("optimization", 0.1, 60));
  return r;
}
}  // namespace

TEST(Comparison, PicksBaselineAndOptimisationAndComputesSpeedup) {
  const ExperimentResult r = two_modes();
  const Comparison c = compare(r);
  EXPECT_EQ(c.baseline->name, "baseline");
  EXPECT_EQ(c.candidate->name, "optimization");
  ASSERT_TRUE(c.speedup);
  EXPECT_NEAR(*c.speedup, 2.0, 1e-9);
  bool found = false;
  for (const ComparisonRow& row : c.rows)
    if (row.metric == "mean batch time (ms)") {
      found = true;
      EXPECT_EQ(row.change, "2.00x faster");
      EXPECT_EQ(row.better, 1);
    }
  EXPECT_TRUE(found);
  for (const ComparisonRow& row : c.rows) EXPECT_NE(row.metric, "GPU utilisation mean (%)");  // never recorded
  EXPECT_THROW(compare(r, "nope"), NotFoundError);
  const Comparison reversed = compare(r, "optimization", "baseline");
  EXPECT_NEAR(*reversed.speedup, 0.5, 1e-9);
}

TEST(Comparison, SingleModeHasNoCandidate) {
  ExperimentResult r;
  r.put(mode("run", 0.1, 10));
  const Comparison c = compare(r);
  EXPECT_EQ(c.baseline->name, "run");
  EXPECT_EQ(c.candidate, nullptr);
  EXPECT_FALSE(c.speedup);
  for (const ComparisonRow& row : c.rows) EXPECT_TRUE(row.change.empty());
}

TEST(Render, HtmlIsSelfContainedAndEscaped) {
  const ExperimentResult r = two_modes();
  const std::string html = render_html(r, compare(r));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_NE(html.find("BirdCLEF &lt;2023&gt; &amp; co"), std::string::npos);
  EXPECT_EQ(html.find("<2023>"), std::string::npos);
  EXPECT_NE(html.find("2.00×"), std::string::npos);
  // Nine charts; the GPU ones say why they are empty.
  const std::regex svg_open("<svg ");
  EXPECT_EQ(std::distance(std::sregex_iterator(html.begin(), html.end(), svg_open), std::sregex_iterator()), 9);
  EXPECT_NE(html.find(">no GPU samples</text>"), std::string::npos);
  EXPECT_NE(html.find(">libnvidia-ml.so.1 not found (no NVIDIA driver): GPU series stay empty</text>"),
            std::string::npos);
  EXPECT_NE(html.find("<path d=\""), std::string::npos);
}

TEST(Render, StandaloneSvgIsOneDocumentWithTheCharts) {
  const ExperimentResult r = two_modes();
  const std::string svg = render_svg(r, compare(r));
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  const std::regex open("<svg[ >]"), close("</svg>");
  const auto opens = std::distance(std::sregex_iterator(svg.begin(), svg.end(), open), std::sregex_iterator());
  const auto closes = std::distance(std::sregex_iterator(svg.begin(), svg.end(), close), std::sregex_iterator());
  EXPECT_EQ(opens, 10);  // the page + 9 charts
  EXPECT_EQ(opens, closes);
  EXPECT_EQ(svg.find("NaN"), std::string::npos);
  EXPECT_FALSE(std::regex_search(svg, std::regex("[\"> ,-]inf")));
}

TEST(Render, WritesBothFilesAtomically) {
  const std::string dir = ::testing::TempDir() + "/codedag_render_" + std::to_string(::getpid());
  const ExperimentResult r = two_modes();
  const ReportFiles f = write_report(r, compare(r), dir, "results");
  EXPECT_EQ(f.html, dir + "/results_report.html");
  EXPECT_TRUE(std::filesystem::exists(f.html));
  EXPECT_TRUE(std::filesystem::exists(f.svg));
  std::filesystem::remove_all(dir);
}

TEST(SvgChart, NiceTicksAndEmptyCharts) {
  const auto t = nice_ticks(0, 97, 5);
  EXPECT_EQ(t.front(), 0);
  EXPECT_GE(t.back(), 97);
  EXPECT_EQ(t[1] - t[0], 20);
  const auto flat = nice_ticks(5, 5, 5);
  EXPECT_LT(flat.front(), 5);
  EXPECT_GT(flat.back(), 5);
  ChartSpec spec;
  spec.title = "GPU";
  spec.empty_note = "no GPU here";
  const std::string s = render_chart(spec);
  EXPECT_NE(s.find("no GPU here"), std::string::npos);
  EXPECT_EQ(short_number(12345), "12.3k");
  EXPECT_EQ(short_number(0.125), "0.125");
  EXPECT_EQ(xml_escape("<a&'\">"), "&lt;a&amp;&#39;&quot;&gt;");
}
