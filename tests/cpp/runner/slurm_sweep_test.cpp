#include "codedag/runner/slurm_sweep.hpp"

#include <gtest/gtest.h>

using namespace codedag::runner;

TEST(Slurm, LimitsAreReadFromScontrolShowConfig) {
  const std::string text =
      "Configuration data as of 2026-01-01T00:00:00\n"
      "AccountingStorageType   = (null)\n"
      "MaxArraySize            = 4\n"
      "MaxJobCount             = 10000\n"
      "MaxStepCount            = 40000\n";
  const SlurmLimits l = parse_slurm_config(text);
  EXPECT_EQ(l.max_array_size, 4u);
  EXPECT_EQ(l.max_job_count, 10000u);
  EXPECT_EQ(l.max_submit_jobs, 0u);
  const SlurmLimits defaults = parse_slurm_config("garbage\nMaxArraySize = x\n");
  EXPECT_EQ(defaults.max_array_size, 1001u);
}

TEST(Slurm, ChunksRespectTheArrayIndexCapAndSubmitLimits) {
  std::vector<int> cells(10);
  for (int i = 0; i < 10; ++i) cells[static_cast<size_t>(i)] = i;
  SlurmLimits l;
  l.max_array_size = 4;
  const auto chunks = chunk_cells(cells, l);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0], (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(chunks[2], (std::vector<int>{8, 9}));
  l.max_array_size = 1001;
  l.max_submit_jobs = 3;
  EXPECT_EQ(chunk_cells(cells, l).size(), 4u);
  EXPECT_EQ(chunk_capacity(l), 3u);
  EXPECT_EQ(array_range(4, 0), "0-3");
  EXPECT_EQ(array_range(10, 2), "0-9%2");
}

TEST(Slurm, TaskStatesThatCountAsAlive) {
  for (const char* s : {"PENDING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED", "CONFIGURING"})
    EXPECT_TRUE(slurm_state_alive(s)) << s;
  for (const char* s : {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", ""})
    EXPECT_FALSE(slurm_state_alive(s)) << s;
}
