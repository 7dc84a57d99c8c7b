// Version and terminal helpers shared by the Python modules.
#include <nanobind/stl/string.h>

#include "bindings.hpp"
#include "codedag/common/atomic_file.hpp"
#include "codedag/common/version.hpp"

namespace codedag::bindings {

void add_common(nb::module_& m) {
  m.attr("__version__") = kVersion;
  m.def("write_file_atomic", [](const std::string& path, nb::bytes content) {
    write_file_atomic(path, std::string_view(content.c_str(), content.size()));
  }, nb::arg("path"), nb::arg("content"), "Write bytes to path atomically (temporary file, fsync, rename).");
  m.def("save_json", [](const std::string& path, nb::handle value, int indent) {
    save_json_file(path, to_json(value), indent);
  }, nb::arg("path"), nb::arg("value"), nb::arg("indent") = 2, "Write a JSON value atomically.");
  m.def("load_json", [](const std::string& path) { return from_json(load_json_file(path)); }, nb::arg("path"),
        "Read a JSON file; errors name the file, line and column.");
}

}  // namespace codedag::bindings
