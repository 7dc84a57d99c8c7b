#include "codedag/common/json_file.hpp"

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"

namespace codedag {
namespace {

// nlohmann reports a byte offset; people and editors want line:column.
std::string line_and_column(const std::string& text, size_t byte) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

}  // namespace

json parse_json(const std::string& text, const std::string& origin) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string reason = e.what();
    if (const auto colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    const size_t at = e.byte > 0 ? e.byte - 1 : 0;
    throw FormatError(origin + ":" + line_and_column(text, at) + ": not valid JSON (" + reason + ")");
  } catch (const json::exception& e) {
    // Other parser failures (a number too large for a double, ...) carry no position.
    std::string reason = e.what();
    if (const auto bracket = reason.find("] "); bracket != std::string::npos) reason = reason.substr(bracket + 2);
    throw FormatError(origin + ": not valid JSON (" + reason + ")");
  }
}

json load_json_file(const std::string& path) { return parse_json(read_file(path), path); }

void save_json_file(const std::string& path, const json& value, int indent) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

void save_json_file(const std::string& path, const ordered_json& value, int indent) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

const char* json_type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "number";
    default:
      return "value";
  }
}

}  // namespace codedag
