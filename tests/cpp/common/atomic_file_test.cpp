#include "codedag/common/atomic_file.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "codedag/common/error.hpp"

namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const char* name) {
  const fs::path dir =
      fs::temp_directory_path() / (std::string("codedag_test_") + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(AtomicFile, WritesAndReadsBack) {
  const fs::path dir = fresh_dir("rw");
  const std::string path = (dir / "a" / "b" / "file.txt").string();
  codedag::write_file_atomic(path, "hello");
  EXPECT_EQ(codedag::read_file(path), "hello");
  codedag::write_file_atomic(path, "replaced");
  EXPECT_EQ(codedag::read_file(path), "replaced");
  // No temporary file is left behind.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "b")) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
  fs::remove_all(dir);
}

TEST(AtomicFile, MissingFileIsNotFound) {
  EXPECT_THROW(codedag::read_file("/nonexistent/codedag/file"), codedag::NotFoundError);
}

TEST(AtomicFile, UnwritableDirectoryIsSystemCallError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write anywhere";
  EXPECT_THROW(codedag::write_file_atomic("/proc/codedag_cannot_write", "x"), codedag::Error);
}

// A writer killed at any moment leaves the old content or the new one, never a torn file.
TEST(AtomicFile, SigkillMidWriteLeavesOldOrNew) {
  const fs::path dir = fresh_dir("kill");
  const std::string path = (dir / "state.json").string();
  const std::string old_content(1 << 20, 'o');
  const std::string new_content(1 << 20, 'n');
  codedag::write_file_atomic(path, old_content);
  for (int round = 0; round < 20; ++round) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (;;) codedag::write_file_atomic(path, new_content);
    }
    ::usleep(1000 * (1 + round % 5));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    const std::string now = codedag::read_file(path);
    ASSERT_TRUE(now == old_content || now == new_content) << "torn file of " << now.size() << " bytes";
  }
  fs::remove_all(dir);
}

}  // namespace
