#include "codedag/common/json_file.hpp"

#include <gtest/gtest.h>

#include "codedag/common/error.hpp"

namespace {

TEST(JsonFile, ParseErrorNamesLineAndColumn) {
  try {
    codedag::parse_json("{\n  \"a\": 1,\n  \"b\": ]\n}", "conf.json");
    FAIL() << "expected FormatError";
  } catch (const codedag::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("conf.json:3:"), std::string::npos) << e.what();
  }
}

TEST(JsonFile, TypeNames) {
  EXPECT_STREQ(codedag::json_type_name(codedag::json::array()), "array");
  EXPECT_STREQ(codedag::json_type_name(codedag::json(1.5)), "number");
  EXPECT_STREQ(codedag::json_type_name(codedag::json("x")), "string");
}

}  // namespace

namespace {

// Found by the DAG loader's fuzz corpus: a number out of double range must be a FormatError.
TEST(JsonFile, NumberOverflowIsFormatError) {
  EXPECT_THROW(codedag::parse_json("{\"a\": 1e400}", "big.json"), codedag::FormatError);
}

}  // namespace
