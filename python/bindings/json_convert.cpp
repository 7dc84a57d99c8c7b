// Python <-> JSON conversion used by every binding that takes or returns free-form data.
#include <cmath>

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "bindings.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"

namespace codedag::bindings {
namespace {

// UTF-8 of a str. Lone surrogates (os.fsdecode of a non-UTF-8 file name) cannot be UTF-8: they are
// kept readable as \udcff escapes instead of failing the whole value.
std::string utf8_of(PyObject* s) {
  Py_ssize_t n = 0;
  if (const char* p = PyUnicode_AsUTF8AndSize(s, &n)) return std::string(p, static_cast<size_t>(n));
  PyErr_Clear();
  nb::object bytes = nb::steal(PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace"));
  if (!bytes.is_valid()) throw nb::python_error();
  return std::string(PyBytes_AS_STRING(bytes.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(bytes.ptr())));
}

std::string key_of(nb::handle key) {
  std::string k = PyUnicode_Check(key.ptr()) ? utf8_of(key.ptr()) : utf8_of(nb::str(key).ptr());
  // A NUL would cut the key short wherever it becomes a C string (index columns, terminal tables).
  if (k.find('\0') != std::string::npos)
    throw InputError("dictionary key '" + term::printable(k) + "' contains a NUL character; use another key");
  return k;
}

json to_json_depth(nb::handle v, int depth) {
  if (depth > 200) throw InputError("value nested more than 200 levels deep (a reference cycle?)");
  if (v.is_none()) return nullptr;
  if (PyBool_Check(v.ptr())) return v.ptr() == Py_True;
  if (PyLong_Check(v.ptr())) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
    if (overflow == 0) return x;
    if (overflow > 0) {
      const unsigned long long u = PyLong_AsUnsignedLongLong(v.ptr());
      if (!PyErr_Occurred()) return u;
      PyErr_Clear();
    }
    // JSON numbers here are 64-bit integers or doubles; silently rounding (or storing -1) would lie.
    const size_t digits = static_cast<size_t>(PyObject_Length(nb::str(v).ptr()));
    throw InputError("integer with " + std::to_string(digits) +
                     " digits is too large to record (64-bit integers only): pass str(x), or float(x) if "
                     "rounding is fine");
  }
  if (PyFloat_Check(v.ptr())) {
    const double x = PyFloat_AS_DOUBLE(v.ptr());
    return std::isfinite(x) ? json(x) : json(nullptr);
  }
  if (PyUnicode_Check(v.ptr())) return utf8_of(v.ptr());
  if (PyDict_Check(v.ptr())) {
    json out = json::object();
    for (auto [key, value] : nb::borrow<nb::dict>(v)) out[key_of(key)] = to_json_depth(value, depth + 1);
    return out;
  }
  if (PyList_Check(v.ptr()) || PyTuple_Check(v.ptr())) {
    json out = json::array();
    for (nb::handle item : v) out.push_back(to_json_depth(item, depth + 1));
    return out;
  }
  // numpy / torch scalars and 0-d arrays; arrays through tolist().
  if (nb::hasattr(v, "item") && nb::hasattr(v, "ndim") && nb::cast<int>(v.attr("ndim")) == 0)
    return to_json_depth(v.attr("item")(), depth + 1);
  if (nb::hasattr(v, "tolist")) return to_json_depth(v.attr("tolist")(), depth + 1);
  if (nb::hasattr(v, "item")) return to_json_depth(v.attr("item")(), depth + 1);
  return utf8_of(nb::str(v).ptr());
}

// Text from the engine is UTF-8 (the bounded parser checks files); anything else is shown with
// U+FFFD rather than raising UnicodeDecodeError in the middle of a listing.
nb::object text(const std::string& s) {
  return nb::steal(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
}

}  // namespace

json to_json(nb::handle value) { return to_json_depth(value, 0); }

nb::object from_json(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return nb::none();
    case json::value_t::boolean:
      return nb::bool_(value.get<bool>());
    case json::value_t::number_integer:
      return nb::int_(value.get<int64_t>());
    case json::value_t::number_unsigned:
      return nb::int_(value.get<uint64_t>());
    case json::value_t::number_float:
      return nb::float_(value.get<double>());
    case json::value_t::string:
      return text(value.get_ref<const std::string&>());
    case json::value_t::array: {
      nb::list out;
      for (const json& item : value) out.append(from_json(item));
      return out;
    }
    case json::value_t::object: {
      nb::dict out;
      for (const auto& [k, v] : value.items()) out[text(k)] = from_json(v);
      return out;
    }
    default:
      return nb::none();
  }
}

}  // namespace codedag::bindings
