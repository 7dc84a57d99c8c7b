// Walking the store without following links out of it (safe_fs.hpp).
#include "codedag/store/safe_fs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "codedag/common/error.hpp"
#include "store_test_util.hpp"

using namespace codedag;
using namespace codedag::store;
namespace fs = std::filesystem;

TEST(SafeFs, OpenDirUnderRefusesSymlinkedComponents) {
  const std::string home = fresh_home("safefs_open");
  const std::string outside = home + "/outside";
  fs::create_directories(outside);
  fs::create_directories(home + "/root/real");
  fs::create_directory_symlink(outside, home + "/root/link");
  EXPECT_TRUE(open_dir_under(home + "/root", {"real"}));
  EXPECT_FALSE(open_dir_under(home + "/root", {"absent"}));
  EXPECT_THROW(open_dir_under(home + "/root", {"link"}), SystemCallError);
  EXPECT_THROW(open_dir_under(home + "/root", {".."}), InputError);
  EXPECT_TRUE(open_dir_under(home + "/root", {"made", "deeper"}, true));
  EXPECT_TRUE(fs::is_directory(home + "/root/made/deeper"));
}

TEST(SafeFs, RemoveTreeNeverFollowsLinks) {
  const std::string home = fresh_home("safefs_rm");
  write_text(home + "/precious/file", "keep me");
  write_text(home + "/root/run/a/b", "x");
  fs::create_directory_symlink(home + "/precious", home + "/root/run/link_to_dir");
  fs::create_symlink(home + "/precious/file", home + "/root/run/a/link_to_file");
  DirFd root = open_dir_under(home + "/root", {});
  EXPECT_TRUE(remove_tree_at(root.get(), "run", home + "/root/run"));
  EXPECT_FALSE(fs::exists(home + "/root/run"));
  EXPECT_EQ(read_text(home + "/precious/file"), "keep me");
  EXPECT_FALSE(remove_tree_at(root.get(), "run", home + "/root/run"));
}

TEST(SafeFs, CreateNewFileNeverReplacesOrEscapes) {
  const std::string home = fresh_home("safefs_create");
  fs::create_directories(home + "/stage");
  fs::create_directory_symlink("/tmp", home + "/stage/escape");
  DirFd stage = open_dir_under(home + "/stage", {});
  const int fd = create_new_file_at(stage.get(), "sub/dir/f.txt", home + "/stage");
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "hi", 2), 2);
  ::close(fd);
  EXPECT_EQ(read_text(home + "/stage/sub/dir/f.txt"), "hi");
  EXPECT_THROW(create_new_file_at(stage.get(), "sub/dir/f.txt", home + "/stage"), SystemCallError);  // exists
  EXPECT_THROW(create_new_file_at(stage.get(), "escape/x", home + "/stage"), SystemCallError);       // a link
  EXPECT_THROW(create_new_file_at(stage.get(), "../x", home + "/stage"), InputError);
}

// `backup` of a run with a symlinked file wrote a `blob/../..` member that restore rejected.
TEST(SafeFs, RunFilesStoreLinksInsideTheRunAsTheirTargetAndRefuseOthers) {
  const std::string home = fresh_home("safefs_walk");
  const std::string info = home + "/info/m/run", blob = home + "/blob/m/run";
  write_text(info + "/run.json", "{}");
  write_text(blob + "/weights/best.pt", "BEST");
  fs::create_symlink("weights/best.pt", blob + "/latest.pt");     // relative, inside
  fs::create_symlink(info + "/run.json", blob + "/record.json");  // absolute, into the other directory
  std::map<std::string, std::string> seen;
  for_each_run_file(blob, {info}, nullptr, [&](const std::string& rel, int fd, uint64_t size) {
    std::string data(size, '\0');
    EXPECT_EQ(::read(fd, data.data(), size), static_cast<ssize_t>(size));
    seen[rel] = data;
  });
  EXPECT_EQ(seen["latest.pt"], "BEST");
  EXPECT_EQ(seen["record.json"], "{}");
  EXPECT_EQ(seen["weights/best.pt"], "BEST");
  write_text(home + "/secret", "s");
  fs::create_symlink(home + "/secret", blob + "/leak");
  try {
    for_each_run_file(blob, {info}, nullptr, [](const std::string&, int, uint64_t) {});
    FAIL() << "a link out of the run was followed";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("outside the run"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("leak"), std::string::npos) << e.what();
  }
  fs::remove(blob + "/leak");
  fs::create_symlink("../../../../secret", blob + "/climb");
  EXPECT_THROW(for_each_run_file(blob, {info}, nullptr, [](const std::string&, int, uint64_t) {}), InputError);
  fs::remove(blob + "/climb");
  fs::create_symlink("nowhere", blob + "/dangling");
  EXPECT_THROW(for_each_run_file(blob, {info}, nullptr, [](const std::string&, int, uint64_t) {}), InputError);
  fs::remove(blob + "/dangling");
  ASSERT_EQ(::mkfifo((blob + "/pipe").c_str(), 0600), 0);
  EXPECT_THROW(for_each_run_file(blob, {info}, nullptr, [](const std::string&, int, uint64_t) {}), InputError);
}
