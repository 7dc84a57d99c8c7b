#include "codedag/monitor/process_tree.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "test_util.hpp"

using namespace codedag::monitor;
using codedag::monitor::testing::BusyChild;

TEST(ProcessTree, FindsForkedChildrenAndTheirCpu) {
  ProcessTree tree("/proc", ::getpid());
  const TreeReading before = tree.read();
  EXPECT_GE(before.processes, 1);
  EXPECT_GT(before.rss_bytes, 0u);
  BusyChild child;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const TreeReading after = tree.read();
  EXPECT_EQ(after.processes, before.processes + 1);
  EXPECT_NE(std::find(tree.members().begin(), tree.members().end(), child.pid()), tree.members().end());
  EXPECT_GT(after.cpu_ticks, before.cpu_ticks);  // the new child's time counts
}

TEST(ProcessTree, CpuTimeNeverGoesBackWhenAChildExits) {
  ProcessTree tree("/proc", ::getpid());
  tree.read();
  unsigned long long with_child = 0;
  {
    BusyChild child;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    with_child = tree.read().cpu_ticks;
  }
  const TreeReading after = tree.read();
  EXPECT_GE(after.cpu_ticks, with_child);
  EXPECT_EQ(std::find(tree.members().begin(), tree.members().end(), 0), tree.members().end());
}

TEST(ProcessTree, GoneRootReadsAsNoProcesses) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ProcessTree tree("/proc", pid);
  EXPECT_EQ(tree.read().processes, 0);
  EXPECT_EQ(tree.open_files(), 0u);
}
