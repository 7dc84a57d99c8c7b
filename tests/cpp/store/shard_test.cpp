// Shards and the rendezvous of distributed jobs (issue 14): one run per job, the first failing rank
// decides the run's status, a vanished rank is noticed, stale or damaged files are never joined.
#include "codedag/store/shard.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codedag/common/error.hpp"
#include "codedag/common/process_rank.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/metric_log.hpp"
#include "codedag/store/rendezvous.hpp"
#include "codedag/store/run_file.hpp"
#include "store_test_util.hpp"

namespace codedag::store {
namespace {

ShardStart rank_of(int rank, int world = 2) {
  ShardStart s;
  s.rank = rank;
  s.world_size = world;
  s.launcher = "torchrun";
  s.job_key = "torchrun:test";
  return s;
}

std::string id_of(const Experiment& e) { return e.name() + "/" + e.test_name(); }

TEST(Shard, OneRunTwoShardsMetricsFromBoth) {
  const std::string home = fresh_home("shard_one_run");
  Experiment rank0("ddp", home);
  rank0.start(quiet());
  rank0.record_shard(rank_of(0));
  Experiment rank1("ddp", home);
  rank1.join_shard(id_of(rank0), rank_of(1), quiet());
  EXPECT_EQ(rank1.test_name(), rank0.test_name());
  rank0.log_metric("loss", 1.0, 0);
  rank1.log_metric("loss", 2.0, 0);
  rank1.end("finished");
  rank0.end("finished");
  std::vector<std::string> warnings;
  const auto shards = read_shards(rank0.info_dir(), warnings);
  ASSERT_EQ(shards.size(), 2u);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(shards[1]["status"], "finished");
  EXPECT_EQ(shards[1]["last"]["loss"]["value"], 2.0);
  const MetricSeries s1 = read_metric_series(rank_metrics_file(rank0.info_dir(), 1), warnings);
  const MetricSeries s0 = read_metric_series(rank_metrics_file(rank0.info_dir(), 0), warnings);
  EXPECT_EQ(s1.series["loss"][0][1], 2.0);
  EXPECT_EQ(s0.series["loss"][0][1], 1.0);
  const json run = load_run(rank0.info_dir());
  EXPECT_EQ(run["status"], "finished");
  EXPECT_EQ(run["world_size"], 2);
  // Exactly one run directory for the experiment.
  size_t runs = 0;
  for (const auto& e : std::filesystem::directory_iterator(home + "/info/ddp"))
    if (e.path().filename().string()[0] != '.') ++runs;
  EXPECT_EQ(runs, 1u);
}

TEST(Shard, FirstFailingRankDecidesAndKeepsItsTraceback) {
  const std::string home = fresh_home("shard_fail");
  Experiment rank0("ddp", home);
  rank0.start(quiet());
  rank0.record_shard(rank_of(0, 3));
  Experiment rank1("ddp", home), rank2("ddp", home);
  rank1.join_shard(id_of(rank0), rank_of(1, 3), quiet());
  rank2.join_shard(id_of(rank0), rank_of(2, 3), quiet());
  rank1.end("failed", json{{"exception", {{"type", "ValueError"}, {"message", "boom"}, {"traceback", "tb of 1"}}}});
  // Rank 2 loses its peer afterwards; rank 0 is then SIGTERMed by the launcher.
  rank2.end("failed", json{{"exception", {{"type", "RuntimeError"}, {"message", "connection closed"}}}});
  EXPECT_EQ(load_run(rank0.info_dir())["status"], "failed");  // before rank 0 ends: never "running" alone
  rank0.end("killed", json{{"signal", "SIGTERM"}});
  const json run = load_run(rank0.info_dir());
  EXPECT_EQ(run["status"], "failed");
  EXPECT_EQ(run["failed_rank"], 1);
  EXPECT_EQ(run["exception"]["traceback"], "tb of 1");
  EXPECT_EQ(run["exception"]["rank"], 1);
  EXPECT_EQ(run["failed_ranks"], json::array({1, 2}));
  EXPECT_EQ(run["rank0_end"]["status"], "killed");
}

TEST(Shard, AKilledRankIsNotACauseButRankZerosFailureIs) {
  const std::string home = fresh_home("shard_killed");
  Experiment rank0("ddp", home);
  rank0.start(quiet());
  rank0.record_shard(rank_of(0));
  Experiment rank1("ddp", home);
  rank1.join_shard(id_of(rank0), rank_of(1), quiet());
  rank1.end("killed", json{{"signal", "SIGTERM"}});
  EXPECT_EQ(load_run(rank0.info_dir())["status"], "running");
  rank0.end("failed", json{{"exception", {{"type", "OSError"}, {"message", "disk"}}}});
  const json run = load_run(rank0.info_dir());
  EXPECT_EQ(run["failed_rank"], 0);
  EXPECT_EQ(run["exception"]["rank"], 0);
}

TEST(Shard, ARankWhoseProcessVanishedFailsTheRun) {
  const std::string home = fresh_home("shard_vanished");
  Experiment rank0("ddp", home);
  rank0.start(quiet());
  rank0.record_shard(rank_of(0));
  const std::string id = id_of(rank0);
  const pid_t child = ::fork();
  if (child == 0) {
    Experiment rank1("ddp", home);
    rank1.join_shard(id, rank_of(1), quiet());
    ::_exit(0);  // like SIGKILL / OOM: no end() recorded
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  rank0.end("failed", json{{"exception", {{"type", "RuntimeError"}, {"message", "peer closed"}}}});
  const json run = load_run(rank0.info_dir());
  EXPECT_EQ(run["failed_rank"], 1);
  EXPECT_EQ(run["exception"]["type"], "RankDied");
}

TEST(Shard, BadRanksAndRemovedRunsAreRefusedLateRanksJoin) {
  const std::string home = fresh_home("shard_refused");
  Experiment rank0("ddp", home);
  rank0.start(quiet());
  const std::string id = id_of(rank0);
  Experiment zero("ddp", home);
  EXPECT_THROW(zero.join_shard(id, rank_of(0), quiet()), InputError);
  Experiment outside("ddp", home);
  EXPECT_THROW(outside.join_shard(id, rank_of(2, 2), quiet()), InputError);
  rank0.end("finished");
  // A slow rank that starts after rank 0 finished still records its shard, and its failure counts.
  Experiment late("ddp", home);
  late.join_shard(id, rank_of(1), quiet());
  late.end("failed", json{{"exception", {{"type", "OSError"}, {"message", "late"}}}});
  EXPECT_EQ(load_run(rank0.info_dir())["status"], "failed");
  update_run(rank0.info_dir(), [](json& r) { r["deleted"] = true; });
  Experiment removed("ddp", home);
  EXPECT_THROW(removed.join_shard(id, rank_of(1), quiet()), StateError);
}

TEST(Shard, DamagedShardFilesAreNamedAndSkipped) {
  const std::string home = fresh_home("shard_damaged");
  Experiment rank0("ddp", home);
  rank0.start(quiet());
  rank0.record_shard(rank_of(0, 4));
  write_text(shard_dir(rank0.info_dir(), 1) + "/shard.json", "{\"schema\": \"codedag.shard/1\", \"rank\": 7}");
  write_text(shard_dir(rank0.info_dir(), 2) + "/shard.json",
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
  write_text(rank0.info_dir() + "/shards/rank01/shard.json", "{}");
  json evil = load_shard(rank0.info_dir(), 0);
  evil["rank"] = 3;
  evil["log_file"] = "../../../../etc/passwd";
  write_text(shard_dir(rank0.info_dir(), 3) + "/shard.json", evil.dump());
  std::vector<std::string> warnings;
  const auto shards = read_shards(rank0.info_dir(), warnings);
  ASSERT_EQ(shards.size(), 1u);
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_NE(warnings[0].find("rank01"), std::string::npos);
  EXPECT_NE(warnings[1].find("field /rank"), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[3].find("/log_file"), std::string::npos) << warnings[3];
  rank0.end("finished");
}

TEST(Shard, RankLogTailIsBounded) {
  const std::string home = fresh_home("shard_log");
  const std::string info = home + "/run";
  std::string log;
  for (int i = 0; i < 100000; ++i) log += "line " + std::to_string(i) + "\n";
  write_text(rank_log_file(info, 1), log);
  const std::string tail = rank_log_tail(info, 1, 3);
  EXPECT_EQ(tail, "line 99997\nline 99998\nline 99999");
  EXPECT_EQ(rank_log_tail(info, 5, 3), "");
}

TEST(Rendezvous, RankZeroPublishesOthersFindStaleEntriesAreNotJoined) {
  const std::string home = fresh_home("rendezvous");
  const double now = unix_now();
  publish_rendezvous(home, "torchrun:job1", "ddp/run1", 0);
  EXPECT_EQ(await_rendezvous(home, "torchrun:job1", 0, now - 1, 1).run_id, "ddp/run1");
  // Another attempt (a torchelastic restart) waits for its own entry.
  EXPECT_THROW(await_rendezvous(home, "torchrun:job1", 1, now - 1, 0.2), StateError);
  // Made before this job started: stale.
  EXPECT_THROW(await_rendezvous(home, "torchrun:job1", 0, now + 60, 0.2), StateError);
  // Same key, same attempt, another live run: two jobs share an identity.
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      publish_rendezvous(home, "torchrun:job1", "ddp/run2", 0);
    } catch (const StateError&) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 3);
  // A damaged file is replaced, never joined.
  write_text(rendezvous_file(home, "torchrun:job1"), "{\"schema\": \"codedag.rendezvous/1\", \"run_id\": 5}");
  EXPECT_THROW(read_rendezvous(rendezvous_file(home, "torchrun:job1")), FormatError);
  EXPECT_THROW(await_rendezvous(home, "torchrun:job1", 0, 0, 0.1), StateError);
  publish_rendezvous(home, "torchrun:job1", "ddp/run3", 0);
  EXPECT_EQ(await_rendezvous(home, "torchrun:job1", 0, now - 1, 1).run_id, "ddp/run3");
}

TEST(Rendezvous, AStaleEntryOfADeadRankZeroIsReplaced) {
  const std::string home = fresh_home("rendezvous_stale");
  const pid_t child = ::fork();
  if (child == 0) {
    publish_rendezvous(home, "master:h:1", "ddp/old", 0);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  // Its rank 0 is gone but made it after this process started: a rank 0 that finished first.
  EXPECT_EQ(await_rendezvous(home, "master:h:1", 0, 0, 1).run_id, "ddp/old");
  // Made before this process started by a process that is gone: stale, never joined.
  json old = json::parse(read_text(rendezvous_file(home, "master:h:1")));
  old["created_at"] = process_start_time() - 10;
  write_text(rendezvous_file(home, "master:h:1"), old.dump());
  EXPECT_THROW(await_rendezvous(home, "master:h:1", 0, 0, 0.2), StateError);
  publish_rendezvous(home, "master:h:1", "ddp/new", 0);  // replaces it
  EXPECT_EQ(await_rendezvous(home, "master:h:1", 0, 0, 1).run_id, "ddp/new");
}

// setenv/unsetenv for one test.
struct Env {
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  void set(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~Env() {
    for (auto it = saved.rbegin(); it != saved.rend(); ++it)
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
  }
};

TEST(ProcessRank, GlobalRankNeverFromLocalRank) {
  Env env;
  for (const char* n : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_STEP_ID", "SLURM_NTASKS",
                        "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                        "PMI_SIZE", "MV2_COMM_WORLD_RANK", "JSM_NAMESPACE_RANK"})
    env.set(n, nullptr);
  set_known_rank(-1, -1);
  // Node 2's local rank 0 is not rank 0: no global rank at all, but it is quiet when not 0.
  env.set("LOCAL_RANK", "0");
  EXPECT_EQ(process_rank().rank, -1);
  EXPECT_FALSE(is_nonzero_rank());
  env.set("LOCAL_RANK", "1");
  EXPECT_TRUE(is_nonzero_rank());
  env.set("LOCAL_RANK", "0");
  // A batch script's SLURM_PROCID=0 without srun says nothing.
  env.set("SLURM_PROCID", "0");
  env.set("SLURM_NTASKS", "4");
  EXPECT_EQ(process_rank().rank, -1);
  env.set("SLURM_STEP_ID", "0");
  env.set("SLURM_PROCID", "3");
  EXPECT_EQ(process_rank().rank, 3);
  EXPECT_EQ(process_rank().world_size, 4);
  EXPECT_EQ(process_rank().source, "SLURM_PROCID");
  // RANK wins over Slurm (torchrun inside an allocation).
  env.set("RANK", "5");
  env.set("WORLD_SIZE", "8");
  EXPECT_EQ(process_rank().rank, 5);
  // Garbage and inconsistent values are ignored, never trusted.
  env.set("RANK", "9");
  EXPECT_EQ(process_rank().source, "SLURM_PROCID");
  env.set("RANK", "1x");
  EXPECT_EQ(process_rank().source, "SLURM_PROCID");
  env.set("RANK", nullptr);
  env.set("SLURM_STEP_ID", nullptr);
  env.set("OMPI_COMM_WORLD_RANK", "2");
  env.set("OMPI_COMM_WORLD_SIZE", "3");
  EXPECT_EQ(process_rank().rank, 2);
  env.set("OMPI_COMM_WORLD_RANK", nullptr);
  set_known_rank(1, 2);
  EXPECT_EQ(process_rank().source, "torch.distributed");
  EXPECT_TRUE(is_nonzero_rank());
  set_known_rank(-1, -1);
}

TEST(ProcessRank, JobKeysTellJobsApart) {
  Env env;
  for (const char* n :
       {"TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT", "SLURM_JOB_ID", "SLURM_STEP_ID", "PMIX_NAMESPACE",
        "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_hnp_uri", "PMI_KVSNAME", "LOCAL_WORLD_SIZE", "WORLD_SIZE"})
    env.set(n, nullptr);
  EXPECT_EQ(launcher_job().key, "");
  env.set("MASTER_ADDR", "127.0.0.1");
  env.set("MASTER_PORT", "29500");
  EXPECT_EQ(launcher_job().key, "master:127.0.0.1:29500");
  env.set("SLURM_JOB_ID", "77");
  env.set("SLURM_STEP_ID", "2");
  EXPECT_EQ(launcher_job().key, "slurm:77.2");
  env.set("TORCHELASTIC_RUN_ID", "abc");
  EXPECT_EQ(launcher_job().key, "torchrun:abc");
  // torchrun's default id "none": on one node the agent (our parent) tells consecutive jobs apart.
  env.set("TORCHELASTIC_RUN_ID", "none");
  env.set("LOCAL_WORLD_SIZE", "2");
  env.set("WORLD_SIZE", "2");
  EXPECT_NE(launcher_job().key.find(":agent" + std::to_string(::getppid()) + "."), std::string::npos);
}

}  // namespace
}  // namespace codedag::store
