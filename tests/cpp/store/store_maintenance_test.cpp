// Removing runs: never a live one, never from a name read from disk that points elsewhere, and the
// leftovers of killed processes swept (store_maintenance.cpp).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/store.hpp"
#include "store_test_util.hpp"

using namespace codedag;
using namespace codedag::store;
namespace fs = std::filesystem;

namespace {

void age(const std::string& path, double seconds) {
  const double t = unix_now() - seconds;
  struct timeval tv[2];
  tv[0].tv_sec = tv[1].tv_sec = static_cast<time_t>(t);
  tv[0].tv_usec = tv[1].tv_usec = 0;
  ::lutimes(path.c_str(), tv);
}

std::string git_repo(const std::string& dir) {
  fs::create_directories(dir);
  sh("cd '" + dir +
     "' && git init -q -b main . && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m init");
  return dir;
}

std::string git_out(const std::string& dir, const std::string& args) {
  const std::string out = dir + "/.git_out";
  sh("git -C '" + dir + "' " + args + " > '" + out + "' 2>/dev/null");
  std::string s = read_text(out);
  fs::remove(out);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

// `codedag rm` accepted a running run and gc then deleted its files while it trained.
TEST(StoreMaintenance, LiveRunIsNeverRemoved) {
  const std::string home = fresh_home("rm_live");
  Experiment live("m", home);
  StartOptions o = quiet();
  o.heartbeat = true;
  o.lease_seconds = 30;
  live.start(o);
  Store s(home);
  const RunRef ref = s.resolve(live.test_name());
  EXPECT_THROW(s.mark_deleted(ref, true, false), StateError);
  EXPECT_THROW(s.mark_deleted(ref, true, true), StateError);  // not even with --force
  EXPECT_FALSE(load_run(ref.info_dir).value("deleted", true));
  // Marked behind our back (an old codedag, a hand edit): gc re-checks under the run lock.
  update_run(ref.info_dir, [](json& r) { r["deleted"] = true; });
  std::vector<std::string> warnings;
  EXPECT_TRUE(s.collect_garbage(warnings).empty());
  EXPECT_TRUE(fs::exists(ref.info_dir + "/run.json"));
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings.back().find("still running"), std::string::npos);
  live.log_metric("loss", 1, 0);
  live.end("finished");
  // Ended: now it can go.
  s.mark_deleted(ref, true, false);
  warnings.clear();
  EXPECT_EQ(s.collect_garbage(warnings).size(), 1u);
  EXPECT_FALSE(fs::exists(ref.info_dir));
}

// A lease that expired on a host this machine cannot check needs --force; a dead one does not.
TEST(StoreMaintenance, ForceOnlyForExpiredLeasesOfOtherHosts) {
  const std::string home = fresh_home("rm_force");
  Experiment e("m", home);
  e.start(quiet());
  const std::string dir = e.info_dir();
  e.end("finished");
  Store s(home);
  const RunRef ref = s.resolve(e.test_name());
  // Pretend the run is still running on another host whose lease just expired.
  update_run(dir, [](json& r) {
    r["status"] = "running";
    r["started_at"] = unix_now() - 40;
    r["host"] = "elsewhere";
    r["process"] = json{{"pid", 1}, {"start_ticks", 1}, {"boot_id", "x"}, {"host", "elsewhere"}};
  });
  Heartbeat hb;
  hb.process.pid = 1;
  hb.process.host = "elsewhere";
  hb.beat_at = unix_now() - 35;
  hb.lease_until = unix_now() - 5;
  write_file_atomic(dir + "/heartbeat.json", hb.to_json().dump());
  try {
    s.mark_deleted(ref, true, false);
    FAIL();
  } catch (const StateError& e2) {
    EXPECT_NE(std::string(e2.what()).find("--force"), std::string::npos) << e2.what();
  }
  EXPECT_NO_THROW(s.mark_deleted(ref, true, true));
  // On this host a vanished process makes the run dead: removable without --force.
  update_run(dir, [](json& r) {
    r["deleted"] = false;
    r["host"] = host_name();
    r["process"] = json{{"pid", 999999999}, {"start_ticks", 1}, {"host", host_name()}};
  });
  hb.process.host = host_name();
  hb.process.pid = 999999999;
  write_file_atomic(dir + "/heartbeat.json", hb.to_json().dump());
  EXPECT_NO_THROW(s.mark_deleted(ref, true, false));
  EXPECT_EQ(load_run(dir)["status"], "dead");
}

// A restored run.json whose name is ../../x made gc erase a directory outside the store; one
// naming another repository's refs/heads/main made gc delete that branch.
TEST(StoreMaintenance, GcActsOnlyOnTheRunsOwnFilesAndRef) {
  const std::string home = fresh_home("gc_evil");
  const std::string repo = git_repo(home + "/repo");
  const std::string victim = home + "/victim";
  write_text(victim + "/precious", "keep");
  const std::string main_before = git_out(repo, "rev-parse refs/heads/main");
  ASSERT_FALSE(main_before.empty());

  Experiment e("m", home);
  StartOptions o = quiet();
  o.cwd = repo;
  e.start(o);
  const json git = e.snapshot_code();
  ASSERT_TRUE(git.value("present", false)) << git.dump();
  e.end("finished");
  const std::string dir = e.info_dir();
  const std::string own_ref = e.store().resolve(e.test_name()).id().ref();
  ASSERT_EQ(git_out(repo, "rev-parse -q --verify " + own_ref), git["commit"].get<std::string>());
  const json honest = load_run(dir);
  Store s(home);
  s.mark_deleted(s.resolve(e.test_name()), true, false);  // the index now lists it as deleted
  // Then the record is tampered with: someone else's ref, a name that climbs out of the store.
  json foreign_ref = honest["git"];
  foreign_ref["ref"] = "refs/heads/main";
  for (const json& evil : {json{{"git", foreign_ref}}, json{{"name", "../../victim"}}}) {
    json r = honest;
    r["deleted"] = true;
    r.update(evil);
    write_text(dir + "/run.json", r.dump());
    std::vector<std::string> warnings;
    EXPECT_TRUE(s.collect_garbage(warnings).empty()) << evil.dump();  // an unreadable record is never acted on
    EXPECT_FALSE(warnings.empty());
    EXPECT_EQ(git_out(repo, "rev-parse refs/heads/main"), main_before);
    EXPECT_EQ(read_text(victim + "/precious"), "keep");
    EXPECT_TRUE(fs::exists(dir));
  }
  // The honest record: gc removes the run's own files and its own ref, nothing else.
  json r = honest;
  r["deleted"] = true;
  write_text(dir + "/run.json", r.dump());
  std::vector<std::string> warnings;
  EXPECT_EQ(s.collect_garbage(warnings).size(), 1u);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_EQ(git_out(repo, "for-each-ref refs/codedag"), "");
  EXPECT_EQ(git_out(repo, "rev-parse refs/heads/main"), main_before);
}

// A symlinked run directory (planted) must not make gc remove what it points to.
TEST(StoreMaintenance, GcDoesNotFollowALinkedRunDirectory) {
  const std::string home = fresh_home("gc_link");
  Experiment e("m", home);
  e.start(quiet());
  e.end("finished");
  const std::string outside = home + "/outside_run";
  fs::rename(e.info_dir(), outside);
  fs::create_directory_symlink(outside, e.info_dir());
  update_run(outside, [](json& r) { r["deleted"] = true; });
  Store s(home);
  std::vector<std::string> warnings;
  s.collect_garbage(warnings);
  EXPECT_TRUE(fs::exists(outside + "/run.json"));
}

// A process killed between claiming its id and writing run.json left a run `running` forever.
TEST(StoreMaintenance, RunWithoutRecordBecomesDeadAndRemovable) {
  const std::string home = fresh_home("no_record");
  const std::string dir = home + "/info/m/230306.001.abc";
  fs::create_directories(dir);
  Store s(home);
  std::vector<std::string> warnings;
  EXPECT_TRUE(s.list({}, &warnings).empty());  // within the grace period: a run still starting
  age(dir, 3 * default_lease_seconds() + 5);
  const std::vector<json> runs = s.list({}, &warnings);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "dead");
  const RunRef ref = s.resolve("m/230306.001.abc");
  s.mark_deleted(ref, true, false);
  EXPECT_EQ(s.collect_garbage(warnings).size(), 1u);
  EXPECT_FALSE(fs::exists(dir));
}

TEST(StoreMaintenance, LeftoversOfKilledWritersAreSwept) {
  const std::string home = fresh_home("sweep");
  Experiment e("m", home);
  e.start(quiet());
  e.end("finished");
  const std::string old_tmp = e.info_dir() + "/run.json.tmp.12345.0";
  const std::string new_tmp = e.info_dir() + "/run.json.tmp.12345.1";
  const std::string stage = home + "/info/.restore.999.deadbeef";
  write_text(old_tmp, "partial");
  write_text(new_tmp, "being written");
  write_text(stage + "/run.json", "{}");
  age(old_tmp, 7200);
  age(stage, 7200);
  Store s(home);
  const auto removed = s.sweep_leftovers();
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_FALSE(fs::exists(old_tmp));
  EXPECT_FALSE(fs::exists(stage));
  EXPECT_TRUE(fs::exists(new_tmp));  // young: a writer may still be at it
  EXPECT_TRUE(fs::exists(e.info_dir() + "/run.json"));
}
