// run.json: bounded parsing and checking of every field the engine acts on (run_file.hpp).
#include "codedag/store/run_file.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"
#include "store_test_util.hpp"

using namespace codedag;
using namespace codedag::store;

namespace {

std::string error_of(const std::string& text, const RunId* expected = nullptr) {
  try {
    validate_run_record(JsonDocument::parse(text, "run.json"), expected);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

const char* kGood = R"({"schema": "codedag.run/1", "name": "m", "test_name": "230306.012.d5t", "status": "finished",
 "started_at": 1.5, "argv": ["python", "t.py"], "tags": ["a"], "metrics": {"acc": {"value": 0.9, "cmp": "max"}},
 "last": {"loss": {"value": null, "step": 3}},
 "git": {"present": true, "ref": "refs/codedag/m/230306.012.d5t", "commit": "0123456789abcdef0123456789abcdef01234567",
         "toplevel": "/repo", "cwd_rel": "src"}})";

}  // namespace

TEST(RunFile, AValidRecordPasses) { EXPECT_EQ(error_of(kGood), ""); }

// One run.json with "status": 5 broke ls, show and index rebuild for the whole store.
TEST(RunFile, WrongTypesNameFileFieldAndLine) {
  EXPECT_EQ(error_of("{\"name\": \"m\",\n \"test_name\": \"230306.012.d5t\",\n \"status\": 5}"),
            "run.json:3:2: field /status: must be string, found number");
  EXPECT_NE(error_of(R"({"name": "m", "test_name": "230306.012.d5t", "status": "exploded"})").find("not a status"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name": "m", "test_name": "230306.012.d5t", "tags": [1]})").find("/tags/0"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name": "m", "test_name": "230306.012.d5t", "argv": "rm -rf /"})").find("/argv"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name": "m", "test_name": "230306.012.d5t", "metrics": {"a": 1}})").find("/metrics/a"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name": "m", "test_name": "230306.012.d5t", "started_at": null})").find("/started_at"),
            std::string::npos);
  EXPECT_NE(error_of("[]").find("must be a JSON object"), std::string::npos);
}

// A restored run.json naming `../../x` made gc erase a directory outside the store; one naming
// another repository's refs/heads/main made gc delete that branch.
TEST(RunFile, IdentityAndSnapshotFieldsCannotPointElsewhere) {
  EXPECT_NE(error_of(R"({"name": "../../x", "test_name": "230306.012.d5t"})").find("/name"), std::string::npos);
  EXPECT_NE(error_of(R"({"name": "m", "test_name": "../.."})").find("not a test_name"), std::string::npos);
  const RunId other{"other", "230306.012.d5t"};
  EXPECT_NE(error_of(kGood, &other).find("belongs to other/230306.012.d5t"), std::string::npos);
  const std::string base = R"({"name": "m", "test_name": "230306.012.d5t", "git": {"present": true, )";
  EXPECT_NE(error_of(base + R"("ref": "refs/heads/main"}})").find("can only be refs/codedag/m/230306.012.d5t"),
            std::string::npos);
  EXPECT_NE(error_of(base + R"("commit": "--upload-pack=evil"}})").find("/git/commit"), std::string::npos);
  EXPECT_NE(error_of(base + R"("toplevel": "relative/repo"}})").find("/git/toplevel"), std::string::npos);
  EXPECT_NE(error_of(base + R"("cwd_rel": "../../../etc"}})").find("/git/cwd_rel"), std::string::npos);
  // An absent snapshot may say anything about why.
  EXPECT_EQ(error_of(R"({"name": "m", "test_name": "230306.012.d5t", "git": {"present": false, "reason": "x"}})"), "");
}

// JSON nested ~50k deep in a run.json segfaulted ls, index rebuild and Watcher.
TEST(RunFile, DeepNestingAndHugeNumbersAreFormatErrors) {
  const std::string home = fresh_home("run_file_deep");
  const std::string dir = home + "/info/m/230306.012.d5t";
  write_text(dir + "/run.json", R"({"name": "m", "test_name": "230306.012.d5t", "info": )" + std::string(50000, '[') +
                                    std::string(50000, ']') + "}");
  EXPECT_THROW(load_run(dir), FormatError);
  write_text(dir + "/run.json",
             R"({"name": "m", "test_name": "230306.012.d5t", "info": {"x": 1)" + std::string(400, '0') + "}}");
  EXPECT_THROW(load_run(dir), FormatError);
  write_text(dir + "/run.json", "{\"name\": \"m\", \"test_name\": \"230306.012.d5t\", \"info\": {\"x\": \"\xff\"}}");
  EXPECT_THROW(load_run(dir), FormatError);
}
