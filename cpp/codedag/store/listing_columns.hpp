#pragma once
// The index columns that let `codedag ls` and Watcher.load() list runs without parsing each row's
// JSON summary (schema 3): duration, tags, and best/last metric values in a compact text form.
// Parsing the summary cost ~50-100 us per run, which made 10k runs list in ~1 s.
#include <optional>
#include <string>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

struct ListingColumns {
  std::optional<double> duration;            // absent: the run has no "duration"
  std::string tags = "[]";                   // compact JSON array, as in the summary
  std::optional<std::string> metric_values;  // absent: values this form cannot hold; parse the summary
};

// Computed from a summary (see summarize_run).
ListingColumns listing_columns(const json& summary);

// `metric_values` back into {"metrics": {key: {"value": v}}, "last": {...}}, the shape listing reads.
void decode_metric_values(const std::string& metric_values, json& best, json& last);

}  // namespace codedag::store
