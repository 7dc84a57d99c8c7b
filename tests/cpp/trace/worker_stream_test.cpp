#include "codedag/trace/worker_stream.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "codedag/common/error.hpp"

using namespace codedag::trace;
namespace fs = std::filesystem;

namespace {
StreamRecord record(int64_t batch, bool final, int64_t calls) {
  StreamRecord r;
  r.worker = 1;
  r.pid = 4242;
  r.epoch = 1;
  r.batch = batch;
  r.final = final;
  ResolvedContext c;
  c.key = "getitem";
  c.qualname = c.name = "m.getitem";
  c.calls = calls;
  r.delta.add(c);
  return r;
}

fs::path temp_file(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("codedag_stream_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path p = dir / name;
  fs::remove(p);
  return p;
}
}  // namespace

TEST(WorkerStream, AppendReadAndMergeSelectedBatches) {
  const fs::path p = temp_file("a.jsonl");
  {
    StreamWriter w(p.string());
    w.write(record(0, false, 2));
    w.write(record(0, true, 1));
    w.write(record(1, true, 5));
  }
  const auto read = read_stream(p.string());
  EXPECT_EQ(read.records.size(), 3u);
  EXPECT_FALSE(read.torn_tail);
  ResolvedTree tree;
  const auto stats = merge_streams(tree, {p.string()}, {{1, 0}, {1, 7}});
  EXPECT_EQ(stats.records, 2);
  EXPECT_EQ(stats.partial_batches, 0);
  EXPECT_EQ(stats.batches_found, 1);  // batch 7 was asked for, and no worker wrote it
  EXPECT_EQ(tree.contexts.at(0).calls, 3);
  EXPECT_EQ(*stats.worker_pids.begin(), 4242);
}

TEST(WorkerStream, TornLastLineIsSkippedPartialBatchReported) {
  const fs::path p = temp_file("b.jsonl");
  {
    StreamWriter w(p.string());
    w.write(record(0, false, 2));
  }
  {
    std::ofstream f(p, std::ios::app);
    f << R"({"schema":"codedag.trace_stream/1","worker":1,"pid)";  // killed mid-write
  }
  ResolvedTree tree;
  const auto stats = merge_streams(tree, {p.string(), temp_file("missing.jsonl").string()}, {{1, 0}});
  EXPECT_EQ(stats.torn_tails, 1);
  EXPECT_EQ(stats.partial_batches, 1);
  EXPECT_EQ(tree.contexts.at(0).calls, 2);
}

TEST(WorkerStream, DamagedMiddleLineIsAFormatErrorWithPosition) {
  const fs::path p = temp_file("c.jsonl");
  {
    std::ofstream f(p);
    f << "not json\n";
  }
  {
    StreamWriter w(p.string());
    w.write(record(0, true, 1));
  }
  try {
    read_stream(p.string());
    FAIL() << "expected FormatError";
  } catch (const codedag::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("c.jsonl:1"), std::string::npos);
  }
}

TEST(WorkerStream, UnwritableStreamIsASystemError) {
  EXPECT_THROW(StreamWriter("/nonexistent-dir/x.jsonl"), codedag::SystemCallError);
}
