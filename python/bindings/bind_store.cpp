// Bindings of the store area (filled in by that area's work).
#include "bindings.hpp"

namespace codedag::bindings {

void add_store(nb::module_& /*m*/) {}

}  // namespace codedag::bindings
