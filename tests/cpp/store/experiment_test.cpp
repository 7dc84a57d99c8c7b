// A training process never dies of bookkeeping and grows no resources per run (experiment.hpp,
// metric_log.hpp). Full disks are real: /dev/full, and a small tmpfs in a private mount namespace.
#include "codedag/store/experiment.hpp"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cmath>

#include "codedag/common/error.hpp"
#include "codedag/store/metric_log.hpp"
#include "codedag/store/run_file.hpp"
#include "store_test_util.hpp"

using namespace codedag;
using namespace codedag::store;
namespace fs = std::filesystem;

// A full disk made log_metric raise "No space left on device" into the training loop.
TEST(MetricLog, FullDiskKeepsLinesInMemoryAndReports) {
  MetricLog log("/dev/full");  // every write: ENOSPC, from the kernel
  for (int i = 0; i < 1000; ++i) log.log("loss", 1.0 / (i + 1), std::nullopt, 1.0);
  EXPECT_FALSE(log.flush());
  EXPECT_FALSE(log.flush());
  const MetricLog::Health h = log.health();
  EXPECT_NE(h.error.find("No space left"), std::string::npos) << h.error;
  EXPECT_EQ(h.failed_flushes, 2u);
  EXPECT_GT(h.pending_bytes, 30000u);
  EXPECT_EQ(log.last()["loss"]["step"], 999);
}

TEST(MetricLog, UnreadableLinesAreBoundedAndNamed) {
  const std::string home = fresh_home("metric_lines");
  const std::string path = home + "/metrics.jsonl";
  std::string text = "{\"key\":\"a\",\"value\":1}\n";
  text += "{\"key\":\"a\",\"value\":" + std::string(20000, '[') + "}\n";  // nested: refused, not recursed
  text += "{\"key\":\"a\",\"value\":\"\xff\"}\n";                         // not UTF-8
  text += "{\"key\":\"a\",\"value\":1" + std::string(400, '0') + "}\n";   // out of range
  text += std::string(kMaxMetricLineBytes + 10, 'x') + "\n";              // too long
  for (int i = 0; i < 50; ++i) text += "junk\n";
  text += "{\"key\":\"a\",\"step\":7,\"value\":2}\n";
  write_text(path, text);
  std::vector<std::string> warnings;
  const MetricSeries m = read_metric_series(path, warnings);
  EXPECT_EQ(m.lines, 2u);
  EXPECT_EQ(m.last["a"]["step"], 7);
  EXPECT_EQ(warnings.size(), 21u);  // 20 named, then a count
  EXPECT_NE(warnings[0].find("metrics.jsonl:2:"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings.back().find("more bad lines"), std::string::npos);
}

TEST(Experiment, FullDiskNeverInterruptsTrainingAndIsWrittenLater) {
  const std::string base = fresh_home("enospc");
  const int rc = in_private_mounts([&]() -> int {
    const std::string home = base + "/small";
    fs::create_directories(home);
    if (::mount("tmpfs", home.c_str(), "tmpfs", 0, "size=512k") != 0) return 125;
    Experiment e("full", home);
    StartOptions o = quiet();
    o.heartbeat = true;
    o.flush_interval = 0.01;
    e.start(o);
    // Fill the file system to the last block.
    {
      std::ofstream filler(home + "/filler", std::ios::binary);
      const std::string block(4096, 'f');
      while (filler.write(block.data(), block.size())) {
      }
    }
    for (int i = 0; i < 2000; ++i) e.log_metric("loss", i, i);
    e.dump_info("params", json{{"lr", 0.1}, {"note", std::string(20000, 'n')}});  // needs space
    const json best = e.dump_metric("acc", 0.9, "max", json::object());
    if (best["value"] != 0.9) return 10;
    e.flush_metrics();
    const WriteProblems during = e.write_problems();
    if (during.empty() || during.record_changes_pending == 0) return 11;
    if (during.error.find("No space left") == std::string::npos) return 12;
    // Space comes back: the next change writes what waited.
    fs::remove(home + "/filler");
    e.add_tag("recovered");
    e.end("finished");
    const WriteProblems after = e.write_problems();
    if (after.record_changes_pending != 0 || after.metric_bytes_pending != 0) return 13;
    const json r = load_run(e.info_dir());
    if (r["status"] != "finished" || r["info"]["params"]["lr"] != 0.1 || r["metrics"]["acc"]["value"] != 0.9) return 14;
    std::vector<std::string> warnings;
    if (read_metric_series(e.info_dir() + "/metrics.jsonl", warnings).lines != 2000) return 15;
    return 0;
  });
  if (rc == -1) GTEST_SKIP() << "cannot mount a small tmpfs here (not root, no user namespaces)";
  EXPECT_EQ(rc, 0);
}

// Every Experiment opened its own SQLite connection and never closed it: 2 fds leaked per run.
namespace {

// 0 when 1000 runs (each with its heartbeat thread, metric log, record writes) left no descriptor,
// thread or index connection behind.
int thousand_runs(const std::string& home) {
  const auto one_run = [&](int i) {
    Experiment e("many", home);
    StartOptions o = quiet();
    o.heartbeat = true;
    e.start(o);
    e.dump_info("i", i);
    e.log_metric("loss", i, 0);
    e.end("finished");
  };
  for (int i = 0; i < 5; ++i) one_run(i);  // warm up: lazily opened libraries, caches
  const int fds = open_fd_count(), threads = thread_count();
  for (int i = 0; i < 1000; ++i) one_run(i);
  if (open_fd_count() != fds) return 10;
  if (thread_count() != threads) return 11;
  Store s(home);
  if (s.list({}).size() != 1005u) return 12;
  return 0;
}

}  // namespace

TEST(Experiment, AThousandRunsInOneProcessGrowNothing) {
  const std::string home = fresh_home("thousand");
  // On a tmpfs (fsync is free there) when this machine allows a private mount: the test is about
  // what a run leaves behind, not about the disk.
  int rc = in_private_mounts([&]() -> int {
    if (::mount("tmpfs", home.c_str(), "tmpfs", 0, "size=64m") != 0) return 125;
    return thousand_runs(home);
  });
  if (rc == -1) rc = thousand_runs(home);
  EXPECT_EQ(rc, 0) << "10: descriptors grew, 11: threads grew, 12: runs missing";
}

TEST(Experiment, ViewsOfRecordedRuns) {
  const std::string home = fresh_home("views");
  Experiment e("v", home);
  e.start(quiet());
  e.dump_info("k", 1);
  e.end("finished");
  auto view = Experiment::open_existing(e.test_name(), home);
  EXPECT_TRUE(view->is_view());
  EXPECT_FALSE(view->running());
  EXPECT_EQ(view->info_dir(), e.info_dir());
  EXPECT_EQ(view->heartbeat_file(), e.info_dir() + "/heartbeat.json");
  EXPECT_EQ(view->record()["info"]["k"], 1);
  EXPECT_THROW(view->dump_info("x", 1), StateError);
  view->add_tag("later");
  EXPECT_EQ(load_run(e.info_dir())["tags"][0], "later");
}

TEST(Experiment, KeysWithNulAreRefused) {
  const std::string home = fresh_home("nul");
  Experiment e("n", home);
  e.start(quiet());
  EXPECT_THROW(e.dump_info(std::string("a\0b", 3), 1), InputError);
  EXPECT_THROW(e.log_metric(std::string("a\0b", 3), 1, 0), InputError);
  EXPECT_THROW(e.add_tag(std::string("t\0", 2)), InputError);
  e.end("finished");
}
