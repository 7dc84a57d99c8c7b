// The sweep's view of its cells, against a real store (SQLite, files) in a temporary home: queued
// runs, claims, outcomes, what resume picks, sweep ids and the journal.
#include "codedag/runner/sweep_state.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "codedag/common/error.hpp"
#include "codedag/runner/cell_run.hpp"
#include "codedag/runner/sweep_dir.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/run_file.hpp"

namespace fs = std::filesystem;
using namespace codedag;
using namespace codedag::runner;

namespace {

struct Fixture {
  std::string home;
  Manifest m;
  std::unique_ptr<SweepDir> dir;
  store::Store store;

  explicit Fixture(const std::string& name)
      : home((fs::temp_directory_path() / ("codedag_sweep_" + name + "_" + std::to_string(::getpid()))).string()),
        store(reset(home)) {
    SweepSpec spec;
    spec.grid = {parse_grid_option("lr=1,2,3,4")};
    m.name = "train";
    m.cwd = home;
    m.home = home;
    m.command = {"python", "train.py"};
    m.cells = make_cells(m.command, m.cwd, expand(spec));
    m.created_at = store::unix_now();
    m.id = create_sweep_dir(home, m.created_at);
    dir = std::make_unique<SweepDir>(home, m.id);
    save_json_file(dir->manifest_path(), m.to_json());
  }
  static std::string reset(const std::string& home) {
    fs::remove_all(home);
    fs::create_directories(home);
    return home;
  }
  store::RunRef queue(int cell, int attempt) {
    Launcher l;
    const store::RunRef ref = create_cell_run(store, m, m.cells[static_cast<size_t>(cell)], attempt, l, {"0"}, *dir);
    append_attempt(*dir, AttemptEntry{cell, attempt, ref.test_name, m.name, store::unix_now()});
    return ref;
  }
  void end(const store::RunRef& ref, int code, int signal = 0) {
    ASSERT_TRUE(claim_cell_run(store, ref));
    CellOutcome o;
    o.exit.exit_code = signal ? -1 : code;
    o.exit.signal = signal;
    o.started_at = store::unix_now();
    o.ended_at = o.started_at + 1;
    o.log_tail = code ? "Traceback (most recent call last):\n  File \"t.py\", line 2, in f\nValueError: bad\n" : "";
    record_cell_outcome(store, ref, o);
  }
  std::vector<CellState> states() {
    std::vector<std::string> w;
    return load_cell_states(store, *dir, m, &w, true, local_launcher_alive);
  }
};

}  // namespace

TEST(CellRun, QueuedRunsCarryTheSweepAndAreClaimedOnce) {
  Fixture f("claim");
  const store::RunRef ref = f.queue(2, 1);
  json r = store::load_run(ref.info_dir);
  EXPECT_EQ(r["status"], "queued");
  EXPECT_EQ(r["properties"]["sweep"]["id"], f.m.id);
  EXPECT_EQ(r["properties"]["sweep"]["cell"], 2);
  EXPECT_EQ(r["properties"]["sweep"]["fingerprint"], f.m.cells[2].fingerprint);
  EXPECT_EQ(r["info"]["params"]["lr"], 3);
  EXPECT_EQ(r["argv"].back(), "--lr=3");
  EXPECT_EQ(r["gpus"], json::array({"0"}));
  EXPECT_EQ(r["log"], f.dir->log_path(2, ref.test_name));
  EXPECT_TRUE(claim_cell_run(f.store, ref));
  EXPECT_FALSE(claim_cell_run(f.store, ref));  // a second runner must not run it again
  EXPECT_EQ(store::load_run(ref.info_dir)["status"], "running");
  EXPECT_FALSE(give_up_queued_run(f.store, ref, "too late"));
}

