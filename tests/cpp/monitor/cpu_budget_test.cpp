// The CPUs a job may use, from the copied cgroup trees of cgroup_test.cpp and this machine.
#include "codedag/monitor/cpu_budget.hpp"

#include <gtest/gtest.h>
#include <sched.h>

using namespace codedag::monitor;

namespace {
std::string fixture(const char* name) { return std::string(CODEDAG_TEST_DATA) + "/cgroup/" + name; }
}  // namespace

TEST(CpuBudget, QuotaTighterThanAffinityWins) {
  // v2: cpu.max 150000/100000 on an 8-CPU mask.
  const CpuBudget b = available_cpus(fixture("v2"));
  EXPECT_DOUBLE_EQ(b.cores, 1.5);
  EXPECT_DOUBLE_EQ(b.quota_cpus, 1.5);
  EXPECT_EQ(b.affinity_cpus, 8);
  EXPECT_EQ(b.limited_by, "cgroup quota");
}

TEST(CpuBudget, NoQuotaMeansTheAffinityMask) {
  const CpuBudget b = available_cpus(fixture("hybrid"));
  EXPECT_DOUBLE_EQ(b.cores, 2.0);
  EXPECT_EQ(b.limited_by, "affinity mask");
  EXPECT_EQ(b.to_json()["cores"], 2.0);
}

TEST(CpuBudget, NothingReadableIsOneCpuAndSaysSo) {
  const CpuBudget b = available_cpus(::testing::TempDir() + "/no_such_root");
  EXPECT_DOUBLE_EQ(b.cores, 1.0);
  EXPECT_EQ(b.limited_by, "unknown (1 CPU assumed)");
}

TEST(CpuBudget, ThisMachineAgreesWithSchedGetaffinity) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  const CpuBudget b = available_cpus("/");
  EXPECT_EQ(b.affinity_cpus, CPU_COUNT(&set));
  EXPECT_LE(b.cores, static_cast<double>(CPU_COUNT(&set)));
  EXPECT_GT(b.cores, 0);
}
