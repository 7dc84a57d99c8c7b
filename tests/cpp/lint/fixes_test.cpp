#include "codedag/lint/fixes.hpp"

#include <gtest/gtest.h>

namespace codedag::lint {
namespace {

Finding with_fix(uint32_t start, uint32_t end, std::string text, Applicability a = Applicability::safe) {
  Finding f;
  f.code = "CDL013";
  Fix fix;
  fix.applicability = a;
  fix.edits.push_back(Edit{start, end, std::move(text)});
  f.fix = fix;
  return f;
}

TEST(ApplyFixes, NonOverlappingEditsApplyOverlappingOnesWait) {
  const std::string src = "abcdef";
  size_t applied = 0;
  const std::string out =
      apply_fixes(src, {with_fix(0, 1, "A"), with_fix(0, 2, "XY"), with_fix(4, 4, "-")}, false, applied);
  EXPECT_EQ(out, "Abcd-ef");
  EXPECT_EQ(applied, 2u);
}

TEST(ApplyFixes, UnsafeOnlyWhenAsked) {
  size_t applied = 0;
  EXPECT_EQ(apply_fixes("abc", {with_fix(0, 1, "Z", Applicability::unsafe)}, false, applied), "abc");
  EXPECT_EQ(applied, 0u);
  EXPECT_EQ(apply_fixes("abc", {with_fix(0, 1, "Z", Applicability::unsafe)}, true, applied), "Zbc");
}

TEST(ApplyFixes, OutOfRangeEditsAreRefused) {
  size_t applied = 0;
  EXPECT_EQ(apply_fixes("abc", {with_fix(2, 10, "")}, true, applied), "abc");
  EXPECT_EQ(applied, 0u);
}

TEST(FixSource, SafeFixesOnlyAndIdempotent) {
  LintSettings s;
  const std::string in =
      "def f(model, optimizer, x):\n    optimizer.zero_grad(set_to_none=False)\n    return model.forward(x)\n";
  const FixOutcome once = fix_source("f.py", in, s, false);
  EXPECT_EQ(once.fixed,
            "def f(model, optimizer, x):\n    optimizer.zero_grad(set_to_none=True)\n    return model(x)\n");
  EXPECT_EQ(once.applied, 2u);
  EXPECT_TRUE(once.remaining.empty());
  const FixOutcome twice = fix_source("f.py", once.fixed, s, false);
  EXPECT_EQ(twice.applied, 0u);
  EXPECT_EQ(twice.fixed, once.fixed);
}

TEST(UnifiedDiff, HunksWithContext) {
  const std::string a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
  const std::string b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n";
  EXPECT_EQ(unified_diff("f.py", a, b), "--- f.py\n+++ f.py\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
  EXPECT_EQ(unified_diff("f.py", a, a), "");
  EXPECT_EQ(
      unified_diff("f.py", "x", "y"),
      "--- f.py\n+++ f.py\n@@ -1,1 +1,1 @@\n-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n");
}

}  // namespace
}  // namespace codedag::lint
