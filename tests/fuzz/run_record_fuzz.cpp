// Fuzz target: run.json — bytes are checked as a record; one that passes is summarised for the index
// and its listing columns, as `ls` and Watcher do, which must not throw anything but codedag::Error.
#include "codedag/common/json_file.hpp"
#include "codedag/store/listing_columns.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/run_format.hpp"
#include "codedag/store/run_index.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return codedag::fuzz::accept_or_reject(data, size, [](const std::string& text) {
    const auto doc = codedag::JsonDocument::parse(text, "run.json");
    codedag::store::validate_run_record(doc);
    const codedag::json summary = codedag::store::summarize_run(doc.value());
    const auto columns = codedag::store::listing_columns(summary);
    codedag::json best = codedag::json::object(), last = codedag::json::object();
    if (columns.metric_values) codedag::store::decode_metric_values(*columns.metric_values, best, last);
    (void)codedag::store::flatten(doc.value().value("info", codedag::json::object()));
    (void)codedag::dump_json(summary);
  });
}
