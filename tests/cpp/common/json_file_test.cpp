#include "codedag/common/json_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "codedag/common/error.hpp"

namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const codedag::FormatError& e) {
    return e.what();
  }
  return "(no FormatError)";
}

TEST(JsonFile, ParseErrorNamesLineAndColumn) {
  const std::string e = error_of([] { codedag::parse_json("{\n  \"a\": 1,\n  \"b\": ]\n}", "conf.json"); });
  EXPECT_NE(e.find("conf.json:3:8:"), std::string::npos) << e;
}

TEST(JsonFile, TypeNames) {
  EXPECT_STREQ(codedag::json_type_name(codedag::json::array()), "array");
  EXPECT_STREQ(codedag::json_type_name(codedag::json(1.5)), "number");
  EXPECT_STREQ(codedag::json_type_name(codedag::json("x")), "string");
}

// Found by the DAG loader's fuzz corpus: a number out of double range must be a FormatError.
TEST(JsonFile, NumberOverflowIsFormatError) {
  EXPECT_THROW(codedag::parse_json("{\"a\": 1e400}", "big.json"), codedag::FormatError);
  // Python's 10**400 written as an integer literal.
  const std::string e = error_of([] { codedag::parse_json("[1" + std::string(400, '0') + "]", "int.json"); });
  EXPECT_NE(e.find("int.json:1:"), std::string::npos) << e;
}

// 50 000 nested arrays overflowed the stack of the walks after parsing (dump, copy, Python
// conversion) in every format; the parser now stops at the limit and says where.
TEST(JsonFile, DeepNestingIsRefusedWithPosition) {
  const std::string deep = std::string(50000, '[') + std::string(50000, ']');
  const std::string e = error_of([&] { codedag::parse_json(deep, "deep.json"); });
  EXPECT_NE(e.find("deep.json:1:257: nested more than 256 levels"), std::string::npos) << e;
  const std::string objects = [] {
    std::string s;
    for (int i = 0; i < 300; ++i) s += "{\"a\":";
    s += "1";
    for (int i = 0; i < 300; ++i) s += "}";
    return s;
  }();
  EXPECT_THROW(codedag::parse_json(objects, "o.json"), codedag::FormatError);
  // Exactly at the limit is fine.
  const std::string ok = std::string(256, '[') + std::string(256, ']');
  EXPECT_NO_THROW(codedag::parse_json(ok, "ok.json"));
  codedag::JsonLimits tight;
  tight.max_depth = 2;
  EXPECT_THROW(codedag::parse_json("[[[]]]", "t.json", tight), codedag::FormatError);
  EXPECT_NO_THROW(codedag::parse_json("[[]]", "t.json", tight));
}

TEST(JsonFile, IllFormedUtf8IsFormatError) {
  EXPECT_THROW(codedag::parse_json("{\"a\": \"\xff\xfe\"}", "u.json"), codedag::FormatError);
  EXPECT_THROW(codedag::parse_json("{\"a\": \"\xc0\xaf\"}", "overlong.json"), codedag::FormatError);
  EXPECT_THROW(codedag::parse_json("{\"a\": \"\xed\xa0\x80\"}", "surrogate.json"), codedag::FormatError);
  EXPECT_THROW(codedag::parse_json("{\"a\": \"\\ud800\"}", "lone.json"), codedag::FormatError);
  EXPECT_THROW(codedag::parse_json("\xff", "byte.json"), codedag::FormatError);
  EXPECT_EQ(codedag::parse_json("{\"a\": \"\xe6\x97\xa5\"}", "ok.json")["a"], "\xe6\x97\xa5");
}

TEST(JsonFile, SizeLimit) {
  codedag::JsonLimits small;
  small.max_bytes = 8;
  EXPECT_THROW(codedag::parse_json("[1,2,3,4,5]", "s.json", small), codedag::FormatError);
  EXPECT_NO_THROW(codedag::parse_json("[1,2,3]", "s.json", small));
}

TEST(JsonFile, TryParseNeverThrows) {
  std::string why;
  EXPECT_FALSE(codedag::try_parse_json("[", {}, &why));
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(codedag::try_parse_json(std::string(1000, '['), {}, &why));
  EXPECT_NE(why.find("nested"), std::string::npos) << why;
  const auto ok = codedag::try_parse_json("{\"k\": [1, 2.5, null, true, \"s\"]}");
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)["k"][1], 2.5);
  EXPECT_EQ(*ok, codedag::json::parse("{\"k\": [1, 2.5, null, true, \"s\"]}"));
}

TEST(JsonFile, SameDocumentsAsNlohmann) {
  for (const char* text : {"0", "-1", "18446744073709551615", "1.5e3", "\"x\"", "[]", "{}", "[[1],{\"a\":[{}]}]",
                           "{\"a\":1,\"a\":2}", " \t\n{\"\\u00e9\\n\": \"\\\"\"} "})
    EXPECT_EQ(codedag::parse_json(text, "t"), codedag::json::parse(text)) << text;
}

TEST(JsonFile, DocumentNamesFieldAndLine) {
  const auto doc = codedag::JsonDocument::parse(
      "{\n \"schema\": \"x\",\n \"nodes\": [\n  {\"id\": 1},\n  {\"id\": \"two\"}\n ],\n \"a/b\": {\"c\": 5}\n}",
      "g.json");
  const std::string e = doc.error("/nodes/1/id", "must be an integer").what();
  EXPECT_EQ(e, "g.json:5:4: field /nodes/1/id: must be an integer");
  EXPECT_EQ(doc.where("/schema"), "g.json:2:2");
  EXPECT_EQ(doc.where("/nodes/1"), "g.json:5:3");
  EXPECT_EQ(doc.where("/a~1b/c"), "g.json:7:10");
  EXPECT_EQ(doc.where("/missing"), "g.json");
  EXPECT_EQ(doc.where(""), "g.json:1:1");
}

class JsonFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("codedag_json_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(JsonFiles, LoadChecksSizeBeforeReading) {
  const std::string path = (dir_ / "big.json").string();
  std::ofstream(path) << "[" << std::string(100, ' ') << "]";
  codedag::JsonLimits small;
  small.max_bytes = 50;
  const std::string e = error_of([&] { codedag::load_json_file(path, small); });
  EXPECT_NE(e.find("102 bytes, more than the limit of 50"), std::string::npos) << e;
  EXPECT_EQ(codedag::load_json_file(path), codedag::json::array());
}

TEST_F(JsonFiles, FifoAndDirectoryAreRefusedWithoutBlocking) {
  const std::string fifo = (dir_ / "pipe.json").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(codedag::load_json_file(fifo), codedag::FormatError);
  EXPECT_THROW(codedag::load_json_file(dir_.string()), codedag::FormatError);
  EXPECT_THROW(codedag::load_json_file((dir_ / "absent.json").string()), codedag::NotFoundError);
}

}  // namespace
