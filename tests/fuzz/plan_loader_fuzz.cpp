// Fuzz target: codedag.plan/1 — bytes either load (and round-trip) or raise codedag::Error.
#include "codedag/common/json_file.hpp"
#include "codedag/graph/plan/plan.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return codedag::fuzz::accept_or_reject(data, size, [](const std::string& text) {
    const auto plan = codedag::graph::MigrationPlan::from_json(codedag::parse_json(text, "fuzz"), "fuzz");
    const auto again = codedag::graph::MigrationPlan::from_json(plan.to_json(), "round-trip");
    if (again.to_json() != plan.to_json()) std::abort();
  });
}
