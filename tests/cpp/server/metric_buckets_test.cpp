// Bucketed series: at most P buckets, spikes and NaNs kept, exact points when they fit; the cache
// reads only appended bytes and starts over when the file is replaced.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "codedag/server/metric_buckets.hpp"

namespace fs = std::filesystem;
using namespace codedag::server;

namespace {

SeriesPoints ramp(size_t n) {
  SeriesPoints s;
  for (size_t i = 0; i < n; ++i) {
    s.step.push_back(static_cast<double>(i));
    s.value.push_back(static_cast<double>(i % 100) / 100.0);
    s.time.push_back(1000.0 + static_cast<double>(i));
  }
  return s;
}

std::string temp_file(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("codedag_buckets_" + name + "_" + std::to_string(::getpid()));
  fs::remove(p);
  return p.string();
}

void append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

}  // namespace

TEST(Buckets, AtMostPBucketsCoveringEveryPoint) {
  SeriesPoints s = ramp(100000);
  s.value[54321] = 1e6;  // a spike
  s.value[70000] = NAN;  // a NaN
  const BucketedSeries b = bucket_series("loss", s, 500, std::nullopt, std::nullopt);
  EXPECT_EQ(b.raw_points, 100000u);
  EXPECT_EQ(b.points_in_range, 100000u);
  EXPECT_LE(b.buckets.size(), 500u);
  size_t total = 0, nans = 0;
  double max = -1;
  for (const Bucket& k : b.buckets) {
    total += k.count;
    nans += k.non_finite;
    max = std::max(max, k.max);
    EXPECT_LE(k.x_first, k.x_last);
  }
  EXPECT_EQ(total, 100000u);
  EXPECT_EQ(nans, 1u);
  EXPECT_EQ(max, 1e6);  // the spike survives
  EXPECT_EQ(b.last_time, 1000.0 + 99999);
}

TEST(Buckets, FewPointsStayExactAndRangesCut) {
  const SeriesPoints s = ramp(50);
  const BucketedSeries b = bucket_series("x", s, 800, std::nullopt, std::nullopt);
  ASSERT_EQ(b.buckets.size(), 50u);
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(b.buckets[i].count, 1u);
    EXPECT_EQ(b.buckets[i].last, s.value[i]);
  }
  const BucketedSeries r = bucket_series("x", s, 800, 10.0, 19.0);
  EXPECT_EQ(r.points_in_range, 10u);
  EXPECT_EQ(r.buckets.front().x_first, 10.0);
  EXPECT_EQ(r.buckets.back().x_last, 19.0);
  EXPECT_TRUE(bucket_series("x", s, 10, 100.0, 200.0).buckets.empty());
  const codedag::json j = to_json(b);
  EXPECT_EQ(j["raw_points"], 50);
  EXPECT_EQ(j["buckets"][3].size(), 7u);
}

TEST(Buckets, AllNaNBucketIsNull) {
  SeriesPoints s;
  s.step = {0, 1};
  s.value = {NAN, NAN};
  s.time = {NAN, NAN};
  const codedag::json j = to_json(bucket_series("x", s, 1, std::nullopt, std::nullopt));
  EXPECT_TRUE(j["buckets"][0][2].is_null());
  EXPECT_EQ(j["buckets"][0][6], 2);
}

TEST(MetricCache, TailsAppendedLinesAndRereadsReplacedFiles) {
  const std::string path = temp_file("tail");
  MetricCache cache;
  EXPECT_EQ(cache.with_file(path, [](const MetricFile& f) { return f.lines; }), 0u);  // no file yet
  append(path, "{\"key\":\"loss\",\"step\":0,\"value\":1.0,\"t\":1}\n{\"key\":\"acc\",\"step\":0,\"value\":0.5}\n");
  append(path, "{\"key\":\"loss\",\"step\":1,\"value\":null}\nnot json\n{\"key\":\"loss\",\"step\":2,\"va");
  cache.with_file(path, [](const MetricFile& f) {
    EXPECT_EQ(f.lines, 3u);
    EXPECT_EQ(f.bad_lines, 1u);
    EXPECT_EQ(f.series.at("loss").step.size(), 2u);
    EXPECT_TRUE(std::isnan(f.series.at("loss").value[1]));
    return 0;
  });
  append(path, "lue\":0.25}\n{\"key\":\"loss\",\"step\":-5,\"value\":9}\n");  // the torn line completes
  cache.with_file(path, [](const MetricFile& f) {
    const SeriesPoints& loss = f.series.at("loss");
    EXPECT_EQ(loss.step.size(), 4u);
    EXPECT_EQ(loss.step.front(), -5.0);  // kept in step order
    EXPECT_EQ(loss.value.back(), 0.25);
    return 0;
  });
  fs::remove(path);
  append(path, "{\"key\":\"new\",\"value\":3}\n");  // replaced: read from the start
  cache.with_file(path, [](const MetricFile& f) {
    EXPECT_EQ(f.series.count("loss"), 0u);
    EXPECT_EQ(f.series.at("new").step.at(0), 0.0);
    return 0;
  });
  fs::remove(path);
}

TEST(MetricCache, MemoryBudgetDropsLeastRecentlyUsedFiles) {
  MetricCache cache(1000);  // bytes: a few dozen points
  std::vector<std::string> paths;
  for (int f = 0; f < 3; ++f) {
    paths.push_back(temp_file("budget" + std::to_string(f)));
    std::string lines;
    for (int i = 0; i < 30; ++i) lines += "{\"key\":\"k\",\"step\":" + std::to_string(i) + ",\"value\":1}\n";
    append(paths.back(), lines);
    cache.with_file(paths.back(), [](const MetricFile&) { return 0; });
  }
  EXPECT_LT(cache.files(), 3u);
  for (const auto& p : paths) fs::remove(p);
}
