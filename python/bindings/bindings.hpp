#pragma once
// Shared declarations of the binding files. Each add_<area> lives in bind_<area>.cpp.
#include <nanobind/nanobind.h>

#include <string_view>

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

// Builds Python objects from JSON text exactly as json.loads would (same types, values, key order),
// bounded like the engine's parser (nesting 300 deep), without a JSON text for the whole result:
// short strings (keys, statuses, hosts ...) are made once per builder and shared by the texts it
// builds. What it does not build itself (NaN, lone surrogates, out-of-range exponents) goes to
// json.loads. Needs the GIL, for its whole life.
class JsonToPython {
 public:
  JsonToPython();
  ~JsonToPython();
  JsonToPython(const JsonToPython&) = delete;
  JsonToPython& operator=(const JsonToPython&) = delete;
  // `damaged`: the text is not one JSON value (None is returned; the caller skips and names it).
  nb::object build(std::string_view text, bool& damaged);

 private:
  struct Cache;
  Cache* cache_;
  nb::object json_loads_;
};

}  // namespace codedag::bindings
