// cgroup layouts from copied file trees (tests/data/cgroup/{v1,v2,hybrid}: real files of a Docker
// host on v1, a systemd host on v2, and this build machine's own hybrid layout) and from the
// real /proc of the machine running the tests.
#include "codedag/monitor/cgroup.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>

using namespace codedag::monitor;

namespace {
std::string fixture(const char* name) { return std::string(CODEDAG_TEST_DATA) + "/cgroup/" + name; }
bool has_evidence(const ContainerEvidence& c, const std::string& prefix) {
  return std::any_of(c.evidence.begin(), c.evidence.end(),
                     [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
}
}  // namespace

TEST(Cgroup, V2LayoutLimitsFromLeafAndAncestors) {
  const std::string root = fixture("v2");
  CgroupReader r(root);
  const CgroupLayout& l = r.layout();
  EXPECT_EQ(l.version, CgroupVersion::v2);
  const std::string leaf = root + "/sys/fs/cgroup/system.slice/docker-4f3c9a1e.scope";
  EXPECT_EQ(l.cpu_dir, leaf);
  EXPECT_EQ(l.memory_dir, leaf);
  EXPECT_TRUE(l.cpu_v2 && l.memory_v2 && l.cpuacct_v2);
  // cpu.max "150000 100000" on the leaf; memory.max "max" on the leaf but 1 GiB on system.slice.
  EXPECT_DOUBLE_EQ(r.limits().cpu_quota_cpus, 1.5);
  EXPECT_EQ(r.limits().memory_limit_bytes, 1073741824);
  EXPECT_EQ(r.limits().affinity_cpus, 8);
  EXPECT_DOUBLE_EQ(r.limits().cpu_capacity(), 1.5);
  const CgroupReading c = r.read();
  ASSERT_TRUE(c.has_cpu_usage);
  EXPECT_EQ(c.cpu_usage_ns, 84123456000ull);
  ASSERT_TRUE(c.has_throttling);
  EXPECT_EQ(c.nr_throttled, 311u);
  EXPECT_EQ(c.throttled_ns, 5123456000ull);
  ASSERT_TRUE(c.has_memory);
  EXPECT_EQ(c.memory_usage_bytes, 734003200u);
  EXPECT_EQ(c.working_set_bytes(), 734003200u - 209715200u);
  EXPECT_TRUE(has_evidence(r.container(), "cgroup path /system.slice/docker-"));
  EXPECT_FALSE(has_evidence(r.container(), "/.dockerenv"));
}

TEST(Cgroup, V1DockerWithoutCgroupNamespace) {
  const std::string root = fixture("v1");
  CgroupReader r(root);
  const CgroupLayout& l = r.layout();
  EXPECT_EQ(l.version, CgroupVersion::v1);
  // /proc/self/cgroup says /docker/<id> but that subtree is what is mounted: the mount point itself.
  EXPECT_EQ(l.cpu_dir, root + "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l.cpuacct_dir, root + "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l.memory_dir, root + "/sys/fs/cgroup/memory");
  EXPECT_FALSE(l.cpu_v2 || l.memory_v2);
  EXPECT_DOUBLE_EQ(r.limits().cpu_quota_cpus, 2.0);
  EXPECT_EQ(r.limits().memory_limit_bytes, 536870912);
  EXPECT_EQ(r.limits().affinity_cpus, 4);
  EXPECT_DOUBLE_EQ(r.limits().cpu_capacity(), 2.0);
  const CgroupReading c = r.read();
  EXPECT_EQ(c.cpu_usage_ns, 987654321000ull);
  EXPECT_EQ(c.nr_throttled, 42u);
  EXPECT_EQ(c.throttled_ns, 2871234567ull);
  EXPECT_EQ(c.working_set_bytes(), 314572800u - 104857600u);  // usage − total_inactive_file
  EXPECT_TRUE(r.container().detected);
  EXPECT_TRUE(has_evidence(r.container(), "/.dockerenv exists"));
  EXPECT_TRUE(has_evidence(r.container(), "cgroup path /docker/9d2f7c41b8e0"));
  EXPECT_TRUE(has_evidence(r.container(), "root filesystem is overlay"));
}

TEST(Cgroup, HybridLayoutCopiedFromTheBuildMachine) {
  const std::string root = fixture("hybrid");
  CgroupReader r(root);
  const CgroupLayout& l = r.layout();
  EXPECT_EQ(l.version, CgroupVersion::hybrid);
  // v1 controllers win over the empty unified mount.
  EXPECT_EQ(l.cpu_dir, root + "/sys/fs/cgroup/cpu");
  EXPECT_EQ(l.cpuacct_dir, root + "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(l.memory_dir.rfind(root + "/sys/fs/cgroup/memory/process_api/", 0), 0u) << l.memory_dir;
  EXPECT_FALSE(l.cpu_v2);
  // cfs_quota_us -1 and a page-rounded LLONG_MAX memory limit: no limits.
  EXPECT_EQ(r.limits().cpu_quota_cpus, 0);
  EXPECT_EQ(r.limits().memory_limit_bytes, 0);
  EXPECT_EQ(r.limits().affinity_cpus, 2);
  EXPECT_DOUBLE_EQ(r.limits().cpu_capacity(), 2.0);
  const CgroupReading c = r.read();
  EXPECT_TRUE(c.has_cpu_usage);
  EXPECT_TRUE(c.has_throttling);
  EXPECT_TRUE(c.has_memory);
  EXPECT_GT(c.memory_usage_bytes, c.working_set_bytes());
}

TEST(Cgroup, EmptyRootMeansNoCgroupAndNoCrash) {
  const std::string root = ::testing::TempDir() + "/no_cgroup_root";
  CgroupReader r(root);
  EXPECT_EQ(r.layout().version, CgroupVersion::none);
  EXPECT_EQ(r.limits().cpu_quota_cpus, 0);
  EXPECT_DOUBLE_EQ(r.limits().cpu_capacity(), 1.0);
  const CgroupReading c = r.read();
  EXPECT_FALSE(c.has_cpu_usage || c.has_memory || c.has_throttling);
}

TEST(Cgroup, RealProcOfThisMachine) {
  CgroupReader r("/");
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(r.limits().affinity_cpus, CPU_COUNT(&set));  // status file and syscall agree
  EXPECT_GT(r.limits().cpu_capacity(), 0);
  if (r.layout().version == CgroupVersion::none) GTEST_SKIP() << "no cgroup file system mounted here";
  EXPECT_FALSE(r.layout().cpuacct_dir.empty());
  const CgroupReading a = r.read();
  EXPECT_TRUE(a.has_cpu_usage);
  volatile double x = 0;
  for (int i = 0; i < 20000000; ++i) x = x + i * 0.5;
  const CgroupReading b = r.read();
  EXPECT_GE(b.cpu_usage_ns, a.cpu_usage_ns);
}

TEST(Cgroup, MountinfoEscapes) {
  EXPECT_EQ(unescape_mount_path("/mnt/with\\040space"), "/mnt/with space");
  EXPECT_EQ(unescape_mount_path("/plain"), "/plain");
  EXPECT_EQ(unescape_mount_path("/trailing\\04"), "/trailing\\04");
}
