// Backups and restores that trust nothing in the archive (archive.hpp).
#include "codedag/store/archive.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/sha256.hpp"
#include "codedag/store/run_file.hpp"
#include "store_test_util.hpp"

using namespace codedag;
using namespace codedag::store;
namespace fs = std::filesystem;

namespace {

// A hand-made ustar archive, to plant what codedag would never write.
struct Member {
  std::string path;
  std::string data;
  char type = '0';
};

std::string tar_of(const std::vector<Member>& members) {
  std::string out;
  for (const auto& m : members) {
    char h[512];
    std::memset(h, 0, sizeof h);
    std::memcpy(h, m.path.data(), std::min<size_t>(m.path.size(), 100));
    std::snprintf(h + 100, 8, "%07o", 0644);
    std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(m.data.size()));
    h[156] = m.type;
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    out.append(h, 512);
    out += m.data;
    out.append((512 - m.data.size() % 512) % 512, '\0');
  }
  out.append(1024, '\0');
  return out;
}

std::string manifest_of(const std::string& name, const std::string& test_name, const std::vector<Member>& members) {
  json list = json::array();
  for (const auto& m : members)
    list.push_back(json{{"path", m.path}, {"bytes", m.data.size()}, {"sha256", sha256_hex(m.data)}});
  return json{{"schema", kBackupSchema}, {"name", name}, {"test_name", test_name}, {"members", list}}.dump();
}

const std::string kId = "230306.012.d5t";

std::string record(const std::string& name = "m", const std::string& extra = "") {
  return R"({"schema": "codedag.run/1", "name": ")" + name + R"(", "test_name": ")" + kId +
         R"(", "status": "finished")" + extra + "}";
}

std::string restore_error(const std::string& home, const std::vector<Member>& members, const std::string& manifest) {
  std::vector<Member> all = members;
  all.push_back({kBackupManifest, manifest});
  const std::string path = home + "/planted.codedag.tar";
  write_text(path, tar_of(all));
  Store s(home + "/store");
  std::vector<std::string> notes;
  try {
    restore_run(s, path, notes);
  } catch (const Error& e) {
    // Whatever failed, nothing is left behind that would block a retry.
    EXPECT_FALSE(fs::exists(home + "/store/info/m/" + kId)) << e.what();
    for (const char* root : {"/store/info", "/store/blob"})
      if (fs::exists(home + root))
        for (const auto& entry : fs::directory_iterator(home + root))
          EXPECT_NE(entry.path().filename().string().rfind(".restore.", 0), 0u) << entry.path();
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Archive, BackupRestoresIntoAnotherStoreButNeverOverwrites) {
  const std::string home = fresh_home("backup_a"), other = fresh_home("backup_b");
  Experiment e("b", home);
  e.start(quiet());
  e.dump_info("k", "v");
  e.log_metric("loss", 0.5, 0);
  write_text(e.blob_dir() + "/weights/model.bin", std::string(300000, 'w'));
  fs::create_symlink("weights/model.bin", e.blob_dir() + "/latest.bin");  // stored as its target
  e.end("finished");
  Store a(home), b(other);
  const std::string archive = backup_run(a, e.test_name(), other + "/backups");
  EXPECT_EQ(check_archive(read_text(archive), archive).test_name, e.test_name());
  std::vector<std::string> notes;
  EXPECT_EQ(restore_run(b, archive, notes), e.test_name());
  const std::string blob = b.layout().blob_dir("b", e.test_name());
  EXPECT_EQ(read_text(blob + "/weights/model.bin").size(), 300000u);
  EXPECT_EQ(read_text(blob + "/latest.bin").size(), 300000u);
  EXPECT_FALSE(fs::is_symlink(blob + "/latest.bin"));
  EXPECT_EQ(load_run(b.layout().info_dir("b", e.test_name()))["info"]["k"], "v");
  EXPECT_EQ(b.list({}).size(), 1u);
  EXPECT_THROW(restore_run(b, archive, notes), StateError);
}

TEST(Archive, BackupRefusesALinkOutOfTheRun) {
  const std::string home = fresh_home("backup_link");
  Experiment e("b", home);
  e.start(quiet());
  write_text(home + "/secret.txt", "s");
  fs::create_symlink(home + "/secret.txt", e.blob_dir() + "/leak");
  e.end("finished");
  Store s(home);
  try {
    backup_run(s, e.test_name(), home + "/out");
    FAIL();
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("outside the run"), std::string::npos) << err.what();
  }
  EXPECT_FALSE(fs::exists(home + "/out/b." + e.test_name() + ".codedag.tar"));
}

