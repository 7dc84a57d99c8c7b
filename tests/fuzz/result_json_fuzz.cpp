// Fuzz target: the monitor's result JSON (seed 001 §6) — bytes either load or raise codedag::Error,
// and what loads can be written back.
#include "codedag/common/json_file.hpp"
#include "codedag/monitor/result_model.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return codedag::fuzz::accept_or_reject(data, size, [](const std::string& text) {
    const auto result = codedag::monitor::ExperimentResult::from_json(codedag::parse_json(text, "fuzz"), "fuzz");
    (void)result.to_json().dump();
  });
}
