#include "codedag/lint/syntax_tree.hpp"

#include <algorithm>

#include "codedag/common/error.hpp"

extern "C" const TSLanguage* tree_sitter_python(void);

namespace codedag::lint {

SourceText::SourceText(std::string path, std::string bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {
  line_starts_.push_back(0);
  for (uint32_t i = 0; i < bytes_.size(); ++i)
    if (bytes_[i] == '\n') line_starts_.push_back(i + 1);
}

std::string_view SourceText::slice(uint32_t start, uint32_t end) const {
  const size_t n = bytes_.size();
  start = static_cast<uint32_t>(std::min<size_t>(start, n));
  end = static_cast<uint32_t>(std::min<size_t>(std::max(start, end), n));
  return std::string_view(bytes_).substr(start, end - start);
}

uint32_t SourceText::line_of(uint32_t byte) const {
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), byte);
  return static_cast<uint32_t>(it - line_starts_.begin());
}

uint32_t SourceText::column_of(uint32_t byte) const {
  const uint32_t start = line_starts_[line_of(byte) - 1];
  uint32_t col = 1;
  for (uint32_t i = start; i < byte && i < bytes_.size(); ++i)
    if ((static_cast<unsigned char>(bytes_[i]) & 0xC0) != 0x80) ++col;  // count lead bytes only
  return col;
}

uint32_t SourceText::line_start(uint32_t line) const {
  if (line == 0) return 0;
  if (line > line_starts_.size()) return static_cast<uint32_t>(bytes_.size());
  return line_starts_[line - 1];
}

std::string_view SourceText::line_text(uint32_t line) const {
  const uint32_t start = line_start(line);
  uint32_t end = line < line_starts_.size() ? line_starts_[line] : static_cast<uint32_t>(bytes_.size());
  while (end > start && (bytes_[end - 1] == '\n' || bytes_[end - 1] == '\r')) --end;
  return slice(start, end);
}

std::string_view SourceText::indentation_at(uint32_t byte) const {
  const uint32_t start = line_start(line_of(byte));
  uint32_t end = start;
  while (end < bytes_.size() && (bytes_[end] == ' ' || bytes_[end] == '\t')) ++end;
  return slice(start, end);
}

std::unique_ptr<Tree> Tree::parse(SourceText source, const ParseLimits& limits) {
  if (source.bytes().size() > limits.max_bytes)
    throw FormatError(source.path() + ": " + std::to_string(source.bytes().size()) + " bytes is over the " +
                      std::to_string(limits.max_bytes >> 20) +
                      " MiB a file may have; generated code? exclude it (extend-exclude in [tool.codedag.lint])");
  std::unique_ptr<Tree> tree(new Tree(std::move(source)));
  TSParser* parser = ts_parser_new();
  if (!ts_parser_set_language(parser, tree_sitter_python())) {
    ts_parser_delete(parser);
    throw StateError("the bundled Python grammar's ABI is not one this tree-sitter runtime accepts (a build problem)");
  }
  // The runtime checks the clock every few hundred tokens and gives up past the limit.
  ts_parser_set_timeout_micros(parser, limits.max_parse_ms * 1000);
  const std::string& bytes = tree->source_.bytes();
  struct Payload {
    const std::string* bytes;
  } payload{&bytes};
  TSInput input{};
  input.payload = &payload;
  input.encoding = TSInputEncodingUTF8;
  input.read = [](void* p, uint32_t byte, TSPoint, uint32_t* read) -> const char* {
    const std::string& b = *static_cast<Payload*>(p)->bytes;
    if (byte >= b.size()) {
      *read = 0;
      return "";
    }
    *read = static_cast<uint32_t>(b.size() - byte);
    return b.data() + byte;
  };
  tree->tree_ = ts_parser_parse(parser, nullptr, input);
  ts_parser_delete(parser);
  if (!tree->tree_)
    throw FormatError(tree->source_.path() + ": the parser gave up after " + std::to_string(limits.max_parse_ms) +
                      " ms; exclude the file (extend-exclude in [tool.codedag.lint])");
  return tree;
}

Tree::~Tree() {
  if (tree_) ts_tree_delete(tree_);
}

Node Tree::root() const { return Node(ts_tree_root_node(tree_)); }

size_t first_invalid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string string_literal_value(Node node, const SourceText& src) {
  if (!node.is("string")) return {};
  std::string out;
  for (uint32_t i = 0; i < node.named_child_count(); ++i) {
    const Node part = node.named_child(i);
    if (part.is("interpolation")) return {};
    if (part.is("string_content")) out += part.text(src);
  }
  return out;
}

}  // namespace codedag::lint