TEST(Archive, RestoreChecksMembersAgainstTheManifest) {
  const std::string home = fresh_home("restore_checks");
  const std::vector<Member> good = {{"info/run.json", record()}, {"blob/model.pt", "weights"}};
  EXPECT_EQ(restore_error(home, good, manifest_of("m", kId, good)), "");
  fs::remove_all(home + "/store");

  // run.json names another run than the manifest.
  const std::vector<Member> other = {{"info/run.json", record("n")}};
  EXPECT_NE(restore_error(home, other, manifest_of("m", kId, other)).find("belongs to m/" + kId), std::string::npos);
  // A member the manifest does not list.
  std::vector<Member> extra = good;
  extra.push_back({"info/extra.txt", "x"});
  EXPECT_NE(restore_error(home, extra, manifest_of("m", kId, good)).find("not listed"), std::string::npos);
  // A member altered after the manifest was written.
  std::vector<Member> altered = good;
  altered[1].data = "WEIGHTS";
  EXPECT_NE(restore_error(home, altered, manifest_of("m", kId, good)).find("differs from the manifest"),
            std::string::npos);
  // Listed but missing.
  EXPECT_NE(restore_error(home, {good[0]}, manifest_of("m", kId, good)).find("lacks it"), std::string::npos);
  // A manifest naming ../../x.
  EXPECT_NE(restore_error(home, good, manifest_of("../../x", kId, good)).find("/name"), std::string::npos);
  // No member list (what older archives lacked).
  EXPECT_NE(restore_error(home, good, json{{"schema", kBackupSchema}, {"name", "m"}, {"test_name", kId}}.dump())
                .find("/members"),
            std::string::npos);
  // A planted snapshot ref in the record.
  const std::vector<Member> planted = {
      {"info/run.json", record("m", R"(, "git": {"present": true, "ref": "refs/heads/evil", "toplevel": "/tmp"})")}};
  EXPECT_NE(restore_error(home, planted, manifest_of("m", kId, planted)).find("refs/codedag/m/" + kId),
            std::string::npos);
  // Unsafe paths and links.
  for (const Member& bad : std::vector<Member>{{"info/../../x", "x"},
                                               {"/etc/passwd", "x"},
                                               {"blob/l", "", '2'},
                                               {"blob/h", "", '1'},
                                               {"other/file", "x"}}) {
    std::vector<Member> with = good;
    with.push_back(bad);
    EXPECT_FALSE(restore_error(home, with, manifest_of("m", kId, good)).empty()) << bad.path;
  }
  // Duplicates.
  std::vector<Member> twice = good;
  twice.push_back(good[1]);
  EXPECT_NE(restore_error(home, twice, manifest_of("m", kId, good)).find("appears twice"), std::string::npos);
  // Damage and truncation.
  std::vector<Member> all = good;
  all.push_back({kBackupManifest, manifest_of("m", kId, good)});
  const std::string tar = tar_of(all);
  EXPECT_THROW(check_archive(tar.substr(0, 700), "t.tar"), FormatError);
  std::string flipped = tar;
  flipped[10] ^= 1;
  EXPECT_THROW(check_archive(flipped, "t.tar"), FormatError);
  EXPECT_EQ(check_archive(tar, "t.tar").name, "m");
}

// A failed restore left a partial directory that blocked retrying.
TEST(Archive, ARetryAfterAFailedRestoreWorks) {
  const std::string home = fresh_home("restore_retry");
  const std::vector<Member> good = {{"info/run.json", record()}, {"blob/model.pt", std::string(5000, 'm')}};
  std::vector<Member> truncated_member = good;
  truncated_member[1].data.resize(100);  // the manifest says 5000 bytes
  EXPECT_FALSE(restore_error(home, truncated_member, manifest_of("m", kId, good)).empty());
  EXPECT_EQ(restore_error(home, good, manifest_of("m", kId, good)), "");
}

// restore fetched into whatever repo and ref the archive's run.json named.
TEST(Archive, SnapshotComesBackAsTheRunsOwnRefOnly) {
  const std::string home = fresh_home("restore_git"), other = fresh_home("restore_git_b");
  const std::string repo = home + "/repo";
  fs::create_directories(repo);
  ASSERT_EQ(sh("cd '" + repo +
               "' && git init -q -b main . && echo a > f && git add f && "
               "git -c user.name=t -c user.email=t@t commit -q -m init"),
            0);
  Experiment e("g", home);
  StartOptions o = quiet();
  o.cwd = repo;
  e.start(o);
  const json git = e.snapshot_code();
  ASSERT_TRUE(git.value("present", false));
  e.end("finished");
  Store a(home);
  const std::string archive = backup_run(a, e.test_name(), home + "/out");
  const std::string ref = "refs/codedag/g/" + e.test_name();
  ASSERT_EQ(sh("git -C '" + repo + "' update-ref -d " + ref), 0);
  Store b(other);
  std::vector<std::string> notes;
  restore_run(b, archive, notes);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("restored into"), std::string::npos) << notes[0];
  EXPECT_EQ(sh("git -C '" + repo + "' rev-parse -q --verify " + ref + " >/dev/null"), 0);
  EXPECT_NE(sh("git -C '" + repo + "' rev-parse -q --verify refs/heads/evil >/dev/null 2>&1"), 0);
}
