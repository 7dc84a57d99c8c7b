#pragma once
// The typed values of one run that the panel filters and sorts on (index tables value_keys and
// run_values, see run_values_schema.hpp), taken from the run's summary by the index writer itself:
//   'p' params: every leaf of "info", flattened with dots ("params.lr", "params.optimizer.name");
//   's' sweep:  every leaf of "properties.sweep", as "sweep.<field>";
//   'b' best:   "metrics.<key>.value" (dump_metric);  'l' last: "last.<key>.value" (log_metric).
// Numbers go to `num`; booleans to num 1/0 and txt "true"/"false"; strings to `txt`; an array is one
// value (its JSON text in txt); null leaves both empty. Objects are descended, never stored; a key
// met twice (info {"a.b": 1, "a": {"b": 2}}) keeps the value met first in key order (2: "a" < "a.b").
#include <optional>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

struct TypedValue {
  char kind = 'p';
  std::string key;  // as stored in value_keys.key ("params.lr", "sweep.cell", "acc")
  std::optional<double> num;
  std::optional<std::string> txt;
};

std::vector<TypedValue> typed_values(const json& summary);

}  // namespace codedag::store
