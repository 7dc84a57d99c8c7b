#include "codedag/graph/model/dag.hpp"

#include <algorithm>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/topology.hpp"

namespace codedag::graph {

const char* to_string(EdgeKind kind) { return kind == EdgeKind::data ? "data" : "call"; }

Node& Dag::add_node(Node node) {
  if (index_.count(node.id))
    throw InputError("node id " + std::to_string(node.id) + " is used twice; ids must be unique");
  if (node.qualname.empty()) node.qualname = node.name;
  index_.emplace(node.id, nodes_.size());
  nodes_.push_back(std::move(node));
  return nodes_.back();
}

void Dag::add_edge(const Edge& edge) {
  for (const int64_t end : {edge.src, edge.dst})
    if (!contains(end))
      throw InputError(std::string(to_string(edge.kind)) + " edge " + std::to_string(edge.src) + " -> " +
                       std::to_string(edge.dst) + " names node " + std::to_string(end) + ", which does not exist");
  edges_.push_back(edge);
}

size_t Dag::index_of(int64_t id) const {
  const auto it = index_.find(id);
  if (it == index_.end()) throw NotFoundError("no node with id " + std::to_string(id) + " in the DAG");
  return it->second;
}

size_t Dag::data_edge_count() const {
  return static_cast<size_t>(
      std::count_if(edges_.begin(), edges_.end(), [](const Edge& e) { return e.kind == EdgeKind::data; }));
}

size_t Dag::call_edge_count() const { return edges_.size() - data_edge_count(); }

void Dag::reindex() {
  index_.clear();
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!index_.emplace(nodes_[i].id, i).second)
      throw InputError("node id " + std::to_string(nodes_[i].id) + " is used twice; ids must be unique");
}

void Dag::validate(const std::string& origin) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (n.parent && !contains(*n.parent))
      throw FormatError(origin + ": nodes[" + std::to_string(i) + "] (id " + std::to_string(n.id) + "): parent " +
                        std::to_string(*n.parent) + " is not a node");
  }
  if (const auto cycle = find_data_cycle(*this); !cycle.empty()) {
    std::string path;
    for (const int64_t id : cycle) path += std::to_string(id) + " -> ";
    path += std::to_string(cycle.front());
    throw FormatError(origin + ": data edges form a cycle (" + path +
                      "); a pipeline DAG's data must flow one way — merge the contexts of the cycle or drop the "
                      "back edge");
  }
}

}  // namespace codedag::graph
