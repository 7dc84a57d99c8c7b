// Where the index lives (index_location.hpp): decided from statfs magic numbers and write access.
#include "codedag/store/index_location.hpp"

#include <gtest/gtest.h>
#include <linux/magic.h>

using namespace codedag::store;

TEST(IndexLocation, NetworkFileSystemsByMagicNumber) {
  EXPECT_TRUE(is_network_filesystem(NFS_SUPER_MAGIC));
  EXPECT_TRUE(is_network_filesystem(0x0BD00BD0));                     // Lustre
  EXPECT_TRUE(is_network_filesystem(0x47504653));                     // GPFS
  EXPECT_TRUE(is_network_filesystem(static_cast<long>(0xFF534D42)));  // CIFS
  EXPECT_TRUE(is_network_filesystem(0x00C36400));                     // CephFS
  EXPECT_FALSE(is_network_filesystem(EXT4_SUPER_MAGIC));
  EXPECT_FALSE(is_network_filesystem(TMPFS_MAGIC));
  EXPECT_FALSE(is_network_filesystem(0x58465342));  // XFS
  EXPECT_EQ(filesystem_name(0x0BD00BD0), "lustre");
  EXPECT_EQ(filesystem_name(EXT4_SUPER_MAGIC), "ext4");
}

TEST(IndexLocation, Decisions) {
  const Layout layout("/home/u/.codedag");
  PlacementFacts local;
  local.home_fs_type = EXT4_SUPER_MAGIC;
  local.cache_dir = "/home/u/.cache/codedag";
  local.cache_fs_type = EXT4_SUPER_MAGIC;
  IndexPlacement p = choose_index_placement(layout, local);
  EXPECT_EQ(p.path, "/home/u/.codedag/index.sqlite");
  EXPECT_TRUE(p.wal);
  EXPECT_TRUE(p.why.empty());

  PlacementFacts nfs = local;
  nfs.home_fs_type = NFS_SUPER_MAGIC;
  nfs.cache_dir = "/scratch/u/cache/codedag";
  p = choose_index_placement(layout, nfs);
  EXPECT_EQ(p.path.rfind("/scratch/u/cache/codedag/index-", 0), 0u) << p.path;
  EXPECT_TRUE(p.wal);
  EXPECT_NE(p.why.find("nfs"), std::string::npos) << p.why;

  // The cache is on the network too (a cluster home for both): rollback journal and a lock file.
  nfs.cache_fs_type = 0x0BD00BD0;
  p = choose_index_placement(layout, nfs);
  EXPECT_EQ(p.path, "/home/u/.codedag/index.sqlite");
  EXPECT_FALSE(p.wal);
  EXPECT_EQ(p.lock_path, "/home/u/.codedag/index.lock");

  PlacementFacts read_only = local;
  read_only.home_writable = false;
  p = choose_index_placement(layout, read_only);
  EXPECT_EQ(p.path.rfind("/home/u/.cache/codedag/index-", 0), 0u) << p.path;
  EXPECT_NE(p.why.find("read-only"), std::string::npos);

  read_only.cache_usable = false;
  EXPECT_EQ(choose_index_placement(layout, read_only).path, ":memory:");

  // One cache file per store, the same for every process.
  const Layout other("/data/other");
  EXPECT_NE(cached_index_path(layout, "/c"), cached_index_path(other, "/c"));
  EXPECT_EQ(cached_index_path(layout, "/c"), cached_index_path(Layout("/home/u/.codedag/"), "/c"));
}
