// Fuzz target: codedag.device_model/1 — bytes either load (and round-trip) or raise codedag::Error.
#include "codedag/common/json_file.hpp"
#include "codedag/graph/cost/device_model.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return codedag::fuzz::accept_or_reject(data, size, [](const std::string& text) {
    const auto model = codedag::graph::DeviceModel::from_json(codedag::parse_json(text, "fuzz"), "fuzz");
    const auto again = codedag::graph::DeviceModel::from_json(model.to_json(), "round-trip");
    if (again.to_json() != model.to_json()) std::abort();
  });
}
