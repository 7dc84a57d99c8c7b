// JSON text -> Python objects without a JSON text for all rows and without json.loads: what
// Watcher.load() does with 10k index summaries (see JsonToPython in bindings.hpp).
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bindings.hpp"

namespace codedag::bindings {

namespace {

// As plausible_object (store.cpp) and the engine's bounded parser: deeper is a damaged row.
constexpr int kMaxDepth = 300;
// Strings cached across rows (keys, statuses, hosts ...): short ones only, and not too many.
constexpr size_t kMaxCachedBytes = 48;
constexpr size_t kMaxCachedStrings = 1 << 14;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

// Short strings by their UTF-8 bytes: open addressing in a power-of-two table, an 8-bytes-at-a-time
// hash. Holds strong references; half full at most.
class StringCache {
 public:
  StringCache() : slots_(kMaxCachedStrings * 2) {}
  ~StringCache() {
    for (Slot& s : slots_) Py_XDECREF(s.object);
  }
  // The cached str for `bytes` (a new reference), or nullptr; `hash` is for a following put().
  PyObject* get(const char* bytes, size_t n, uint64_t& hash) const {
    hash = hash_of(bytes, n);
    for (size_t i = hash & mask(); slots_[i].object; i = (i + 1) & mask())
      if (slots_[i].hash == hash && slots_[i].size == n && std::memcmp(slots_[i].bytes, bytes, n) == 0) {
        Py_INCREF(slots_[i].object);
        return slots_[i].object;
      }
    return nullptr;
  }
  void put(const char* bytes, size_t n, uint64_t hash, PyObject* object) {
    if (count_ >= kMaxCachedStrings || n > kMaxCachedBytes) return;
    size_t i = hash & mask();
    while (slots_[i].object) i = (i + 1) & mask();
    Slot& s = slots_[i];
    s.hash = hash;
    s.size = static_cast<uint32_t>(n);
    std::memcpy(s.bytes, bytes, n);
    Py_INCREF(object);
    s.object = object;
    ++count_;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t size = 0;
    char bytes[kMaxCachedBytes];
    PyObject* object = nullptr;
  };
  size_t mask() const { return slots_.size() - 1; }
  static uint64_t hash_of(const char* p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xFF51AFD7ED558CCDull;
      h ^= h >> 32;
      p += 8;
      n -= 8;
    }
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 29);
  }
  std::vector<Slot> slots_;
  size_t count_ = 0;
};

struct JsonToPython::Cache {
  StringCache strings;
  std::vector<PyObject*> stack;  // reused by every parse
};

JsonToPython::JsonToPython() : cache_(new Cache) {}
JsonToPython::~JsonToPython() { delete cache_; }

namespace {

// One parse of one text. Every function returns a new reference, or nullptr with `fail` saying why:
// kDamaged (not JSON: the row is skipped), kOther (JSON this parser does not build the way
// json.loads would: NaN, huge exponents, lone surrogates; the caller hands the text to json.loads),
// or kPython (a Python error is set, e.g. MemoryError).
class Parser {
 public:
  enum Fail { kNone, kDamaged, kOther, kPython };
  Parser(std::string_view text, StringCache& cache, std::vector<PyObject*>& stack)
      : p_(text.data()), end_(text.data() + text.size()), cache_(cache), stack_(stack) {}

  PyObject* document() {
    PyObject* v = value(0);
    if (!v) return nullptr;
    skip_ws();
    if (p_ != end_) {
      Py_DECREF(v);
      return fail(kDamaged);
    }
    return v;
  }
  Fail failure() const { return fail_; }

 private:
  PyObject* fail(Fail f) {
    if (fail_ == kNone) fail_ = f;
    return nullptr;
  }
  void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\t' || *p_ == '\r')) ++p_;
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  PyObject* value(int depth) {
    skip_ws();
    if (p_ == end_) return fail(kDamaged);
    switch (*p_) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"':
        return string(true);
      case 't':
        if (literal("true")) Py_RETURN_TRUE;
        return fail(kDamaged);
      case 'f':
        if (literal("false")) Py_RETURN_FALSE;
        return fail(kDamaged);
      case 'n':
        if (literal("null")) Py_RETURN_NONE;
        return fail(kDamaged);
      case 'N':
      case 'I':
        return fail(kOther);  // json.loads takes NaN and Infinity
      default:
        return number();
    }
  }

