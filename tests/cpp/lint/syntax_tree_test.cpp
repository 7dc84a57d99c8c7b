#include "codedag/lint/syntax_tree.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"

namespace codedag::lint {
namespace {

TEST(SourceText, LinesAndColumnsCountCharacters) {
  const SourceText s("f.py", "a = 1\nπ = 'é'; b = 2\n");
  EXPECT_EQ(s.line_of(0), 1u);
  EXPECT_EQ(s.line_of(6), 2u);
  const uint32_t b = static_cast<uint32_t>(s.bytes().find("b ="));
  EXPECT_EQ(s.column_of(b), 10u);  // π and é are one column each
  EXPECT_EQ(s.line_text(2), "π = 'é'; b = 2");
  EXPECT_EQ(s.line_count(), 3u);
}

TEST(SourceText, IndentationOfALine) {
  const SourceText s("f.py", "if x:\n    \ty = 1\n");
  EXPECT_EQ(s.indentation_at(static_cast<uint32_t>(s.bytes().find('y'))), "    \t");
}

TEST(Utf8, FindsTheFirstInvalidByte) {
  EXPECT_EQ(first_invalid_utf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(first_invalid_utf8("é漢😀"), std::string_view::npos);
  EXPECT_EQ(first_invalid_utf8("ab\xff"), 2u);
  EXPECT_EQ(first_invalid_utf8("ab\xc3"), 2u);            // truncated
  EXPECT_EQ(first_invalid_utf8("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(first_invalid_utf8("x\xed\xa0\x80"), 1u);     // a UTF-16 surrogate
  EXPECT_EQ(first_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
}

TEST(Tree, ParsesPythonWithFields) {
  auto t = Tree::parse(SourceText("f.py", "for i, b in enumerate(loader):\n    loss.backward()\n"));
  const Node root = t->root();
  ASSERT_EQ(root.kind(), "module");
  const Node loop = root.named_child(0);
  EXPECT_EQ(loop.kind(), "for_statement");
  EXPECT_EQ(loop.field("right").text(t->source()), "enumerate(loader)");
  EXPECT_FALSE(root.has_error());
}

TEST(Tree, SyntaxErrorsBecomeErrorNodesNotExceptions) {
  auto t = Tree::parse(SourceText("f.py", "def f(:\n    return 1\nx = 2\n"));
  EXPECT_TRUE(t->root().has_error());
}

TEST(Tree, RefusesFilesOverTheSizeLimit) {
  ParseLimits limits;
  limits.max_bytes = 16;
  try {
    Tree::parse(SourceText("big.py", std::string(100, '#')), limits);
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("big.py"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("extend-exclude"), std::string::npos);
  }
}

TEST(StringLiteral, PlainStringsOnly) {
  auto t = Tree::parse(SourceText("f.py", "a = 'abc'\nb = f'{x}'\n"));
  const auto value = [&](int i) {
    return string_literal_value(t->root().named_child(i).named_child(0).field("right"), t->source());
  };
  EXPECT_EQ(value(0), "abc");
  EXPECT_EQ(value(1), "");
}

}  // namespace
}  // namespace codedag::lint
