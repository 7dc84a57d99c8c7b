// Bindings of the monitor area (filled in by that area's work).
#include "bindings.hpp"

namespace codedag::bindings {

void add_monitor(nb::module_& /*m*/) {}

}  // namespace codedag::bindings
