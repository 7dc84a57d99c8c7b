#pragma once
// A Python file parsed by tree-sitter's Python grammar, and a small value type over its nodes.
// The parser is real (tree-sitter's C runtime plus the generated grammar, compiled into the engine);
// syntax errors become ERROR/MISSING nodes that the analysis reports and steps over.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tree_sitter/api.h>

namespace codedag::lint {

// The text of one file with its line starts: byte offsets to 1-based line and column.
class SourceText {
 public:
  SourceText(std::string path, std::string bytes);

  const std::string& path() const { return path_; }
  const std::string& bytes() const { return bytes_; }
  std::string_view slice(uint32_t start, uint32_t end) const;

  // 1-based line of a byte offset.
  uint32_t line_of(uint32_t byte) const;
  // 1-based column in characters (UTF-8 code points), as ruff counts them.
  uint32_t column_of(uint32_t byte) const;
  uint32_t line_start(uint32_t line) const;  // byte offset where a 1-based line starts
  uint32_t line_count() const { return static_cast<uint32_t>(line_starts_.size()); }
  std::string_view line_text(uint32_t line) const;  // without its newline
  // The whitespace that starts the line holding `byte`.
  std::string_view indentation_at(uint32_t byte) const;

 private:
  std::string path_;
  std::string bytes_;
  std::vector<uint32_t> line_starts_;
};

// A node of the tree: cheap to copy, valid while its Tree lives.
class Node {
 public:
  Node() : node_{} {}
  explicit Node(TSNode node) : node_(node) {}

  bool null() const { return ts_node_is_null(node_); }
  explicit operator bool() const { return !null(); }
  std::string_view kind() const { return null() ? std::string_view() : std::string_view(ts_node_type(node_)); }
  bool is(std::string_view k) const { return kind() == k; }
  bool named() const { return ts_node_is_named(node_); }
  bool is_error() const { return ts_node_is_error(node_); }
  bool is_missing() const { return ts_node_is_missing(node_); }
  bool has_error() const { return ts_node_has_error(node_); }

  uint32_t start() const { return ts_node_start_byte(node_); }
  uint32_t end() const { return ts_node_end_byte(node_); }
  std::string_view text(const SourceText& src) const { return src.slice(start(), end()); }

  Node field(std::string_view name) const {
    return Node(ts_node_child_by_field_name(node_, name.data(), static_cast<uint32_t>(name.size())));
  }
  uint32_t child_count() const { return ts_node_child_count(node_); }
  Node child(uint32_t i) const { return Node(ts_node_child(node_, i)); }
  uint32_t named_child_count() const { return ts_node_named_child_count(node_); }
  Node named_child(uint32_t i) const { return Node(ts_node_named_child(node_, i)); }
  const char* field_name_of_child(uint32_t i) const { return ts_node_field_name_for_child(node_, i); }
  Node parent() const { return Node(ts_node_parent(node_)); }
  Node next_named_sibling() const { return Node(ts_node_next_named_sibling(node_)); }
  Node prev_named_sibling() const { return Node(ts_node_prev_named_sibling(node_)); }

  bool same(const Node& other) const { return ts_node_eq(node_, other.node_); }
  bool contains(const Node& other) const { return start() <= other.start() && other.end() <= end(); }
  uint64_t id() const { return reinterpret_cast<uint64_t>(node_.id); }
  TSNode raw() const { return node_; }
  // The smallest node spanning [start, end) under this one.
  Node descendant_for(uint32_t start, uint32_t end) const {
    return Node(ts_node_descendant_for_byte_range(node_, start, end));
  }

 private:
  TSNode node_;
};

// Limits that keep a hostile or generated file from costing more than it should.
struct ParseLimits {
  size_t max_bytes = 8u << 20;    // larger files are reported and skipped
  uint64_t max_parse_ms = 20000;  // the parser gives up after this long
};

// Owns a parsed tree and the source it was parsed from.
class Tree {
 public:
  // Parses `source`; throws FormatError naming the file when it is too large or the parser gave up.
  static std::unique_ptr<Tree> parse(SourceText source, const ParseLimits& limits = {});
  ~Tree();
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  const SourceText& source() const { return source_; }
  Node root() const;

 private:
  explicit Tree(SourceText source) : source_(std::move(source)) {}
  SourceText source_;
  TSTree* tree_ = nullptr;
};

// The first offset of `bytes` that is not valid UTF-8 (overlongs, surrogates and truncated
// sequences included), or npos when it is all valid.
size_t first_invalid_utf8(std::string_view bytes);

// The string's value when `node` is a plain string literal (no interpolation): for dictionary
// keys, keyword defaults and the like. Empty when it is not one.
std::string string_literal_value(Node node, const SourceText& src);

}  // namespace codedag::lint
