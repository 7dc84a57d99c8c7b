#pragma once
// The one way JSON enters the engine. Every format (dag, plan, device model, result JSON, run.json,
// metrics JSONL, backup manifest, and the formats other areas add) is parsed here, with bounds:
// nesting (a 50 000-deep array used to overflow the stack of every recursive walk that followed),
// size (a file is refused before it is read whole), UTF-8 (nlohmann's lexer rejects ill-formed
// bytes and lone surrogates) and number range (1e400 or a 400-digit integer). Every failure is a
// FormatError "<origin>:<line>:<col>: <what>", never a crash, and never an exception of another type.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "codedag/common/error.hpp"

namespace codedag {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

struct JsonLimits {
  size_t max_depth = 256;         // arrays/objects inside each other
  size_t max_bytes = 256u << 20;  // text (or file) size
};

// Parses `text`; throws FormatError "<origin>:<line>:<col>: <reason>" on a syntax error, ill-formed
// UTF-8, a number out of range, nesting deeper than limits.max_depth or text over limits.max_bytes.
json parse_json(std::string_view text, const std::string& origin, const JsonLimits& limits = {});

// The same without throwing: nullopt when `text` is not JSON within `limits`; `why` gets the reason.
std::optional<json> try_parse_json(std::string_view text, const JsonLimits& limits = {}, std::string* why = nullptr);

// Reads and parses a file: NotFoundError when missing, FormatError when it is not a regular file,
// larger than limits.max_bytes (checked before reading), or not JSON within the limits.
json load_json_file(const std::string& path, const JsonLimits& limits = {});

// A parsed file that can point at its own fields, for formats that check types and meaning after
// parsing: doc.error("/nodes/3/id", "must be an integer") reads
// "dag.json:14:9: field /nodes/3/id: must be an integer".
class JsonDocument {
 public:
  static JsonDocument parse(std::string text, std::string origin, const JsonLimits& limits = {});
  static JsonDocument load(const std::string& path, const JsonLimits& limits = {});

  const json& value() const { return value_; }
  json& value() { return value_; }
  const std::string& origin() const { return origin_; }
  const std::string& text() const { return text_; }

  // "<origin>:<line>:<col>" of the member or element at `pointer` (a JSON pointer, "" is the whole
  // document); "<origin>" alone when it is not in the text.
  std::string where(const std::string& pointer) const;
  // A FormatError naming the file, the field and its line.
  FormatError error(const std::string& pointer, const std::string& message) const;

 private:
  JsonDocument(std::string text, std::string origin, json value)
      : text_(std::move(text)), origin_(std::move(origin)), value_(std::move(value)) {}
  std::string text_;
  std::string origin_;
  json value_;
};

// Byte offset in `text` where the member or element at `pointer` starts (its key for a member);
// nullopt when the pointer is not in the text. Used for error messages only (one extra pass).
std::optional<size_t> locate_json_pointer(std::string_view text, const std::string& pointer);

// "<line>:<col>" of a byte offset (1-based, columns in bytes).
std::string line_and_column(std::string_view text, size_t byte);

// Reads a regular file of at most `max_bytes` (FormatError when it is larger or not a regular file,
// NotFoundError when missing, SystemCallError on other failures). Never blocks on a FIFO or device.
std::string read_bounded_file(const std::string& path, size_t max_bytes);

// Serialises with `indent` (-1: compact) and writes atomically. Strings that are not UTF-8 (argv
// and paths can be anything) are written with U+FFFD in place of the bad bytes, never refused.
void save_json_file(const std::string& path, const json& value, int indent = 2);
void save_json_file(const std::string& path, const ordered_json& value, int indent = 2);

// Compact or indented text of a value that never throws on ill-formed UTF-8 (see above).
std::string dump_json(const json& value, int indent = -1);

// The type name a person would use for a JSON value ("object", "number", ...).
const char* json_type_name(const json& value);

}  // namespace codedag
