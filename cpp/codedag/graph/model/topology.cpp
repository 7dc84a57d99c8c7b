#include "codedag/graph/model/topology.hpp"

#include <queue>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {
namespace {

// Data-edge adjacency over node positions (not ids), so the searches below are array walks.
std::vector<std::vector<size_t>> data_successors(const Dag& dag) {
  std::vector<std::vector<size_t>> succ(dag.nodes().size());
  for (const Edge& e : dag.edges())
    if (e.kind == EdgeKind::data) succ[dag.index_of(e.src)].push_back(dag.index_of(e.dst));
  return succ;
}

}  // namespace

std::vector<int64_t> topological_order(const Dag& dag) {
  const auto succ = data_successors(dag);
  std::vector<size_t> indegree(succ.size(), 0);
  for (const auto& out : succ)
    for (const size_t v : out) ++indegree[v];
  // A min-heap on position keeps the order stable: the file's order wherever the edges allow it.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t v = 0; v < succ.size(); ++v)
    if (indegree[v] == 0) ready.push(v);
  std::vector<int64_t> order;
  order.reserve(succ.size());
  while (!ready.empty()) {
    const size_t u = ready.top();
    ready.pop();
    order.push_back(dag.nodes()[u].id);
    for (const size_t v : succ[u])
      if (--indegree[v] == 0) ready.push(v);
  }
  if (order.size() != succ.size()) throw FormatError("the DAG's data edges have a cycle");
  return order;
}

std::vector<int64_t> find_data_cycle(const Dag& dag) {
  const auto succ = data_successors(dag);
  enum : char { white, grey, black };
  std::vector<char> colour(succ.size(), white);
  std::vector<size_t> parent(succ.size(), SIZE_MAX);
  // Iterative DFS: a 100k-node chain must not overflow the stack.
  for (size_t root = 0; root < succ.size(); ++root) {
    if (colour[root] != white) continue;
    std::vector<std::pair<size_t, size_t>> stack{{root, 0}};
    colour[root] = grey;
    while (!stack.empty()) {
      auto& [u, next] = stack.back();
      if (next < succ[u].size()) {
        const size_t v = succ[u][next++];
        if (colour[v] == grey) {
          std::vector<int64_t> cycle;
          for (size_t w = u; w != v; w = parent[w]) cycle.push_back(dag.nodes()[w].id);
          cycle.push_back(dag.nodes()[v].id);
          return {cycle.rbegin(), cycle.rend()};
        }
        if (colour[v] == white) {
          colour[v] = grey;
          parent[v] = u;
          stack.emplace_back(v, 0);
        }
      } else {
        colour[u] = black;
        stack.pop_back();
      }
    }
  }
  return {};
}

}  // namespace codedag::graph
