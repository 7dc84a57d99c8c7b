#include "codedag/common/terminal.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::string capture(const codedag::term::Style& style, void (*write)(codedag::term::Printer&)) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  {
    codedag::term::Printer p(f, style);
    write(p);
  }
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

TEST(Terminal, PlainWhenNoColour) {
  const auto out = capture({false, false, false}, [](codedag::term::Printer& p) { p.ok("done"); });
  EXPECT_EQ(out, "✓ done\n");
}

TEST(Terminal, ColourWhenAsked) {
  const auto out = capture({true, true, false}, [](codedag::term::Printer& p) { p.fail("bad"); });
  EXPECT_NE(out.find("\x1b[31m"), std::string::npos);
  EXPECT_NE(out.find("bad"), std::string::npos);
}

TEST(Terminal, SilentOnNonZeroRank) {
  const auto out = capture({false, false, true}, [](codedag::term::Printer& p) {
    p.ok("x");
    p.summary("tests", 1, 0);
  });
  EXPECT_EQ(out, "");
}

TEST(Terminal, NoColorEnvironmentWins) {
  ::setenv("NO_COLOR", "1", 1);
  ::setenv("FORCE_COLOR", "1", 1);
  EXPECT_FALSE(codedag::term::detect_style(stdout).colour);
  ::unsetenv("NO_COLOR");
  EXPECT_TRUE(codedag::term::detect_style(stdout).colour);
  ::unsetenv("FORCE_COLOR");
}

TEST(Terminal, RankFromEnvironment) {
  ::setenv("RANK", "3", 1);
  EXPECT_TRUE(codedag::term::detect_style(stdout).silent);
  ::setenv("RANK", "0", 1);
  EXPECT_FALSE(codedag::term::detect_style(stdout).silent);
  ::unsetenv("RANK");
}

TEST(Terminal, TableAlignsColumns) {
  const auto out = capture({false, false, false}, [](codedag::term::Printer& p) {
    p.table({"name", "n"}, {{"alpha", "1"}, {"b", "100"}});
  });
  EXPECT_EQ(out, "name   n\nalpha    1\nb      100\n");
}

TEST(Terminal, SummaryLine) {
  const auto out = capture({false, false, false}, [](codedag::term::Printer& p) { p.summary("sweep", 3, 1); });
  EXPECT_EQ(out, "sweep: 3 passed, 1 failed\n");
}

TEST(Terminal, Units) {
  EXPECT_EQ(codedag::term::format_ns(1500), "1.50 us");
  EXPECT_EQ(codedag::term::format_ns(2.5e9), "2.50 s");
  EXPECT_EQ(codedag::term::format_bytes(2048), "2.0 KiB");
}

}  // namespace

namespace {

// Tags, notes, params and argv are printed by ls/show/diff: none of them may drive the terminal.
TEST(Terminal, PrintableEscapesControlSequences) {
  using codedag::term::printable;
  EXPECT_EQ(printable("plain text, 日本語"), "plain text, 日本語");
  EXPECT_EQ(printable("\x1b[2J\x1b]0;title\x07"), "\\x1b[2J\\x1b]0;title\\x07");
  EXPECT_EQ(printable("a\rb\bc\x7f"), "a\\x0db\\x08c\\x7f");
  EXPECT_EQ(printable("\xc2\x9b"
                      "31m"),
            "\\u009b31m");  // C1 CSI
  EXPECT_EQ(printable("evil\xe2\x80\xae"
                      "gpj.exe"),
            "evil\\u202egpj.exe");  // right-to-left override
  EXPECT_EQ(printable("bad \xff\xfe utf8 \xc0\xaf"), "bad \\xff\\xfe utf8 \\xc0\\xaf");
  EXPECT_EQ(printable(std::string("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(printable("two\nlines\tx"), "two\\x0alines\\x09x");
  EXPECT_EQ(printable("two\nlines\tx", true), "two\nlines\tx");
}

}  // namespace
