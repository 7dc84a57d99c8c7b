// Fuzz target: any bytes given to the DAG loader either load (and then save and re-load to the
// same document) or raise codedag::Error — never crash, hang or throw anything else.
#include "codedag/common/json_file.hpp"
#include "codedag/graph/model/dag.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return codedag::fuzz::accept_or_reject(data, size, [](const std::string& text) {
    const auto dag = codedag::graph::Dag::from_json(codedag::parse_json(text, "fuzz"), "fuzz");
    const auto again = codedag::graph::Dag::from_json(dag.to_json(), "round-trip");
    if (again.to_json() != dag.to_json()) std::abort();  // a round trip must be the identity
  });
}
