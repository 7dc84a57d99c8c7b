// Engine tests of the store: ids, index, run files, metric log, filters, archives. Real SQLite and
// a real file system in a fresh temporary directory per test.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/archive.hpp"
#include "codedag/store/experiment.hpp"
#include "codedag/store/layout.hpp"
#include "codedag/store/metric_log.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/run_format.hpp"
#include "codedag/store/store.hpp"
#include "store_test_util.hpp"

namespace fs = std::filesystem;
using namespace codedag;
using namespace codedag::store;

TEST(Layout, RejectsNamesThatAreNotDirectoriesOrRefs) {
  EXPECT_NO_THROW(validate_experiment_name("moco_v2-1.0"));
  EXPECT_THROW(validate_experiment_name(""), InputError);
  EXPECT_THROW(validate_experiment_name("a/b"), InputError);
  EXPECT_THROW(validate_experiment_name(".hidden"), InputError);
  EXPECT_THROW(validate_experiment_name("x..y"), InputError);
  EXPECT_THROW(validate_experiment_name("has space"), InputError);
  EXPECT_TRUE(looks_like_test_name("230306.012.d5t"));
  EXPECT_FALSE(looks_like_test_name("230306.d5t"));
  EXPECT_FALSE(looks_like_test_name("run.json"));
}

TEST(Experiment, StartsWritesAndEnds) {
  const std::string home = fresh_home("lifecycle");
  Experiment e("demo", home);
  e.start(quiet());
  EXPECT_TRUE(looks_like_test_name(e.test_name()));
  EXPECT_EQ(e.test_name().substr(7, 3), "001");
  EXPECT_TRUE(fs::is_directory(e.blob_dir()));
  e.dump_info("params", json{{"lr", 0.1}});
  EXPECT_EQ(e.dump_metric("acc", 0.5, "max", json{{"epoch", 1}})["value"], 0.5);
  EXPECT_EQ(e.dump_metric("acc", 0.4, "max", json::object())["value"], 0.5);  // not better
  EXPECT_EQ(e.dump_metric("acc", 0.7, "max", json::object())["value"], 0.7);
  EXPECT_THROW(e.dump_metric("acc", 0.1, "min", json::object()), InputError);  // direction is fixed
  e.log_metric("loss", 1.0, std::nullopt);
  e.log_metric("loss", 0.5, std::nullopt);
  e.end("finished");
  const json r = load_run(e.info_dir());
  EXPECT_EQ(r["status"], "finished");
  EXPECT_EQ(r["info"]["params"]["lr"], 0.1);
  EXPECT_EQ(r["metrics"]["acc"]["value"], 0.7);
  EXPECT_EQ(r["last"]["loss"]["step"], 1);
  EXPECT_EQ(r["argv"][2], "--lr=0.1");
  EXPECT_THROW(e.end("finished"), StateError);
  EXPECT_THROW(e.end("bogus"), InputError);

  Experiment second("demo", home);
  second.start(quiet());
  EXPECT_EQ(second.test_name().substr(7, 3), "002");  // nnn counts the name's runs of the day
  second.end("failed", json{{"exception", {{"type", "ValueError"}}}});
  Store s(home);
  EXPECT_EQ(s.list({}).size(), 2u);
  RunFilter f;
  f.index.status = "failed";
  EXPECT_EQ(s.list(f).size(), 1u);
}

TEST(Experiment, SixtyFourProcessesTimesTwentyRunsNeverShareAnId) {
  const std::string home = fresh_home("fork");
  constexpr int kProcs = 64, kRuns = 20;  // the issue's stampede: 1280 runs at once
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int rc = 0;
      try {
        for (int i = 0; i < kRuns; ++i) {
          Experiment e("race", home);
          e.start(quiet());
          e.end("finished");
        }
      } catch (...) {
        rc = 3;
      }
      ::_exit(rc);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int st = 0;
    ::waitpid(k, &st, 0);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  std::set<std::string> ids, numbers;
  for (const auto& d : fs::directory_iterator(home + "/info/race")) {
    if (!looks_like_test_name(d.path().filename().string())) continue;  // .claims
    ids.insert(d.path().filename().string());
    const std::string id = d.path().filename().string();
    numbers.insert(id.substr(7, id.rfind('.') - 7));
  }
  EXPECT_EQ(ids.size(), size_t(kProcs * kRuns));
  EXPECT_EQ(numbers.size(), size_t(kProcs * kRuns));  // counters unique too, not just the random part
  // The index agrees with the files: same ids, every run finished.
  Store s(home);
  const std::vector<json> listed = s.list({});
  std::set<std::string> indexed;
  for (const json& r : listed) {
    indexed.insert(r["test_name"].get<std::string>());
    EXPECT_EQ(r["status"], "finished");
  }
  EXPECT_EQ(indexed, ids);
}

