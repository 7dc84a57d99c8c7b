#include "codedag/common/json_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>
#include <vector>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"

namespace codedag {
namespace {

// A pointer into the text that publishes how far the lexer has read, so that SAX callbacks (which
// nlohmann gives no position) can say where they are. nlohmann reads through an iterator pair one
// character at a time; this costs one store per character.
class TrackedChar {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackedChar() = default;
  TrackedChar(const char* p, const char** cursor) : p_(p), cursor_(cursor) {}
  reference operator*() const { return *p_; }
  TrackedChar& operator++() {
    ++p_;
    if (cursor_) *cursor_ = p_;
    return *this;
  }
  TrackedChar operator++(int) {
    TrackedChar old = *this;
    ++*this;
    return old;
  }
  bool operator==(const TrackedChar& o) const { return p_ == o.p_; }
  bool operator!=(const TrackedChar& o) const { return p_ != o.p_; }

 private:
  const char* p_ = nullptr;
  const char** cursor_ = nullptr;
};

// Builds the DOM like nlohmann's own parser, and stops at the nesting limit instead of recursing on.
class BoundedDomBuilder : public nlohmann::json_sax<json> {
 public:
  BoundedDomBuilder(json& root, size_t max_depth) : root_(root), max_depth_(max_depth) {}

  bool null() override { return add(nullptr); }
  bool boolean(bool v) override { return add(v); }
  bool number_integer(number_integer_t v) override { return add(v); }
  bool number_unsigned(number_unsigned_t v) override { return add(v); }
  bool number_float(number_float_t v, const string_t&) override { return add(v); }
  bool string(string_t& v) override { return add(std::move(v)); }
  bool binary(binary_t&) override { return fail("binary values are not JSON"); }
  bool start_object(std::size_t) override { return open(json::value_t::object); }
  bool key(string_t& k) override {
    member_ = &(*stack_.back())[k];
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return open(json::value_t::array); }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    error_position_ = position;
    error_ = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..." -> the reason
    if (const auto colon = error_.find(": "); colon != std::string::npos && error_.rfind("[json.exception", 0) == 0)
      error_ = error_.substr(colon + 2);
    else if (const auto bracket = error_.find("] "); bracket != std::string::npos)
      error_ = error_.substr(bracket + 2);
    return false;
  }

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // The lexer's count of characters read when it failed (0 when the builder stopped itself).
  size_t error_position() const { return error_position_; }

