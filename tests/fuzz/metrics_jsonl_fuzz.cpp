// Fuzz target: metrics.jsonl — any bytes give series and warnings, never an exception.
#include "codedag/store/metric_log.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> warnings;
  const auto series = codedag::store::parse_metric_series(text, "metrics.jsonl", warnings);
  (void)series.series.dump();
  return 0;
}
