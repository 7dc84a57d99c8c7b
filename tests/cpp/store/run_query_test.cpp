// The panel's run table over a real store: runs made through Experiment (real files, real
// SQLite), then filtered, sorted, paged, grouped and summarised by RunTable.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

#include "codedag/common/error.hpp"
#include "codedag/store/experiment.hpp"
#include "codedag/store/run_query.hpp"
#include "codedag/store/sqlite_query.hpp"
#include "codedag/store/store.hpp"

namespace fs = std::filesystem;
using namespace codedag;
using namespace codedag::store;

namespace {

std::string fresh_home(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("codedag_query_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

StartOptions quiet() {
  StartOptions o;
  o.argv = {"python", "train.py"};
  o.executable = "/usr/bin/python3";
  o.heartbeat = false;
  return o;
}

// 12 runs: lr in {0.1, 0.01, 0.001} x seed in {0..3}; model constant; acc grows with lr and seed.
std::vector<std::string> make_runs(const std::string& home) {
  std::vector<std::string> ids;
  const double lrs[] = {0.1, 0.01, 0.001};
  for (int i = 0; i < 12; ++i) {
    Experiment e("grid", home);
    e.start(quiet());
    const double lr = lrs[i % 3];
    e.dump_info("params", json{{"lr", lr}, {"seed", i / 3}, {"model", "resnet"}, {"aug", {{"flip", i % 2 == 0}}}});
    e.dump_metric("acc", lr * 10 + (i / 3) * 0.01, "max", json::object());
    e.log_metric("loss", 1.0 / (i + 1), 5);
    e.flush_metrics();
    if (i == 4) e.add_tag("baseline");
    e.end(i == 11 ? "failed" : "finished");
    ids.push_back(e.test_name());
  }
  return ids;
}

std::vector<std::string> names(const RunPage& p) {
  std::vector<std::string> out;
  for (const auto& r : p.runs) out.push_back(r["test_name"]);
  return out;
}

class RunTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home = fresh_home(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ids = make_runs(home);
    store = std::make_unique<Store>(home);
    store->sync(nullptr);  // runs write files only; listing brings the index in line, as the panel does
    table = std::make_unique<RunTable>(store->index().path());
  }
  RunPage query(const std::string& filter, const std::string& sort = "", size_t offset = 0, size_t limit = 50) {
    RunQuery q;
    q.filter = filter;
    q.sort = sort;
    q.offset = offset;
    q.limit = limit;
    return table->query(q);
  }
  std::string home;
  std::vector<std::string> ids;
  std::unique_ptr<Store> store;
  std::unique_ptr<RunTable> table;
};

}  // namespace

TEST(FilterParse, ConditionsWordsAndQuotes) {
  const auto c = parse_filter("params.lr>=0.01 status=finished  best.acc<1 resnet model=\"res net\" x!=3 y~ab");
  ASSERT_EQ(c.size(), 7u);
  EXPECT_EQ(c[0].key, "params.lr");
  EXPECT_EQ(c[0].op, ">=");
  EXPECT_EQ(c[0].value, "0.01");
  EXPECT_EQ(c[3].key, "");
  EXPECT_EQ(c[3].value, "resnet");
  EXPECT_EQ(c[4].value, "res net");
  EXPECT_EQ(c[5].op, "!=");
  EXPECT_EQ(c[6].op, "~");
  EXPECT_THROW(parse_filter("=3"), InputError);
  EXPECT_THROW(parse_filter("a!3"), InputError);
  EXPECT_THROW(parse_filter("a=\"open"), InputError);
  EXPECT_THROW(parse_filter(std::string(5000, 'a')), InputError);
  EXPECT_TRUE(parse_filter("   ").empty());
}

TEST_F(RunTableTest, DefaultPageIsNewestFirstWithOnlyVaryingColumns) {
  const RunPage p = query("");
  EXPECT_EQ(p.total, 12u);
  ASSERT_EQ(p.runs.size(), 12u);
  EXPECT_EQ(p.runs[0]["test_name"], ids.back());
  std::vector<std::string> shown;
  for (const auto& c : p.columns) shown.push_back(c.key);
  EXPECT_EQ(shown, (std::vector<std::string>{"params.aug.flip", "params.lr", "params.seed", "best.acc", "last.loss"}));
  EXPECT_EQ(p.constant["params.model"], "resnet");
  EXPECT_EQ(p.runs[0]["values"]["params.lr"], 0.001);
  EXPECT_EQ(p.runs[0]["values"]["params.aug.flip"], false);
  EXPECT_FALSE(p.runs[0]["values"].contains("params.model"));
}

TEST_F(RunTableTest, FiltersOnParamsMetricsFieldsTagsAndWords) {
  EXPECT_EQ(query("params.lr=0.1").total, 4u);
  EXPECT_EQ(query("params.lr>0.005").total, 8u);
  EXPECT_EQ(query("params.lr<=0.01 params.seed=0").total, 2u);
  EXPECT_EQ(query("best.acc>=1").total, 4u);
  EXPECT_EQ(query("status=failed").total, 1u);
  EXPECT_EQ(query("status!=failed").total, 11u);
  EXPECT_EQ(query("tag=baseline").runs.at(0)["test_name"], ids[4]);
  EXPECT_EQ(query("baseline").total, 1u);  // a bare word finds the tag
  EXPECT_EQ(query("params.model=resnet").total, 12u);
  EXPECT_EQ(query("params.model~RES").total, 12u);
  EXPECT_EQ(query("params.aug.flip=true").total, 6u);
  EXPECT_EQ(query("name=grid duration>=0").total, 12u);
  EXPECT_EQ(query("params.lr!=0.1").total, 8u);
}

TEST_F(RunTableTest, UnderAFilterAKeyItFixesBecomesConstant) {
  const RunPage p = query("params.lr=0.1");
  EXPECT_EQ(p.constant["params.lr"], 0.1);
  for (const auto& c : p.columns) EXPECT_NE(c.key, "params.lr");
}

TEST_F(RunTableTest, UnknownKeysWarnAndMatchNothing) {
  const RunPage p = query("params.lrr>0.1");
  EXPECT_EQ(p.total, 0u);
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_NE(p.warnings[0].find("params.lrr"), std::string::npos);
  EXPECT_THROW(query("started>yesterday"), InputError);
  EXPECT_THROW(query("tag>3"), InputError);
}

TEST_F(RunTableTest, SortsByValuesBothWaysAndPages) {
  const RunPage up = query("", "best.acc");
  const RunPage down = query("", "-best.acc");
  ASSERT_EQ(up.runs.size(), 12u);
  double prev = -1;
  for (const auto& r : up.runs) {
    const double acc = r["values"]["best.acc"];
    EXPECT_GE(acc, prev);
    prev = acc;
  }
  std::vector<std::string> reversed = names(up);
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(names(down), reversed);
  // Pages of 5 cover the same runs in the same order.
  std::vector<std::string> paged;
  for (size_t offset = 0; offset < 12; offset += 5)
    for (const auto& n : names(query("", "-best.acc", offset, 5))) paged.push_back(n);
  EXPECT_EQ(paged, names(down));
  EXPECT_EQ(query("", "name").total, 12u);
  EXPECT_FALSE(query("", "nothing.here").warnings.empty());
}

TEST_F(RunTableTest, GroupsGiveMeanAndStd) {
  RunQuery q;
  q.group_by = {"params.lr"};
  const RunPage p = table->query(q);
  EXPECT_EQ(p.total_groups, 3u);
  ASSERT_EQ(p.groups.size(), 3u);
  const json& g = p.groups[0];  // ordered by the group's values: lr=0.001 first
  EXPECT_EQ(g["values"]["params.lr"], 0.001);
  EXPECT_EQ(g["runs"], 4);
  EXPECT_NEAR(g["metrics"]["best.acc"]["mean"].get<double>(), 0.01 + 0.015, 1e-9);
  EXPECT_GT(g["metrics"]["best.acc"]["std"].get<double>(), 0);
  EXPECT_EQ(g["metrics"]["best.acc"]["n"], 4);
}

TEST_F(RunTableTest, DeletedRunsAreHiddenUnlessAsked) {
  const RunRef ref = store->resolve(ids[0]);
  store->update(ref, [](json& r) { r["deleted"] = true; });
  EXPECT_EQ(query("").total, 11u);
  RunQuery q;
  q.include_deleted = true;
  EXPECT_EQ(table->query(q).total, 12u);
}

TEST_F(RunTableTest, ValuesFollowTheRunFile) {
  const RunRef ref = store->resolve(ids[0]);
  store->update(ref, [](json& r) { r["info"]["params"]["lr"] = 7.5; });
  EXPECT_EQ(query("params.lr=7.5").total, 1u);
  EXPECT_EQ(table->run_values(ids[0])["params.lr"], 7.5);
  // A rebuild (every row deleted and inserted) keeps the value tables right too.
  std::vector<std::string> warnings;
  store->rebuild(warnings);
  EXPECT_EQ(query("params.lr=7.5").total, 1u);
  EXPECT_EQ(query("").total, 12u);
}

// Many runs through the index's bulk path, each answer checked against a plain loop over the runs:
// deep pages, filters whose "which columns vary" pass stops early, deleted runs, a key only old runs have.
class ManyRunsTest : public ::testing::Test {
 protected:
  struct Synthetic {
    std::string test_name;
    double started, lr, acc;
    int seed;
    bool deleted, has_extra;
  };
  void SetUp() override {
    home = fresh_home(::testing::UnitTest::GetInstance()->current_test_info()->name());
    store = std::make_unique<Store>(home);
    std::vector<json> records;
    const double lrs[] = {0.1, 0.01, 0.001};
    for (int i = 0; i < 400; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "260101.%03d.a%d", i + 1, i % 10);
      Synthetic s{id,    1.7e9 + (i % 97) * 60 + i, lrs[i % 3], 0.5 + ((i * 37) % 100) / 250.0, i % 5, i % 23 == 0,
                  i < 10};
      json info = json{{"params", {{"lr", s.lr}, {"seed", s.seed}, {"model", "mlp"}, {"batch_size", 64}}}};
      if (s.has_extra) info["params"]["extra"] = i;
      records.push_back(json{{"name", "many"},
                             {"test_name", s.test_name},
                             {"status", "finished"},
                             {"started_at", s.started},
                             {"ended_at", s.started + 10},
                             {"deleted", s.deleted},
                             {"info", info},
                             {"metrics", {{"acc", {{"value", s.acc}, {"cmp", "max"}}}}},
                             {"last", {{"loss", {{"value", 1 - s.acc}, {"step", 3}}}}}});
      runs.push_back(s);
    }
    store->index().replace_all(records);
    table = std::make_unique<RunTable>(store->index().path());
  }
  // The oracle: matching runs newest first.
  std::vector<std::string> expected(const std::function<bool(const Synthetic&)>& keep) const {
    std::vector<const Synthetic*> m;
    for (const auto& s : runs)
      if (!s.deleted && keep(s)) m.push_back(&s);
    std::sort(m.begin(), m.end(), [](const Synthetic* a, const Synthetic* b) {
      return std::make_pair(a->started, a->test_name) > std::make_pair(b->started, b->test_name);
    });
    std::vector<std::string> out;
    for (const auto* s : m) out.push_back(s->test_name);
    return out;
  }
  RunPage query_of(const std::string& filter) {
    RunQuery q;
    q.filter = filter;
    return table->query(q);
  }
  std::vector<std::string> all_pages(const std::string& filter, const std::string& sort, size_t page_size) {
    std::vector<std::string> out;
    for (size_t offset = 0;; offset += page_size) {
      RunQuery q;
      q.filter = filter;
      q.sort = sort;
      q.offset = offset;
      q.limit = page_size;
      const RunPage p = table->query(q);
      for (const auto& n : names(p)) out.push_back(n);
      if (p.runs.size() < page_size) return out;
    }
  }
  std::string home;
  std::vector<Synthetic> runs;
  std::unique_ptr<Store> store;
  std::unique_ptr<RunTable> table;
};

