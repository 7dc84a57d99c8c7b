#include "codedag/monitor/resource_sampler.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "codedag/common/error.hpp"
#include "codedag/monitor/nvml.hpp"
#include "test_util.hpp"

using namespace codedag::monitor;
using namespace std::chrono;
namespace t = codedag::monitor::testing;

namespace {
SamplerOptions options(double interval, int pid = 0) {
  SamplerOptions o;
  o.interval_s = interval;
  o.pid = pid;
  return o;
}
}  // namespace

TEST(ResourceSampler, RejectsIntervalsBelowTenMilliseconds) {
  EXPECT_THROW(ResourceSampler(options(0.001)), codedag::InputError);
  EXPECT_THROW(ResourceSampler(options(std::nan(""))), codedag::InputError);
  EXPECT_NO_THROW(ResourceSampler(options(0.01)));
  try {
    ResourceSampler s(options(0.005));
  } catch (const codedag::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("0.01"), std::string::npos);
  }
}

TEST(ResourceSampler, HonoursTheInterval) {
  ResourceSampler s(options(0.05));
  s.start();
  std::this_thread::sleep_for(milliseconds(1020));
  s.stop();
  const auto samples = s.samples();
  // 20 scheduled in 1.02 s (+1 at stop); a loaded machine may lose one or two, never gain many.
  EXPECT_GE(samples.size(), 16u);
  EXPECT_LE(samples.size(), 22u);
  for (size_t i = 1; i < samples.size(); ++i) EXPECT_GT(samples[i].timestamp, samples[i - 1].timestamp);
  const double span = samples.back().timestamp - samples.front().timestamp;
  const double mean_gap = span / static_cast<double>(samples.size() - 1);
  EXPECT_NEAR(mean_gap, 0.05, 0.02);
  for (const ResourceSample& x : samples) {
    EXPECT_GE(x.cpu_pct, 0);
    EXPECT_LE(x.cpu_pct, 100.5);
    EXPECT_GT(x.memory_pct, 0);
    EXPECT_LT(x.memory_pct, 100);
    EXPECT_GE(x.processes, 1);
    EXPECT_GT(x.process_memory_mb, 0);
  }
}

TEST(ResourceSampler, StopIsPromptWithALongInterval) {
  ResourceSampler s(options(5.0));
  s.start();
  std::this_thread::sleep_for(milliseconds(50));
  const auto a = steady_clock::now();
  s.stop();
  const double took = duration<double>(steady_clock::now() - a).count();
  EXPECT_LT(took, 0.5);  // well under one 5 s interval
  EXPECT_FALSE(s.running());
  EXPECT_EQ(s.sample_count(), 1u);  // the closing sample (50 ms after start)
}

TEST(ResourceSampler, StartTwiceIsAStateError) {
  ResourceSampler s(options(0.5));
  s.start();
  EXPECT_THROW(s.start(), codedag::StateError);
  EXPECT_THROW(s.set_interval(1.0), codedag::StateError);
  s.stop();
  s.stop();  // no-op
  EXPECT_NO_THROW(s.set_interval(1.0));
}

TEST(ResourceSampler, StartedAndStopped1000TimesWithoutLeaks) {
  const size_t fds_before = t::open_fds(), threads_before = t::threads();
  {
    ResourceSampler s(options(0.01));
    for (int i = 0; i < 1000; ++i) {
      s.start();
      s.stop();
    }
    EXPECT_EQ(t::threads_settled(threads_before), threads_before);
  }
  for (int i = 0; i < 50; ++i) {  // whole samplers created and destroyed too
    ResourceSampler s(options(0.01));
    s.start();
    s.stop();
  }
  EXPECT_EQ(t::open_fds(), fds_before);
  EXPECT_EQ(t::threads_settled(threads_before), threads_before);
}

TEST(ResourceSampler, BusyChildCpuMatchesItsStatFile) {
  t::BusyChild child;
  std::this_thread::sleep_for(milliseconds(100));
  ResourceSampler s(options(0.1, child.pid()));
  const unsigned long long ticks0 = t::process_ticks(child.pid());
  const auto t0 = steady_clock::now();
  s.start();
  std::this_thread::sleep_for(milliseconds(1500));
  s.stop();
  const unsigned long long ticks1 = t::process_ticks(child.pid());
  const double seconds = duration<double>(steady_clock::now() - t0).count();
  const auto samples = s.samples();
  ASSERT_GE(samples.size(), 10u);
  const double capacity = s.describe()["cpu_capacity"].get<double>();
  // Time-weighted mean of the samples (every interval is ~equal) against /proc/<pid>/stat.
  double sum = 0;
  for (const ResourceSample& x : samples) sum += x.process_cpu_pct;
  const double sampled = sum / static_cast<double>(samples.size());
  const double expected =
      static_cast<double>(ticks1 - ticks0) / static_cast<double>(::sysconf(_SC_CLK_TCK)) / (seconds * capacity) * 100.0;
  EXPECT_NEAR(sampled, expected, 5.0) << "capacity " << capacity;
  // The child did run, so the comparison above is not 0 against 0. (Not a percentage floor: on a
  // loaded 2-core machine a busy child can get well under 10 % of the capacity.)
  EXPECT_GE(ticks1 - ticks0, 5u);
}

TEST(ResourceSampler, TreeOfAnExitedProcessReadsZeroProcesses) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ResourceSampler s(options(0.02, pid));
  s.start();
  std::this_thread::sleep_for(milliseconds(60));
  s.stop();
  ASSERT_GE(s.sample_count(), 1u);
  EXPECT_EQ(s.samples().front().processes, 0);
}

TEST(Nvml, AbsentLibraryMeansEmptyGpuSeriesAndAReason) {
  Nvml nvml("libnvidia-ml-does-not-exist.so.1");
  EXPECT_FALSE(nvml.available());
  EXPECT_EQ(nvml.device_count(), 0);
  EXPECT_TRUE(nvml.read().empty());
  EXPECT_NE(nvml.unavailable_reason().find("not found"), std::string::npos);

  SamplerOptions o = options(0.02);
  o.nvml_library = "libnvidia-ml-does-not-exist.so.1";
  ResourceSampler s(o);
  s.start();
  std::this_thread::sleep_for(milliseconds(60));
  s.stop();
  for (const ResourceSample& x : s.samples()) EXPECT_TRUE(x.gpus.empty());
  EXPECT_NE(s.describe()["gpu_note"].get<std::string>().find("not found"), std::string::npos);
}

TEST(Nvml, RealDriverWhenPresent) {
  Nvml nvml;
  if (!nvml.available()) GTEST_SKIP() << "no NVIDIA GPU here: " << nvml.unavailable_reason();
  const auto readings = nvml.read();
  ASSERT_EQ(static_cast<int>(readings.size()), nvml.device_count());
  for (const GpuReading& g : readings) {
    EXPECT_GE(g.utilization_pct, 0);
    EXPECT_LE(g.utilization_pct, 100);
    EXPECT_GT(g.memory_total_mb, 0);
  }
}
