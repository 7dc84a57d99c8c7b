#include "codedag/lint/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"

namespace codedag::lint {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/codedag-lint-config-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(Glob, StarsAndDoubleStars) {
  EXPECT_TRUE(glob_match("tests/*", "tests/test_a.py"));
  EXPECT_FALSE(glob_match("tests/*", "tests/sub/test_a.py"));
  EXPECT_TRUE(glob_match("tests/**", "tests/sub/test_a.py"));
  EXPECT_TRUE(glob_match("**/test_*.py", "a/b/test_x.py"));
  EXPECT_TRUE(glob_match("**/test_*.py", "test_x.py"));
  EXPECT_TRUE(glob_match("*.py", "train.py"));
  EXPECT_FALSE(glob_match("*.py", "train.pyc"));
}

TEST(Settings, SelectIgnoreAndPerFileIgnores) {
  TempDir d;
  write_file_atomic((d.path / "pyproject.toml").string(),
                    "[project]\nname = 'x'\n[tool.codedag.lint]\nselect = [\"CDL00\"]\nextend-select = [\"CDL013\"]\n"
                    "ignore = [\"CDL006\"]\nper-file-ignores = { \"tests/*\" = [\"CDL004\"] }\n"
                    "hot-loop-functions = [\"train_one\"]\nsmall-data = true\n");
  fs::create_directories(d.path / "pkg" / "sub");
  const LintSettings s = load_settings((d.path / "pkg" / "sub").string());
  EXPECT_EQ(s.config_path, (d.path / "pyproject.toml").string());
  const std::string train = (d.path / "train.py").string(), test = (d.path / "tests" / "t.py").string();
  EXPECT_TRUE(s.enabled("CDL001", train));
  EXPECT_FALSE(s.enabled("CDL010", train));  // not under CDL00
  EXPECT_TRUE(s.enabled("CDL013", train));   // extend-select
  EXPECT_FALSE(s.enabled("CDL006", train));  // ignore
  EXPECT_TRUE(s.enabled("CDL004", train));
  EXPECT_FALSE(s.enabled("CDL004", test));  // per-file-ignores
  EXPECT_EQ(s.hot_loop_functions, std::vector<std::string>{"train_one"});
  EXPECT_TRUE(s.small_data);
}

TEST(Settings, SkipsAPyprojectWithoutTheTable) {
  TempDir d;
  write_file_atomic((d.path / "pyproject.toml").string(), "[tool.codedag.lint]\nignore = [\"CDL012\"]\n");
  fs::create_directories(d.path / "inner");
  write_file_atomic((d.path / "inner" / "pyproject.toml").string(), "[project]\nname = 'inner'\n");
  const LintSettings s = load_settings((d.path / "inner").string());
  EXPECT_EQ(s.ignore, std::vector<std::string>{"CDL012"});
}

TEST(Settings, BadTomlNamesFileLineAndKey) {
  TempDir d;
  const std::string p = (d.path / "pyproject.toml").string();
  write_file_atomic(p, "[tool.codedag.lint]\nselect = \"CDL001\"\n");
  try {
    load_settings(d.path.string());
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(p + ":2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("select must be a list of strings"), std::string::npos);
  }
  write_file_atomic(p, "[tool.codedag.lint]\nselct = [\"CDL001\"]\n");
  EXPECT_THROW(load_settings(d.path.string()), FormatError);  // unknown key: a typo is not ignored
  write_file_atomic(p, "[tool.codedag.lint\nselect = [\n");
  try {
    load_settings(d.path.string());
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("(TOML)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_settings(d.path.string(), (d.path / "missing.toml").string()), NotFoundError);
}

TEST(Settings, DefaultExcludesAndExtendExclude) {
  LintSettings s;
  EXPECT_TRUE(s.excluded("proj/.venv"));
  EXPECT_TRUE(s.excluded("proj/__pycache__"));
  EXPECT_FALSE(s.excluded("proj/train.py"));
  s.extend_exclude = {"generated"};
  EXPECT_TRUE(s.excluded("proj/generated"));
}

}  // namespace
}  // namespace codedag::lint
