#pragma once
// Graphviz DOT of a DAG: data edges solid (labelled with bytes), call edges dashed, and, when a
// placement is given, nodes filled by executor.
#include <cstdint>
#include <map>
#include <string>

namespace codedag::graph {

class Dag;

// `executor_of` maps node id -> executor name ("cpu", "batch:cpu", "cuda:0"); may be null.
std::string to_dot(const Dag& dag, const std::map<int64_t, std::string>* executor_of = nullptr);

}  // namespace codedag::graph