TEST_F(ManyRunsTest, PagesAndFiltersAgreeWithALoopOverTheRuns) {
  const auto all = expected([](const Synthetic&) { return true; });
  EXPECT_EQ(all_pages("", "", 50), all);
  EXPECT_EQ(all_pages("", "-started", 37), all);
  const auto lr = expected([](const Synthetic& s) { return s.lr == 0.01 && s.acc > 0.6; });
  ASSERT_GT(lr.size(), 64u);  // more than one batch of the "which columns vary" pass
  EXPECT_EQ(all_pages("params.lr=0.01 best.acc>0.6", "", 50), lr);
  EXPECT_EQ(all_pages("params.lr!=0.01 params.seed<2", "", 30),
            expected([](const Synthetic& s) { return s.lr != 0.01 && s.seed < 2; }));
  EXPECT_EQ(all_pages("params.lr=0.01 best.acc>0.6 status=finished", "", 50), lr);
  EXPECT_TRUE(all_pages("params.lr=0.5", "", 50).empty());
  // Sorted by a value: every matching run once, in the value's order.
  const auto by_acc = all_pages("params.lr=0.01", "-best.acc", 40);
  EXPECT_EQ(by_acc.size(), expected([](const Synthetic& s) { return s.lr == 0.01; }).size());
  double prev = 2;
  for (const auto& name : by_acc) {
    const double acc = table->run_values(name)["best.acc"];
    EXPECT_LE(acc, prev);
    prev = acc;
  }
  // Runs without the sort key come last, on any page.
  const auto by_extra = all_pages("", "params.extra", 7);
  EXPECT_EQ(by_extra.size(), all.size());
  for (size_t i = 0; i < by_extra.size(); ++i)
    EXPECT_EQ(table->run_values(by_extra[i]).contains("params.extra"), i < 9) << i;  // run 0 is deleted
}

