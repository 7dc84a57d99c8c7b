// Python <-> JSON conversion used by every binding that takes or returns free-form data.
#include <cmath>

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "bindings.hpp"
#include "codedag/common/error.hpp"

namespace codedag::bindings {
namespace {

json to_json_depth(nb::handle v, int depth) {
  if (depth > 200) throw InputError("value nested more than 200 levels deep (a reference cycle?)");
  if (v.is_none()) return nullptr;
  if (PyBool_Check(v.ptr())) return v.ptr() == Py_True;
  if (PyLong_Check(v.ptr())) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
    if (overflow == 0) return x;
    return PyFloat_AsDouble(v.ptr());
  }
  if (PyFloat_Check(v.ptr())) {
    const double x = PyFloat_AS_DOUBLE(v.ptr());
    return std::isfinite(x) ? json(x) : json(nullptr);
  }
  if (PyUnicode_Check(v.ptr())) return nb::cast<std::string>(v);
  if (PyDict_Check(v.ptr())) {
    json out = json::object();
    for (auto [key, value] : nb::borrow<nb::dict>(v))
      out[PyUnicode_Check(key.ptr()) ? nb::cast<std::string>(key) : nb::cast<std::string>(nb::str(key))] =
          to_json_depth(value, depth + 1);
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
  return nb::cast<std::string>(nb::str(v));
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
      return nb::str(value.get_ref<const std::string&>().c_str());
    case json::value_t::array: {
      nb::list out;
      for (const json& item : value) out.append(from_json(item));
      return out;
    }
    case json::value_t::object: {
      nb::dict out;
      for (const auto& [k, v] : value.items()) out[nb::str(k.c_str())] = from_json(v);
      return out;
    }
    default:
      return nb::none();
  }
}

}  // namespace codedag::bindings
