// Bindings of the migration area (filled in by that area's work).
#include "bindings.hpp"

namespace codedag::bindings {

void add_migration(nb::module_& /*m*/) {}

}  // namespace codedag::bindings