TEST(CellRun, OutcomesKeepWhatTheScriptRecordedAndAddTheExit) {
  Fixture f("outcome");
  const store::RunRef ok = f.queue(0, 1);
  f.end(ok, 0);
  json r = store::load_run(ok.info_dir);
  EXPECT_EQ(r["status"], "finished");
  EXPECT_EQ(r["exit"]["code"], 0);
  EXPECT_FALSE(r.contains("failure"));

  const store::RunRef bad = f.queue(1, 1);
  f.end(bad, 1);
  r = store::load_run(bad.info_dir);
  EXPECT_EQ(r["status"], "failed");
  EXPECT_EQ(r["failure"]["kind"], "exception");
  EXPECT_EQ(r["failure"]["exception_type"], "ValueError");
  EXPECT_EQ(r["log_tail"].back(), "ValueError: bad");

  // The script's Experiment said finished, then the process crashed: the run failed.
  const store::RunRef lied = f.queue(2, 1);
  ASSERT_TRUE(claim_cell_run(f.store, lied));
  f.store.update(lied, [](json& rec) { rec["status"] = "finished"; });
  CellOutcome o;
  o.exit.signal = SIGSEGV;
  o.started_at = store::unix_now();
  o.ended_at = o.started_at;
  record_cell_outcome(f.store, lied, o);
  r = store::load_run(lied.info_dir);
  EXPECT_EQ(r["status"], "killed");
  EXPECT_EQ(r["failure"]["kind"], "signal");
  EXPECT_EQ(r["signal"], "SIGSEGV");
}

TEST(SweepState, ResumePicksCellsWithoutAFinishedRunAndLeavesFailedOnesUnlessAsked) {
  Fixture f("resume");
  f.end(f.queue(0, 1), 0);            // finished
  f.end(f.queue(1, 1), 1);            // failed by itself
  f.end(f.queue(2, 1), -1, SIGKILL);  // killed: resume runs it again
  const auto states = f.states();     // cell 3: never started
  EXPECT_EQ(states[0].status, "finished");
  EXPECT_EQ(states[1].status, "failed");
  EXPECT_EQ(states[2].status, "killed");
  EXPECT_EQ(states[3].status, "pending");
  EXPECT_EQ(cells_to_resume(states, false), (std::vector<int>{2, 3}));
  EXPECT_EQ(cells_to_resume(states, true), (std::vector<int>{1, 2, 3}));
  // A second attempt that finished makes the cell finished, whatever came before.
  f.end(f.queue(2, 2), 0);
  const auto again = f.states();
  EXPECT_EQ(again[2].status, "finished");
  EXPECT_EQ(again[2].attempts.size(), 2u);
  EXPECT_EQ(again[2].current()->attempt, 2);
}

TEST(SweepState, QueuedRunsOfAVanishedLauncherAreGivenUpAndLiveOnesWaitedFor) {
  Fixture f("queued");
  const store::RunRef mine = f.queue(0, 1);  // launched by this (live) process
  const store::RunRef orphan = f.queue(1, 1);
  f.store.update(orphan, [](json& r) {
    r["launcher"]["process"] = store::ProcessIdentity{999999999, 1, "boot", store::host_name()}.to_json();
  });
  const auto states = f.states();
  EXPECT_EQ(states[0].status, "queued");
  EXPECT_TRUE(states[0].in_flight());
  EXPECT_EQ(states[1].status, "dead");
  EXPECT_EQ(store::load_run(orphan.info_dir)["failure"]["kind"], "never_started");
  EXPECT_EQ(cells_to_resume(states, false), (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(claim_cell_run(f.store, orphan));  // a late runner finds it given up
  EXPECT_TRUE(claim_cell_run(f.store, mine));
}

TEST(SweepDir, IdsAreUniqueTheJournalSurvivesTornLinesAndTheLockIsExclusive) {
  Fixture f("dir");
  const std::string second = create_sweep_dir(f.home, store::unix_now());
  EXPECT_NE(second, f.m.id);
  EXPECT_EQ(list_sweep_ids(f.home).size(), 2u);
  EXPECT_EQ(resolve_sweep(f.home, f.m.id).id(), f.m.id);
  EXPECT_THROW(resolve_sweep(f.home, "sw"), InputError);  // ambiguous prefix
  EXPECT_THROW(resolve_sweep(f.home, "sw000000"), NotFoundError);
  EXPECT_THROW(resolve_sweep(f.home, "../x"), InputError);
  f.queue(0, 1);
  {
    std::ofstream torn(f.dir->attempts_path(), std::ios::app);
    torn << "{\"cell\": 1, \"attem";  // a crash mid-write
  }
  std::vector<std::string> warnings;
  EXPECT_EQ(read_attempts(*f.dir, f.m.cells.size(), &warnings).size(), 1u);
  EXPECT_EQ(warnings.size(), 1u);
  SweepLock lock(*f.dir);
  EXPECT_THROW(SweepLock second_lock(*f.dir), StateError);
  // A damaged manifest is named.
  { std::ofstream(f.dir->manifest_path()) << "{\"schema\": 1"; }
  EXPECT_THROW(f.dir->load_manifest(), FormatError);
}
