// The fixture pairs of tests/lint/: each CDLnnn_* directory holds bad.py/good.py (checked with that
// rule alone), expected.txt (every finding as "file:line:col: CODE") and fix.in.py/fix.out.py (what
// --fix --unsafe-fixes makes of the one, and that fixing the other changes nothing). false_positives/
// and seed003/ are checked with every rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "codedag/common/atomic_file.hpp"
#include "codedag/lint/fixes.hpp"
#include "codedag/lint/linter.hpp"

namespace codedag::lint {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(CODEDAG_TEST_DATA).parent_path() / "lint";

LintSettings settings_for(const fs::path& dir) {
  LintSettings s;
  const std::string name = dir.filename().string();
  if (name.rfind("CDL", 0) == 0) s.select = {name.substr(0, 6)};
  return s;
}

std::vector<std::string> expected_lines(const fs::path& dir) {
  std::vector<std::string> out;
  std::ifstream in(dir / "expected.txt");
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> fixture_dirs() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kFixtures))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

TEST(LintFixtures, EveryRuleHasAFixtureDirectory) {
  std::set<std::string> codes;
  for (const auto& d : fixture_dirs()) codes.insert(d.filename().string().substr(0, 6));
  for (int i = 1; i <= 15; ++i) {
    char code[8];
    std::snprintf(code, sizeof code, "CDL%03d", i);
    EXPECT_TRUE(codes.count(code)) << "no tests/lint/" << code << "_* fixture";
  }
}

TEST(LintFixtures, FindingsMatchExpected) {
  for (const auto& dir : fixture_dirs()) {
    const LintSettings s = settings_for(dir);
    std::vector<std::string> actual;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (e.path().extension() != ".py" || name.rfind("fix.", 0) == 0) continue;
      for (const Finding& f : lint_source(name, read_file(e.path().string()), s))
        actual.push_back(name + ":" + std::to_string(f.line) + ":" + std::to_string(f.col) + ": " + f.code);
    }
    std::sort(actual.begin(), actual.end());
    std::ostringstream got;
    for (const auto& a : actual) got << a << "\n";
    EXPECT_EQ(actual, expected_lines(dir)) << "in " << dir.filename() << "; found:\n" << got.str();
  }
}

TEST(LintFixtures, BadFilesHaveFindingsAndGoodFilesNone) {
  for (const auto& dir : fixture_dirs()) {
    if (!fs::exists(dir / "bad.py")) continue;
    const LintSettings s = settings_for(dir);
    EXPECT_FALSE(lint_source("bad.py", read_file((dir / "bad.py").string()), s).empty()) << dir.filename();
    EXPECT_TRUE(lint_source("good.py", read_file((dir / "good.py").string()), s).empty()) << dir.filename();
  }
}

TEST(LintFixtures, FixesTurnInputIntoOutputAndAreIdempotent) {
  int pairs = 0;
  for (const auto& dir : fixture_dirs()) {
    if (!fs::exists(dir / "fix.in.py")) continue;
    ++pairs;
    const LintSettings s = settings_for(dir);
    const std::string in = read_file((dir / "fix.in.py").string());
    const std::string out = read_file((dir / "fix.out.py").string());
    const FixOutcome fixed = fix_source("fix.in.py", in, s, /*unsafe_fixes=*/true);
    EXPECT_GT(fixed.applied, 0u) << dir.filename();
    EXPECT_EQ(fixed.fixed, out) << dir.filename() << "\n" << unified_diff("fix.out.py", out, fixed.fixed);
    const FixOutcome again = fix_source("fix.out.py", out, s, true);
    EXPECT_EQ(again.applied, 0u) << dir.filename() << ": fixing the fixed file changed it again";
    EXPECT_EQ(again.fixed, out) << dir.filename();
  }
  EXPECT_GE(pairs, 11);
}

}  // namespace
}  // namespace codedag::lint