TEST_F(ManyRunsTest, VaryingColumnsUnderAFilterThatStopsEarly) {
  RunQuery q;
  q.filter = "params.lr=0.01 best.acc>0.6";  // ~100 runs: more than one batch of 64
  const RunPage p = table->query(q);
  std::map<std::string, ColumnInfo> cols;
  for (const auto& c : p.columns) cols[c.key] = c;
  EXPECT_EQ(p.constant["params.lr"], 0.01);        // pinned by the filter
  EXPECT_EQ(p.constant["params.model"], "mlp");    // one value in the whole store
  EXPECT_EQ(p.constant["params.batch_size"], 64);  // a key with '_' is not quoted
  EXPECT_TRUE(cols.count("params.seed") && cols["params.seed"].varies);
  EXPECT_TRUE(cols.count("best.acc") && cols["best.acc"].varies);
  EXPECT_FALSE(cols["best.acc"].counted);  // decided from the first runs
  // A key only the oldest runs have is still found (it varies: the newest lack it).
  const bool extra_matches =
      !expected([](const Synthetic& s) { return s.lr == 0.01 && s.acc > 0.6 && s.has_extra; }).empty();
  EXPECT_EQ(cols.count("params.extra") == 1, extra_matches);
  // A small filter is looked at whole: exact counts.
  q.filter = "params.lr=0.01 params.seed=1 best.acc>0.7";
  for (const auto& c : table->query(q).columns) EXPECT_TRUE(c.counted) << c.key;
}