TEST(MetricLog, ToleratesATornLastLineAndNamesBadLines) {
  const std::string home = fresh_home("metrics");
  const std::string path = home + "/metrics.jsonl";
  {
    MetricLog log(path);
    log.log("loss", 1.5, 0, 1.0);
    log.log("loss", 0.5, std::nullopt, 2.0);
    log.log("acc", std::nan(""), 3, 3.0);
  }
  std::ofstream(path, std::ios::app) << "garbage line\n{\"key\":\"loss\",\"step\":9,\"val";
  std::vector<std::string> warnings;
  const MetricSeries m = read_metric_series(path, warnings);
  EXPECT_EQ(m.series["loss"].size(), 2u);
  EXPECT_EQ(m.last["loss"]["step"], 1);
  EXPECT_TRUE(m.last["acc"]["value"].is_null());
  ASSERT_EQ(warnings.size(), 1u);  // the garbage line, not the torn tail
  EXPECT_NE(warnings[0].find("metrics.jsonl:4"), std::string::npos);
}

TEST(Store, CorruptRunFileIsSkippedWithItsName) {
  const std::string home = fresh_home("corrupt");
  std::string broken;
  for (int i = 0; i < 3; ++i) {
    Experiment e("c", home);
    e.start(quiet());
    e.end("finished");
    broken = e.info_dir();
  }
  write_file_atomic(broken + "/run.json", "{\"name\": \"c\", \"test_na");
  Store s(home);
  std::vector<std::string> warnings;
  EXPECT_EQ(s.list({}, &warnings).size(), 2u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(broken + "/run.json"), std::string::npos);
  warnings.clear();
  EXPECT_EQ(s.rebuild(warnings), 2u);
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(Store, FiltersOnParamsMetricsAndTags) {
  const std::string home = fresh_home("filters");
  for (int i = 0; i < 4; ++i) {
    Experiment e("f", home);
    e.start(quiet());
    e.dump_info("params", json{{"lr", 0.1 * (i + 1)}, {"opt", i % 2 ? "adam" : "sgd"}});
    e.dump_metric("acc", 0.5 + 0.1 * i, "max", json::object());
    if (i == 3) e.add_tag("best");
    e.end("finished");
  }
  Store s(home);
  RunFilter f;
  f.params = {"params.opt=adam"};
  EXPECT_EQ(s.list(f).size(), 2u);
  f.metrics = {"acc>=0.75"};
  EXPECT_EQ(s.list(f).size(), 1u);
  RunFilter t;
  t.tags = {"best"};
  EXPECT_EQ(s.list(t).size(), 1u);
  RunFilter bad;
  bad.params = {"params.lr>abc"};
  EXPECT_THROW(s.list(bad), InputError);
  bad.params = {"no_operator"};
  EXPECT_THROW(s.list(bad), InputError);
}

TEST(Store, ResolvesIdsAndExplainsMisses) {
  const std::string home = fresh_home("resolve");
  Experiment e("r", home);
  e.start(quiet());
  e.end("finished");
  Store s(home);
  EXPECT_EQ(s.resolve(e.test_name()).info_dir, e.info_dir());
  EXPECT_EQ(s.resolve("r/" + e.test_name()).test_name, e.test_name());
  EXPECT_EQ(s.resolve(e.test_name().substr(0, 11)).test_name, e.test_name());
  EXPECT_THROW(s.resolve("999999.001.zzz"), NotFoundError);
  EXPECT_THROW(s.resolve("../../etc"), InputError);
  EXPECT_THROW(s.resolve(""), InputError);
}

// `codedag rm /` matched every run and `rm beta/<alpha's id>` deleted alpha's run.
TEST(Store, ResolutionIsExact) {
  const std::string home = fresh_home("exact");
  Experiment alpha("alpha", home), beta("beta", home);
  alpha.start(quiet());
  alpha.end("finished");
  beta.start(quiet());
  beta.end("finished");
  Store s(home);
  for (const char* bad : {"/", "*", "2*", "%", "_", "alpha/", "/x", " ", "alpha/*", "a b", "..", "alpha/../beta"})
    EXPECT_THROW(s.resolve(bad), InputError) << bad;
  try {
    s.resolve("beta/" + alpha.test_name());
    FAIL() << "beta/<alpha's id> resolved";
  } catch (const NotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("is a run of 'alpha'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s.resolve("alpha/" + alpha.test_name()).name, "alpha");
  // The same without the index (a training process resolving a rerun's origin).
  EXPECT_THROW(s.resolve("beta/" + alpha.test_name(), false), NotFoundError);
  EXPECT_EQ(s.resolve(alpha.test_name(), false).name, "alpha");
  // A prefix shared by both runs is ambiguous, never "every run".
  EXPECT_THROW(s.resolve(alpha.test_name().substr(0, 7)), InputError);
}

TEST(RunFormat, ShellJoinQuotesWhatAShellWouldSplit) {
  EXPECT_EQ(shell_join({"python", "a b", "it's", "--x=1"}), "python 'a b' 'it'\"'\"'s' --x=1");
  EXPECT_THROW(parse_date("yesterday", "--since"), InputError);
  EXPECT_GT(parse_date("2026-03-06", "--since"), 0);
}

TEST(RunFormat, IndentedJsonArrayIsLaidOutAsNlohmannDumps) {
  const json items =
      json::array({json::object(), json::parse(R"({"a":[1,2.5,[]],"b":{"c":"x{,:}\"y\\","d":{}},"e":null})"),
                   json::array({json::object({{"k", "v"}}), "s"}), 3});
  std::vector<std::string> compact;
  for (const auto& it : items) compact.push_back(it.dump());
  EXPECT_EQ(indented_json_array(compact, 1), items.dump(1));
  EXPECT_EQ(indented_json_array(compact, 2), items.dump(2));
  EXPECT_EQ(indented_json_array({}, 1), json::array().dump(1));
}

// The listing columns (schema 3) must give listing exactly what the summary holds.
TEST(Store, ListingColumnsMatchTheSummary) {
  const std::string home = fresh_home("listing");
  for (int i = 0; i < 3; ++i) {
    Experiment e("l", home);
    e.start(quiet());
    e.dump_info("params", json{{"lr", 0.1 * (i + 1)}});
    e.dump_metric("acc", 0.5 + 0.1 * i, "max", json::object());
    e.log_metric("loss", 1.0 / 3 + i, i);
    if (i == 1) e.add_tag("best");
    e.end("finished");
  }
  Store s(home);
  const std::vector<IndexRow> rows = s.list_rows({});
  ASSERT_EQ(rows.size(), 3u);
  for (const IndexRow& row : rows) {
    ASSERT_TRUE(row.has_metric_values);
    const json full = json::parse(row.summary);
    json lite = listing_fields(row);
    for (const char* key : {"test_name", "name", "status", "started_at", "ended_at", "duration"})
      EXPECT_EQ(lite.value(key, json()), full.value(key, json())) << key;
    EXPECT_EQ(lite.value("tags", json::array()), full.value("tags", json::array()));
    for (const char* key : {"metrics", "last"}) {
      const json values = full.value(key, json::object());  // named: items() of a temporary dangles
      EXPECT_FALSE(values.empty()) << key;
      for (const auto& [k, v] : values.items()) EXPECT_EQ(lite[key][k]["value"], v["value"]) << key << "." << k;
    }
    json spliced = json::parse(run_json_text(row, "/x/\"y"));
    EXPECT_EQ(spliced["info_dir"], "/x/\"y");
    spliced.erase("info_dir");
    EXPECT_EQ(spliced, full);
  }
  EXPECT_EQ(s.index().schema_version(), kIndexSchemaVersion);
}
