#pragma once
// Shared declarations of the binding files. Each add_<area> lives in bind_<area>.cpp.
#include <nanobind/nanobind.h>

#include "codedag/common/json_file.hpp"

namespace codedag::bindings {
namespace nb = nanobind;

void add_errors(nb::module_& m);
void add_common(nb::module_& m);
void add_graph(nb::module_& m);
void add_trace(nb::module_& m);
void add_monitor(nb::module_& m);
void add_store(nb::module_& m);
void add_runner(nb::module_& m);
void add_pipeline(nb::module_& m);

// Python value <-> JSON, for dicts/lists/str/int/float/bool/None; numpy and torch scalars through
// .item(), other objects through str(). Non-finite floats become null (JSON has no NaN).
json to_json(nb::handle value);
nb::object from_json(const json& value);

}  // namespace codedag::bindings
