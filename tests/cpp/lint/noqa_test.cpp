#include "codedag/lint/noqa.hpp"

#include <gtest/gtest.h>

namespace codedag::lint {
namespace {

TEST(Noqa, CodesBlanketAndCodedagSpelling) {
  auto t = Tree::parse(SourceText("f.py",
                                  "a = 1  # noqa: CDL001, CDL002\n"
                                  "b = 2  # NOQA\n"
                                  "c = '# noqa'\n"
                                  "d = 4  # codedag: ignore[CDL006]\n"
                                  "e = 5  # codedag: ignore\n"
                                  "f = 6  # noqa:CDL01\n"));
  const auto table = read_suppressions(*t);
  EXPECT_TRUE(suppressed(table, 1, "CDL001"));
  EXPECT_TRUE(suppressed(table, 1, "CDL002"));
  EXPECT_FALSE(suppressed(table, 1, "CDL003"));
  EXPECT_TRUE(suppressed(table, 2, "CDL009"));
  EXPECT_FALSE(suppressed(table, 3, "CDL001"));  // inside a string: not a comment
  EXPECT_TRUE(suppressed(table, 4, "CDL006"));
  EXPECT_FALSE(suppressed(table, 4, "CDL001"));
  EXPECT_TRUE(suppressed(table, 5, "CDL015"));
  EXPECT_TRUE(suppressed(table, 6, "CDL013"));  // a prefix
  EXPECT_FALSE(suppressed(table, 6, "CDL003"));
}

}  // namespace
}  // namespace codedag::lint
