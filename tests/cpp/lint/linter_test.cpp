// Bad input: the engine reports and goes on — never crashes, hangs or hides that it skipped something.
#include "codedag/lint/linter.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace codedag::lint {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> codes(const std::vector<Finding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(f.code);
  return out;
}

TEST(LintSource, SyntaxErrorIsReportedAndTheRestIsChecked) {
  const std::string src =
      "def broken(:\n    pass\n\n"
      "def train(model, optimizer):\n    optimizer.zero_grad(set_to_none=False)\n";
  const auto f = lint_source("f.py", src, LintSettings{});
  ASSERT_GE(f.size(), 2u);
  EXPECT_EQ(f[0].code, "CDL000");
  EXPECT_EQ(f[0].line, 1u);
  EXPECT_NE(f[0].message.find("syntax error"), std::string::npos);
  EXPECT_EQ(f.back().code, "CDL009");
  EXPECT_EQ(f.back().line, 5u);
}

TEST(LintSource, NotUtf8) {
  const auto f = lint_source("f.py", "x = 1\ny = '\xff'\n", LintSettings{});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "CDL000");
  EXPECT_EQ(f[0].line, 2u);
  EXPECT_NE(f[0].message.find("not UTF-8"), std::string::npos);
}

TEST(LintSource, DeepNestingIsBoundedAndSaidSo) {
  // 3000 nested parentheses and a 20000-term sum: no stack overflow, a CDL000 that says what was skipped.
  std::string deep = "x = " + std::string(3000, '(') + "1" + std::string(3000, ')') + "\n";
  std::string wide = "y = 1";
  for (int i = 0; i < 20000; ++i) wide += " + 1";
  const auto f = lint_source("deep.py", deep + wide + "\n", LintSettings{});
  ASSERT_FALSE(f.empty());
  for (const auto& x : f) EXPECT_EQ(x.code, "CDL000");
  EXPECT_NE(f[0].message.find("nesting deeper than"), std::string::npos) << f[0].message;
}

TEST(LintSource, EmptyAndCommentOnlyFiles) {
  EXPECT_TRUE(lint_source("e.py", "", LintSettings{}).empty());
  EXPECT_TRUE(lint_source("c.py", "# nothing\n", LintSettings{}).empty());
}

TEST(LintSource, NoqaHidesOnlyTheNamedCode) {
  const std::string src =
      "def f(model, o, x):\n    o.zero_grad(set_to_none=False)  # noqa: CDL009\n    return model.forward(x)  # noqa: "
      "CDL009\n";
  EXPECT_EQ(codes(lint_source("f.py", src, LintSettings{})), std::vector<std::string>{"CDL013"});
}

// Plain writes: 2000 fsync'ed atomic writes would only test the disk.
void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

TEST(Files, DiscoveryExcludesAndThousandsOfFiles) {
  char tmpl[] = "/tmp/codedag-lint-files-XXXXXX";
  const fs::path root = mkdtemp(tmpl);
  for (int i = 0; i < 2000; ++i)
    write(root / ("pkg" + std::to_string(i % 20)) / ("m" + std::to_string(i) + ".py"),
          "def f(o):\n    o.zero_grad(set_to_none=False)\n");
  write(root / ".venv" / "lib" / "x.py", "import torch\n");
  write(root / "notes.txt", "not python");
  write(root / "bad.py", std::string("x = '\xff'\n"));
  LintSettings s;
  const DiscoveredFiles d = discover_files({root.string()}, s);
  EXPECT_EQ(d.files.size(), 2001u);
  EXPECT_GE(d.excluded, 1u);
  const LintRun run = lint_files(d.files, s, 2);
  EXPECT_EQ(run.files_checked, 2001u);
  EXPECT_EQ(run.findings.size(), 2001u);
  EXPECT_EQ(run.files_with_problems, 1u);
  // Findings come out sorted by path whatever thread produced them.
  for (size_t i = 1; i < run.findings.size(); ++i) EXPECT_LE(run.findings[i - 1].path, run.findings[i].path);
  const DiscoveredFiles capped = discover_files({root.string()}, s, 10);
  EXPECT_EQ(capped.files.size(), 10u);
  EXPECT_TRUE(capped.truncated);
  EXPECT_EQ(discover_files({(root / "missing").string()}, s).missing.size(), 1u);
  fs::remove_all(root);
}

TEST(Files, UnreadableFileIsAFinding) {
  std::string bytes;
  Finding problem;
  EXPECT_FALSE(read_source("/nonexistent/x.py", bytes, problem));
  EXPECT_EQ(problem.code, "CDL000");
  EXPECT_NE(problem.message.find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace codedag::lint
