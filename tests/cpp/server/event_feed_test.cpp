// The live feed: a running run's new metric lines, its end, and waiting for them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "codedag/server/event_feed.hpp"
#include "codedag/store/experiment.hpp"

namespace fs = std::filesystem;
using namespace codedag;
using namespace codedag::server;

namespace {

std::vector<json> of_type(const json& answer, const std::string& type) {
  std::vector<json> out;
  for (const auto& e : answer["events"])
    if (e["type"] == type) out.push_back(e);
  return out;
}

}  // namespace

TEST(EventFeed, TailsMetricsAndSeesRunsEnd) {
  const fs::path home = fs::temp_directory_path() / ("codedag_events_" + std::to_string(::getpid()));
  fs::remove_all(home);
  store::Store store(home.string());
  EventFeedOptions o;
  o.sync_seconds = 0;  // a run writes files only (never the index): the feed syncs them on every poll
  EventFeed feed(home.string(), store.index().path(), o);

  store::Experiment e("live", home.string());
  store::StartOptions so;
  so.argv = {"python", "train.py"};
  so.heartbeat = false;
  e.start(so);
  e.log_metric("loss", 1.0, 0);
  e.flush_metrics();
  feed.poll();  // primes: what is there already is not news
  EXPECT_TRUE(feed.wait(0, 0)["events"].empty());

  for (int i = 1; i <= 3; ++i) e.log_metric("loss", 1.0 / i, i);
  e.log_metric("acc", 0.5, 1);
  e.flush_metrics();
  feed.poll();
  const json a = feed.wait(0, 0);
  const auto metrics = of_type(a, "metrics");
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0]["test_name"], e.test_name());
  EXPECT_EQ(metrics[0]["keys"]["loss"]["points"], 3);
  EXPECT_EQ(metrics[0]["keys"]["acc"]["value"], 0.5);

  // A waiting page is woken by the next event.
  const long long since = a["seq"];
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // file mtimes have ns resolution
    e.end("finished");
    feed.poll();
  });
  const json b = feed.wait(since, 20);
  later.join();
  const auto runs = of_type(b, "run");
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(runs.back()["status"], "finished");
  EXPECT_GT(b["seq"].get<long long>(), since);

  // A page from an older server (a sequence number ahead of ours) starts over.
  EXPECT_TRUE(feed.wait(1000000, 0)["reset"].get<bool>());
  fs::remove_all(home);
}