TEST_F(ManyRunsTest, ADeletedRunChangesNothingButTheCount) {
  // Deleted runs exist here, so even the unfiltered page lists the matching runs itself.
  RunQuery q;
  const RunPage p = table->query(q);
  EXPECT_EQ(p.total, expected([](const Synthetic&) { return true; }).size());
  EXPECT_EQ(p.constant["params.model"], "mlp");
  q.include_deleted = true;
  EXPECT_EQ(table->query(q).total, runs.size());
}

// A filter whose conditions match no run, exactly one, or every run: the count, the pages, the
// columns and the constants agree with a loop over the runs, with value conditions alone (a set of
// ids) and with a condition on the row too (a walk in page order).
TEST_F(ManyRunsTest, FiltersMatchingNoRunOneRunOrEveryRun) {
  const auto all = expected([](const Synthetic&) { return true; });
  for (const char* filter : {"best.acc>2", "params.lr=0.5", "params.lr=0.1 params.lr=0.01",
                             "best.acc>2 status=finished", "params.model!=mlp"}) {
    const RunPage p = query_of(filter);
    EXPECT_EQ(p.total, 0u) << filter;
    EXPECT_TRUE(p.runs.empty()) << filter;
    EXPECT_TRUE(p.columns.empty()) << filter;
    EXPECT_TRUE(all_pages(filter, "-best.acc", 50).empty()) << filter;
  }
  // Run 5 alone has params.extra=5 (runs 0-9 have the key; run 0 is deleted).
  const std::string five = runs[5].test_name;
  for (const char* filter : {"params.extra=5", "params.extra=5 status=finished", "params.extra>4 params.extra<6",
                             "params.extra>=5 best.acc>0 params.extra<=5"}) {
    const RunPage p = query_of(filter);
    EXPECT_EQ(p.total, 1u) << filter;
    ASSERT_EQ(p.runs.size(), 1u) << filter;
    EXPECT_EQ(p.runs[0]["test_name"], five) << filter;
    EXPECT_EQ(p.constant["params.lr"], runs[5].lr) << filter;  // one run: every value is constant
    EXPECT_TRUE(p.columns.empty()) << filter;
    EXPECT_EQ(all_pages(filter, "params.seed", 1), std::vector<std::string>{five}) << filter;
  }
  EXPECT_EQ(query_of("id=" + five).total, 1u);
  for (const char* filter : {"best.acc>0", "params.model=mlp", "params.lr!=0.5", "best.acc>0 status=finished",
                             "params.batch_size=64 params.lr>0"}) {
    const RunPage p = query_of(filter);
    EXPECT_EQ(p.total, all.size()) << filter;
    EXPECT_EQ(all_pages(filter, "", 64), all) << filter;
    EXPECT_EQ(all_pages(filter, "-best.acc", 64).size(), all.size()) << filter;
    EXPECT_EQ(p.constant["params.model"], "mlp") << filter;
  }
  // With the deleted runs too, every run matches.
  RunQuery q;
  q.filter = "best.acc>0";
  q.include_deleted = true;
  EXPECT_EQ(table->query(q).total, runs.size());
}

