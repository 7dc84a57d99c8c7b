#include "codedag/monitor/procfs.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "codedag/monitor/proc_file.hpp"

using namespace codedag::monitor;

TEST(ProcFile, ParsesNumbersAndCpuLists) {
  unsigned long long v = 0;
  EXPECT_TRUE(parse_u64("  42\n", v));
  EXPECT_EQ(v, 42u);
  EXPECT_FALSE(parse_u64("max", v));
  EXPECT_EQ(count_cpu_list("0-3,8,10-11\n"), 7);
  EXPECT_EQ(count_cpu_list("0"), 1);
  EXPECT_EQ(count_cpu_list(""), 0);
  EXPECT_EQ(count_cpu_list("3-1"), 0);
  EXPECT_TRUE(find_keyed_number("MemTotal:  100 kB\nMemAvailable:   60 kB\n", "MemAvailable", v));
  EXPECT_EQ(v, 60u);
  EXPECT_TRUE(find_spaced_number("nr_periods 5\nnr_throttled 3\nthrottled_usec 9\n", "nr_throttled", v));
  EXPECT_EQ(v, 3u);
  EXPECT_FALSE(find_spaced_number("nr_throttled_x 3\n", "nr_throttled", v));
}

TEST(ProcFile, MissingFileReadsEmptyAndNotOk) {
  ProcFile f("/proc/definitely/not/here");
  EXPECT_TRUE(f.read().empty());
  EXPECT_FALSE(f.ok());
  EXPECT_FALSE(f.is_open());
}

TEST(ProcFile, RereadsAnOpenDescriptor) {
  ProcFile f("/proc/self/stat");
  const std::string first(f.read());
  EXPECT_TRUE(f.ok());
  EXPECT_TRUE(f.is_open());
  const std::string second(f.read());
  EXPECT_FALSE(second.empty());
  EXPECT_EQ(first.substr(0, first.find(' ')), std::to_string(::getpid()));
}

TEST(ProcFile, ReadsFilesLargerThanItsFirstBuffer) {
  ProcFile f("/proc/self/maps");  // often above 4 KiB with Python/torch loaded; at least it must be whole
  const std::string a(f.read());
  EXPECT_TRUE(f.ok());
  EXPECT_EQ(a.back(), '\n');
}

TEST(Procfs, ProcessStatWithParenthesesAndSpacesInTheName) {
  const char* text =
      "4242 (my (weird) name) R 17 4242 17 0 -1 4194304 100 0 0 0 250 75 3 1 20 0 9 0 123456 3133440 2048 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  ProcessStat st;
  ASSERT_TRUE(parse_process_stat(text, st));
  EXPECT_EQ(st.pid, 4242);
  EXPECT_EQ(st.state, 'R');
  EXPECT_EQ(st.ppid, 17);
  EXPECT_EQ(st.utime, 250u);
  EXPECT_EQ(st.stime, 75u);
  EXPECT_EQ(st.num_threads, 9);
  EXPECT_EQ(st.starttime, 123456u);
  EXPECT_EQ(st.rss_pages, 2048);
  EXPECT_FALSE(parse_process_stat("garbage", st));
  EXPECT_FALSE(parse_process_stat("12 (x) R 1 2", st));  // truncated
}

TEST(Procfs, SystemCpuAndMemory) {
  SystemCpuTimes t;
  ASSERT_TRUE(parse_system_cpu("cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 1 2 3 4\n", t));
  EXPECT_EQ(t.total, 990u);
  EXPECT_EQ(t.busy, 170u);  // everything but idle (800) and iowait (20)
  EXPECT_FALSE(parse_system_cpu("intr 1 2 3\n", t));
  SystemMemory m;
  ASSERT_TRUE(parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\n", m));
  EXPECT_EQ(m.total_bytes, 1024000u);
  EXPECT_EQ(m.available_bytes, 409600u);
  // Kernels before 3.14 have no MemAvailable: free + buffers + cached.
  ASSERT_TRUE(parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 150 kB\n", m));
  EXPECT_EQ(m.available_bytes, 300u * 1024);
  EXPECT_FALSE(parse_meminfo("nonsense", m));
}

TEST(Procfs, RealFilesOfThisMachine) {
  ProcFile stat("/proc/stat"), meminfo("/proc/meminfo"), self("/proc/self/stat");
  SystemCpuTimes t;
  SystemMemory m;
  ProcessStat st;
  EXPECT_TRUE(parse_system_cpu(stat.read(), t));
  EXPECT_GT(t.total, t.busy);
  EXPECT_TRUE(parse_meminfo(meminfo.read(), m));
  EXPECT_GT(m.total_bytes, m.available_bytes / 2);
  ASSERT_TRUE(parse_process_stat(self.read(), st));
  EXPECT_EQ(st.pid, ::getpid());
  EXPECT_GT(st.rss_pages, 0);
}
