#pragma once
// Order and cycles of a DAG's data edges.
#include <cstdint>
#include <vector>

namespace codedag::graph {

class Dag;

// Node ids in an order where every data edge goes forward (ties by position in nodes()).
// Throws FormatError when the data edges have a cycle.
std::vector<int64_t> topological_order(const Dag& dag);

// The ids of one data-edge cycle in edge order, or empty when there is none.
std::vector<int64_t> find_data_cycle(const Dag& dag);

}  // namespace codedag::graph