// Groups under a filter agree with a loop over the runs, both for a filter matching many runs (each
// key's index range is read) and one matching few (each run's rows are read).
TEST_F(ManyRunsTest, GroupsUnderAFilterAgreeWithALoopOverTheRuns) {
  for (const auto& [filter, keep] : std::vector<std::pair<std::string, std::function<bool(const Synthetic&)>>>{
           {"best.acc>0.6", [](const Synthetic& s) { return s.acc > 0.6; }},
           {"params.seed=1 best.acc>0.8", [](const Synthetic& s) { return s.seed == 1 && s.acc > 0.8; }},
           {"", [](const Synthetic&) { return true; }},
           {"best.acc>2", [](const Synthetic&) { return false; }}}) {
    std::map<double, std::pair<size_t, double>> oracle;  // lr -> runs, sum of acc
    for (const auto& s : runs)
      if (!s.deleted && keep(s)) {
        oracle[s.lr].first++;
        oracle[s.lr].second += s.acc;
      }
    RunQuery q;
    q.filter = filter;
    q.group_by = {"params.lr"};
    const RunPage p = table->query(q);
    ASSERT_EQ(p.total_groups, oracle.size()) << filter;
    size_t i = 0;
    for (const auto& [lr, g] : oracle) {  // groups ordered by value, as the map
      const json& group = p.groups.at(i++);
      EXPECT_EQ(group["values"]["params.lr"], lr) << filter;
      EXPECT_EQ(group["runs"], g.first) << filter;
      EXPECT_NEAR(group["metrics"]["best.acc"]["mean"].get<double>(), g.second / g.first, 1e-9) << filter;
      EXPECT_EQ(group["metrics"]["best.acc"]["n"], g.first) << filter;
    }
  }
  // Two keys, one of them missing in most runs: those runs form the groups with null.
  RunQuery q;
  q.group_by = {"params.extra", "params.lr"};
  const RunPage p = table->query(q);
  size_t with_null = 0, runs_seen = 0;
  for (const auto& g : p.groups) {
    runs_seen += g["runs"].get<size_t>();
    if (g["values"]["params.extra"].is_null()) ++with_null;
  }
  EXPECT_EQ(with_null, 3u);            // one per lr
  EXPECT_EQ(p.total_groups, 9u + 3u);  // runs 1-9 alone, then the rest by lr
  EXPECT_EQ(runs_seen, expected([](const Synthetic&) { return true; }).size());
}

