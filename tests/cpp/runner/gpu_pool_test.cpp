#include "codedag/runner/gpu_pool.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "codedag/common/error.hpp"

using namespace codedag::runner;

TEST(GpuPool, LeasesAreExclusiveUntilReleased) {
  GpuPool pool({"0", "1", "2"});
  const auto a = pool.acquire(2);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (std::vector<std::string>{"0", "1"}));
  EXPECT_FALSE(pool.acquire(2));
  const auto b = pool.acquire(1);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, std::vector<std::string>{"2"});
  EXPECT_EQ(pool.free_count(), 0u);
  pool.release(*a);
  EXPECT_EQ(*pool.acquire(1), std::vector<std::string>{"0"});
  EXPECT_TRUE(pool.acquire(0)->empty());
}

TEST(GpuPool, ReservedDevicesFromBeforeAResumeAreNotLeased) {
  GpuPool pool({"0", "1"});
  pool.reserve({"1", "7"});  // 7 is not in the pool any more
  EXPECT_EQ(pool.free_count(), 1u);
  EXPECT_EQ(*pool.acquire(1), std::vector<std::string>{"0"});
  EXPECT_FALSE(pool.acquire(1));
}

TEST(GpuPool, ListsAreParsedAndCheckedAndDetectionReadsCudaVisibleDevices) {
  EXPECT_EQ(parse_gpu_list("0, 1,GPU-8a2b", "--gpus"), (std::vector<std::string>{"0", "1", "GPU-8a2b"}));
  EXPECT_TRUE(parse_gpu_list("", "--gpus").empty());
  EXPECT_THROW(parse_gpu_list("0,,1", "--gpus"), codedag::InputError);
  EXPECT_THROW(parse_gpu_list("0,0", "--gpus"), codedag::InputError);
  EXPECT_THROW(parse_gpu_list("0;rm", "--gpus"), codedag::InputError);
  const char* old = std::getenv("CUDA_VISIBLE_DEVICES");
  const std::string saved = old ? old : "";
  ::setenv("CUDA_VISIBLE_DEVICES", "3,5", 1);
  EXPECT_EQ(detect_gpus(), (std::vector<std::string>{"3", "5"}));
  ::setenv("CUDA_VISIBLE_DEVICES", "", 1);
  EXPECT_TRUE(detect_gpus().empty());
  if (old)
    ::setenv("CUDA_VISIBLE_DEVICES", saved.c_str(), 1);
  else
    ::unsetenv("CUDA_VISIBLE_DEVICES");
  EXPECT_EQ(join_devices({"0", "2"}), "0,2");
}
