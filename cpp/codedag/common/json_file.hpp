#pragma once
// JSON in and out of files, with errors that name the file and the line and column.
#include <nlohmann/json.hpp>
#include <string>

namespace codedag {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// Parses `text`; on a syntax error throws FormatError "<origin>:<line>:<col>: <reason>".
json parse_json(const std::string& text, const std::string& origin);

// Reads and parses a file (NotFoundError when missing, FormatError when malformed).
json load_json_file(const std::string& path);

// Serialises with `indent` (-1: compact) and writes atomically.
void save_json_file(const std::string& path, const json& value, int indent = 2);
void save_json_file(const std::string& path, const ordered_json& value, int indent = 2);

// The type name a person would use for a JSON value ("object", "number", ...).
const char* json_type_name(const json& value);

}  // namespace codedag