// A metric far from zero (a timestamp, a step count) with a small spread: its standard deviation is
// exact, not the noise left when sum(x^2) - n*mean^2 cancels.
TEST(RunTableGroups, StandardDeviationOfValuesFarFromZero) {
  const std::string home = fresh_home("groups_far_from_zero");
  Store store(home);
  std::vector<json> records;
  for (int i = 0; i < 6; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "260101.%03d.far", i + 1);
    records.push_back(json{{"name", "far"},
                           {"test_name", id},
                           {"status", "finished"},
                           {"started_at", 1.7e9 + i},
                           {"info", {{"params", {{"lr", i % 2}}}}},
                           {"metrics", {{"t", {{"value", 1.7e9 + 0.001 * (i / 2)}, {"cmp", "max"}}}}}});
  }
  store.index().replace_all(records);
  RunTable table(store.index().path());
  RunQuery q;
  q.group_by = {"params.lr"};
  const RunPage p = table.query(q);
  ASSERT_EQ(p.groups.size(), 2u);
  for (const json& g : p.groups) {
    EXPECT_EQ(g["runs"], 3);
    EXPECT_NEAR(g["metrics"]["best.t"]["mean"].get<double>(), 1.7e9 + 0.001, 1e-6);
    EXPECT_NEAR(g["metrics"]["best.t"]["std"].get<double>(), 0.001, 1e-6);
  }
}

// Runs with equal values sort by id, which a rebuild hands out in start order: ascending, the
// oldest first; descending, the newest first; every page agrees.
TEST_F(ManyRunsTest, EqualValuesSortInStartOrder) {
  std::vector<const Synthetic*> live;
  for (const auto& s : runs)
    if (!s.deleted) live.push_back(&s);
  auto by = [&](bool descending) {
    std::vector<const Synthetic*> m = live;
    std::sort(m.begin(), m.end(), [&](const Synthetic* a, const Synthetic* b) {
      const auto ka = std::make_tuple(a->lr, a->started, a->test_name),
                 kb = std::make_tuple(b->lr, b->started, b->test_name);
      return descending ? kb < ka : ka < kb;
    });
    std::vector<std::string> out;
    for (const auto* s : m) out.push_back(s->test_name);
    return out;
  };
  EXPECT_EQ(all_pages("", "params.lr", 37), by(false));
  EXPECT_EQ(all_pages("", "-params.lr", 37), by(true));
}
