#pragma once
// The optimizer's bindings (DeviceModel, optimize, plans); called from add_graph.
#include "bindings.hpp"

namespace codedag::bindings {
void add_optimizer(nb::module_& m);
}  // namespace codedag::bindings
