// Bindings of the trace area (filled in by that area's work).
#include "bindings.hpp"

namespace codedag::bindings {

void add_trace(nb::module_& /*m*/) {}

}  // namespace codedag::bindings