  // Members and items are gathered on one stack first, so each dict and list is made at its final
  // size (no rehash or realloc while it grows, which json.loads pays for every object).
  void release_from(size_t base) {
    for (size_t i = base; i < stack_.size(); ++i) Py_DECREF(stack_[i]);
    stack_.resize(base);
  }

  PyObject* object(int depth) {
    if (depth > kMaxDepth) return fail(kDamaged);
    ++p_;
    const size_t base = stack_.size();
    skip_ws();
    bool closed = p_ != end_ && *p_ == '}';
    if (closed) ++p_;
    while (!closed) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') break;
      PyObject* k = string(true);
      if (!k) break;
      stack_.push_back(k);
      skip_ws();
      if (p_ == end_ || *p_ != ':') break;
      ++p_;
      PyObject* v = value(depth);
      if (!v) break;
      stack_.push_back(v);
      if (!another_element('}', closed)) break;
    }
    if (!closed) {
      release_from(base);
      return fail(kDamaged);
    }
    const Py_ssize_t n = static_cast<Py_ssize_t>((stack_.size() - base) / 2);
    // Room for "info_dir", which the listing adds to each row.
    PyObject* d = new_dict(depth == 1 ? n + 1 : n);
    if (!d) {
      release_from(base);
      return fail(kPython);
    }
    for (size_t i = base; i < stack_.size(); i += 2)
      if (PyDict_SetItem(d, stack_[i], stack_[i + 1]) != 0) {  // a repeated key: the last value wins, as in json.loads
        Py_DECREF(d);
        release_from(base);
        return fail(kPython);
      }
    release_from(base);
    return d;
  }

  // After an element of an object or array: a comma means another element follows (true); `close`
  // ends the container (`closed` set); anything else is damage (false, `closed` left false).
  bool another_element(char close, bool& closed) {
    skip_ws();
    if (p_ != end_ && *p_ == ',') {
      ++p_;
      return true;
    }
    if (p_ != end_ && *p_ == close) {
      ++p_;
      closed = true;
    }
    return false;
  }

  static PyObject* new_dict(Py_ssize_t n) {
#if PY_VERSION_HEX < 0x030E0000
    return n > 5 ? _PyDict_NewPresized(n) : PyDict_New();
#else
    (void)n;
    return PyDict_New();
#endif
  }

  PyObject* array(int depth) {
    if (depth > kMaxDepth) return fail(kDamaged);
    ++p_;
    const size_t base = stack_.size();
    skip_ws();
    bool closed = p_ != end_ && *p_ == ']';
    if (closed) ++p_;
    while (!closed) {
      PyObject* v = value(depth);
      if (!v) break;
      stack_.push_back(v);
      if (!another_element(']', closed)) break;
    }
    if (!closed) {
      release_from(base);
      return fail(kDamaged);
    }
    PyObject* l = PyList_New(static_cast<Py_ssize_t>(stack_.size() - base));
    if (!l) {
      release_from(base);
      return fail(kPython);
    }
    for (size_t i = base; i < stack_.size(); ++i) PyList_SET_ITEM(l, static_cast<Py_ssize_t>(i - base), stack_[i]);
    stack_.resize(base);  // the list owns them now
    return l;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool hex4(unsigned& out) {
    if (end_ - p_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex(p_[i]);
      if (h < 0) return false;
      out = out * 16 + static_cast<unsigned>(h);
    }
    p_ += 4;
    return true;
  }
  static void put_utf8(std::string& s, unsigned cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  PyObject* make_str(const char* s, size_t n, bool ascii, bool cacheable) {
    uint64_t hash = 0;
    cacheable = cacheable && n <= kMaxCachedBytes;
    if (cacheable)
      if (PyObject* hit = cache_.get(s, n, hash)) return hit;
    PyObject* o;
    if (ascii) {
      o = PyUnicode_New(static_cast<Py_ssize_t>(n), 127);
      if (!o) return fail(kPython);
      std::memcpy(PyUnicode_DATA(o), s, n);
    } else {
      o = PyUnicode_DecodeUTF8(s, static_cast<Py_ssize_t>(n), "strict");
      if (!o) {
        PyErr_Clear();
        return fail(kDamaged);  // not UTF-8: json.loads refuses the bytes too
      }
    }
    if (cacheable) {
      PyUnicode_InternInPlace(&o);
      cache_.put(s, n, hash, o);
    }
    return o;
  }

  PyObject* string(bool cacheable) {
    ++p_;  // the opening quote
    const char* start = p_;
    bool ascii = true;
    while (p_ != end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        PyObject* s = make_str(start, static_cast<size_t>(p_ - start), ascii, cacheable);
        ++p_;
        return s;
      }
      if (c == '\\') break;
      if (c < 0x20) return fail(kDamaged);  // json.loads (strict) refuses control characters
      if (c >= 0x80) ascii = false;
      ++p_;
    }
    if (p_ == end_) return fail(kDamaged);
    // Escapes: decoded into UTF-8, then one str.
    std::string out(start, static_cast<size_t>(p_ - start));
    while (p_ != end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return make_str(out.data(), out.size(), ascii, false);
      }
      if (c < 0x20) return fail(kDamaged);
      if (c != '\\') {
        if (c >= 0x80) ascii = false;
        out += static_cast<char>(c);
        ++p_;
        continue;
      }
      if (++p_ == end_) return fail(kDamaged);
      const char e = *p_++;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = 0;
          if (!hex4(cp)) return fail(kDamaged);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo = 0;
            if (end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
              p_ += 2;
              if (!hex4(lo)) return fail(kDamaged);
              if (lo < 0xDC00 || lo > 0xDFFF) return fail(kOther);  // json.loads keeps lone surrogates
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              return fail(kOther);
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail(kOther);
          }
          if (cp >= 0x80) ascii = false;
          put_utf8(out, cp);
          break;
        }
        default:
          return fail(kDamaged);
      }
    }
    return fail(kDamaged);
  }

  PyObject* number() {
    const char* start = p_;
    if (p_ != end_ && *p_ == '-') ++p_;
    if (p_ == end_ || !is_digit(*p_)) return fail(start != p_ && p_ != end_ && *p_ == 'I' ? kOther : kDamaged);
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    bool integer = true;
    if (p_ != end_ && *p_ == '.') {
      integer = false;
      ++p_;
      if (p_ == end_ || !is_digit(*p_)) return fail(kDamaged);
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) return fail(kDamaged);
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    const size_t n = static_cast<size_t>(p_ - start);
    if (integer) {
      if (n <= 18) {  // fits a long long whatever the digits
        long long v = 0;
        std::from_chars(start, p_, v);
        PyObject* o = PyLong_FromLongLong(v);
        return o ? o : fail(kPython);
      }
      const std::string digits(start, n);  // arbitrary size, as json.loads
      PyObject* o = PyLong_FromString(digits.c_str(), nullptr, 10);
      return o ? o : fail(kPython);
    }
    double d = 0;
    const auto r = std::from_chars(start, p_, d);                 // correctly rounded, as float()
    if (r.ec != std::errc() || r.ptr != p_) return fail(kOther);  // out of range: json.loads says inf or 0.0
    PyObject* o = PyFloat_FromDouble(d);
    return o ? o : fail(kPython);
  }

  const char* p_;
  const char* end_;
  StringCache& cache_;
  std::vector<PyObject*>& stack_;  // owned references of the objects and arrays being built
  Fail fail_ = kNone;
};

}  // namespace

nb::object JsonToPython::build(std::string_view text, bool& damaged) {
  damaged = false;
  Parser parser(text, cache_->strings, cache_->stack);
  PyObject* v = parser.document();
  if (v) return nb::steal(v);
  switch (parser.failure()) {
    case Parser::kPython:
      throw nb::python_error();
    case Parser::kOther: {
      // What json.loads would build: it is the reference this builder replaces.
      if (!json_loads_.is_valid()) json_loads_ = nb::module_::import_("json").attr("loads");
      nb::object str = nb::steal(PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "strict"));
      PyObject* r = str.is_valid() ? PyObject_CallOneArg(json_loads_.ptr(), str.ptr()) : nullptr;
      if (r) return nb::steal(r);
      if (!PyErr_ExceptionMatches(PyExc_ValueError) && !PyErr_ExceptionMatches(PyExc_RecursionError))
        throw nb::python_error();
      PyErr_Clear();
      damaged = true;
      return nb::none();
    }
    default:
      damaged = true;
      return nb::none();
  }
}

}  // namespace codedag::bindings
