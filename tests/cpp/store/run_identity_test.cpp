// The one check for names, test_names and archive paths (run_identity.hpp).
#include "codedag/store/run_identity.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"

using namespace codedag;
using namespace codedag::store;

TEST(RunIdentity, NamesFollowTheCreationRules) {
  for (const char* ok : {"moco", "moco_v2-1.0", "_private", "A1"}) EXPECT_NO_THROW(validate_experiment_name(ok)) << ok;
  for (const char* bad : {"", "a/b", ".hidden", "-flag", "x..y", "end.", "x.lock", "has space", "../../x",
                          "refs/heads/main", "a\nb", "tab\t"})
    EXPECT_THROW(validate_experiment_name(bad), InputError) << bad;
  EXPECT_THROW(validate_experiment_name(std::string(101, 'a')), InputError);
  EXPECT_THROW(validate_experiment_name(std::string("nul\0byte", 8)), InputError);
}

// Non-ASCII names used to raise UnicodeDecodeError in Python: the message cut a UTF-8 character.
TEST(RunIdentity, NonAsciiNameIsAClearErrorNamingTheWholeCharacter) {
  try {
    validate_experiment_name("实验");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has '实' at position 0"), std::string::npos) << e.what();
  }
  try {
    validate_experiment_name("bad\xff");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("\\xff"), std::string::npos) << e.what();
  }
}

TEST(RunIdentity, TestNames) {
  for (const char* ok : {"230306.012.d5t", "230306.1000.abc", "230306.001.a", "991231.123456789.0123456789abcdef"})
    EXPECT_TRUE(looks_like_test_name(ok)) << ok;
  for (const char* bad :
       {"230306.d5t", "run.json", "230306.12.d5t", "230306.012.D5T", "230306.012.d5t/..", "23030a.012.d5t",
        "230306.012.", "230306.0123456789.x", "230306.012.0123456789abcdefg", "230306.012.d5t ", ""})
    EXPECT_FALSE(looks_like_test_name(bad)) << bad;
}

TEST(RunIdentity, CheckedIdsFromFilesAreFormatErrors) {
  EXPECT_EQ(checked_run_id("m", "230306.012.d5t").ref(), "refs/codedag/m/230306.012.d5t");
  EXPECT_THROW(checked_run_id("../../x", "230306.012.d5t", "archive.tar:codedag-backup.json"), FormatError);
  EXPECT_THROW(checked_run_id("m", "230306.012.d5t/../..", "run.json"), FormatError);
  EXPECT_THROW(checked_run_id("m", "x"), InputError);
}

TEST(RunIdentity, SafeRelativePaths) {
  for (const char* ok : {"info/run.json", "blob/sub/model.pt", "a", "x/.hidden", "名前/ファイル"})
    EXPECT_TRUE(is_safe_relative_path(ok)) << ok;
  for (const char* bad : {"", "/etc/passwd", "../x", "blob/../..", "blob/./x", "a//b", "a/", "x/..", "a\x01b"})
    EXPECT_FALSE(is_safe_relative_path(bad)) << bad;
  EXPECT_FALSE(is_safe_relative_path(std::string(256, 'a')));
}