 private:
  template <class V>
  bool add(V&& v) {
    if (stack_.empty()) {
      root_ = json(std::forward<V>(v));
      return true;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.emplace_back(std::forward<V>(v));
    } else {
      *member_ = json(std::forward<V>(v));
    }
    return true;
  }
  bool open(json::value_t type) {
    if (stack_.size() >= max_depth_)
      return fail("nested more than " + std::to_string(max_depth_) +
                  " levels deep (arrays and objects inside each other)");
    json* slot;
    if (stack_.empty()) {
      root_ = json(type);
      slot = &root_;
    } else if (stack_.back()->is_array()) {
      stack_.back()->emplace_back(type);
      slot = &stack_.back()->back();
    } else {
      *member_ = json(type);
      slot = member_;
    }
    stack_.push_back(slot);
    return true;
  }
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  json& root_;
  size_t max_depth_;
  std::vector<json*> stack_;
  json* member_ = nullptr;
  std::string error_;
  size_t error_position_ = 0;
};

// Parses into `out`; on failure returns "<line>:<col>: <reason>" (empty on success).
std::string parse_into(std::string_view text, const JsonLimits& limits, json& out) {
  if (text.size() > limits.max_bytes)
    return "1:1: " + std::to_string(text.size()) + " bytes, more than the limit of " +
           std::to_string(limits.max_bytes) + " for this format";
  const char* cursor = text.data();
  BoundedDomBuilder builder(out, limits.max_depth);
  bool ok = false;
  try {
    ok = json::sax_parse(TrackedChar(text.data(), &cursor), TrackedChar(text.data() + text.size(), nullptr), &builder,
                         json::input_format_t::json, /*strict=*/true);
  } catch (const std::exception& e) {
    // Allocation failure or anything nlohmann throws outside parse_error: still a rejection.
    return line_and_column(text, static_cast<size_t>(cursor - text.data())) + ": " + e.what();
  }
  if (ok && !builder.failed()) return {};
  // nlohmann counts characters read (1 = the first); the builder stops just after the token.
  size_t at = builder.error_position() > 0 ? builder.error_position() - 1 : static_cast<size_t>(cursor - text.data());
  if (at > 0 && builder.error_position() == 0) --at;
  out = json();
  return line_and_column(text, at) + ": " + (builder.failed() ? builder.error() : std::string("not valid JSON"));
}

// Walks the text with positions to find where the value at `target` (a parsed JSON pointer) starts.
class PointerLocator : public nlohmann::json_sax<json> {
 public:
  PointerLocator(std::vector<std::string> target, const char** cursor, const char* begin)
      : target_(std::move(target)), cursor_(cursor), begin_(begin) {}

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(false); }
  bool key(string_t& k) override {
    frames_.back().key = k;
    // A member is found at its key: that is the line a person looks for.
    if (matches(true)) return found(*cursor_ - begin_ - static_cast<std::ptrdiff_t>(k.size()) - 2);
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(true); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

  std::optional<size_t> result() const { return found_; }

 private:
  struct Frame {
    bool array = false;
    size_t index = 0;
    std::string key;
  };
  // True when the path to the current value (with the current key, for members) is the target.
  bool matches(bool at_key) const {
    if (frames_.size() != target_.size()) return false;
    for (size_t i = 0; i < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      const std::string seg = f.array ? std::to_string(f.index) : f.key;
      if (!at_key && !f.array && i + 1 == frames_.size()) return false;  // members match at their key
      if (seg != target_[i]) return false;
    }
    return true;
  }
  bool value() {
    if (!frames_.empty() && frames_.back().array) {
      if (matches(false)) return found(*cursor_ - begin_ - 1);
      ++frames_.back().index;
    }
    return true;
  }
  bool open(bool array) {
    if (target_.empty()) return found(*cursor_ - begin_ - 1);
    if (!frames_.empty() && frames_.back().array && matches(false)) return found(*cursor_ - begin_ - 1);
    frames_.push_back(Frame{array, 0, {}});
    return frames_.size() <= 512;  // deeper than any pointer we are asked about
  }
  bool close() {
    frames_.pop_back();
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool found(std::ptrdiff_t at) {
    found_ = at < 0 ? 0 : static_cast<size_t>(at);
    return false;  // stop the walk
  }

  std::vector<std::string> target_;
  const char** cursor_;
  const char* begin_;
  std::vector<Frame> frames_;
  std::optional<size_t> found_;
};

}  // namespace

std::string line_and_column(std::string_view text, size_t byte) {
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

json parse_json(std::string_view text, const std::string& origin, const JsonLimits& limits) {
  json out;
  const std::string error = parse_into(text, limits, out);
  if (!error.empty()) throw FormatError(origin + ":" + error);
  return out;
}

std::optional<json> try_parse_json(std::string_view text, const JsonLimits& limits, std::string* why) {
  json out;
  std::string error = parse_into(text, limits, out);
  if (error.empty()) return out;
  if (why) *why = std::move(error);
  return std::nullopt;
}

std::string read_bounded_file(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked before any read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) throw NotFoundError("no such file '" + path + "'");
    throw_system_error("cannot open", path);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_system_error("cannot stat", path);
  if (S_ISDIR(st.st_mode)) throw FormatError(path + ": is a directory, not a file");
  if (!S_ISREG(st.st_mode)) throw FormatError(path + ": not a regular file (a device, pipe or socket)");
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    throw FormatError(path + ": " + std::to_string(st.st_size) + " bytes, more than the limit of " +
                      std::to_string(max_bytes) + " for this format");
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (true) {
    if (done == out.size()) {
      if (out.size() > max_bytes) break;  // grew while we read: stop at the limit (checked below)
      out.resize(out.size() + 4096);      // a file growing while read (an appended log) keeps its tail
    }
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_system_error("cannot read", path);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  if (out.size() > max_bytes)
    throw FormatError(path + ": more than the limit of " + std::to_string(max_bytes) + " bytes for this format");
  return out;
}

json load_json_file(const std::string& path, const JsonLimits& limits) {
  return parse_json(read_bounded_file(path, limits.max_bytes), path, limits);
}

JsonDocument JsonDocument::parse(std::string text, std::string origin, const JsonLimits& limits) {
  json value = parse_json(text, origin, limits);
  return JsonDocument(std::move(text), std::move(origin), std::move(value));
}

JsonDocument JsonDocument::load(const std::string& path, const JsonLimits& limits) {
  return parse(read_bounded_file(path, limits.max_bytes), path, limits);
}

std::optional<size_t> locate_json_pointer(std::string_view text, const std::string& pointer) {
  // RFC 6901: "/a/b~1c" is a, then "b/c" (~1 is '/', ~0 is '~').
  std::vector<std::string> target;
  if (!pointer.empty()) {
    if (pointer[0] != '/') return std::nullopt;
    size_t pos = 1;
    while (true) {
      const size_t slash = pointer.find('/', pos);
      std::string seg = pointer.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
      for (size_t i = 0; (i = seg.find('~', i)) != std::string::npos; ++i)
        seg.replace(i, 2, i + 1 < seg.size() && seg[i + 1] == '1' ? "/" : "~");
      target.push_back(std::move(seg));
      if (slash == std::string::npos) break;
      pos = slash + 1;
    }
  }
  const char* cursor = text.data();
  PointerLocator locator(std::move(target), &cursor, text.data());
  try {
    json::sax_parse(TrackedChar(text.data(), &cursor), TrackedChar(text.data() + text.size(), nullptr), &locator,
                    json::input_format_t::json, false);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return locator.result();
}

std::string JsonDocument::where(const std::string& pointer) const {
  const auto at = locate_json_pointer(text_, pointer);
  return at ? origin_ + ":" + line_and_column(text_, *at) : origin_;
}

FormatError JsonDocument::error(const std::string& pointer, const std::string& message) const {
  return FormatError(where(pointer) + ": field " + (pointer.empty() ? std::string("(the document)") : pointer) + ": " +
                     message);
}

std::string dump_json(const json& value, int indent) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

void save_json_file(const std::string& path, const json& value, int indent) {
  write_file_atomic(path, dump_json(value, indent) + "\n");
}

void save_json_file(const std::string& path, const ordered_json& value, int indent) {
  write_file_atomic(path, value.dump(indent, ' ', false, ordered_json::error_handler_t::replace) + "\n");
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
