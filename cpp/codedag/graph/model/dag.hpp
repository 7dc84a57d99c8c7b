#pragma once
// The pipeline DAG (SPEC §1): one node per traced context, data edges from the context that
// produced a value to every context that received it, call edges from parent to child.
// Times are nanoseconds per traced batch; bytes are per batch too.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::graph {

inline constexpr const char* kDagSchema = "codedag.dag/1";

enum class EdgeKind { data, call };
const char* to_string(EdgeKind kind);

struct Node {
  int64_t id = 0;
  std::string name;      // short name shown to people: "MelSpec.__call__"
  std::string qualname;  // patchable name: "pkg.audio.MelSpec.__call__"
  std::string module, file;
  int64_t line = 0;
  std::string kind = "python";  // "python" | "builtin"
  std::optional<int64_t> parent;
  int64_t depth = 0;
  int64_t calls = 0;
  double cpu_ns = 0;     // exclusive
  double total_ns = 0;   // inclusive
  double out_bytes = 0;  // bytes of returned values
  bool gpu_eligible = false;
  // Library code (an installed distribution, the standard library, a builtin) or the user's own:
  // decided once, by the tracer (codedag.libraries), and only read here. Library contexts are never
  // plan keys of their own (the migrator does not patch libraries; see coarsen.hpp).
  bool library = false;
  std::optional<std::string> distribution;  // "torch", "opencv-python-headless", "stdlib"; null: none
  std::optional<double> gpu_ns, batch_ns;   // measured on those executors; null: estimated
  std::vector<std::string> arg_types, ret_types, lib_calls, blocked_by;
  json extra = json::object();  // fields this version does not know, kept on a round trip
};

struct Edge {
  int64_t src = 0, dst = 0;
  EdgeKind kind = EdgeKind::data;
  double bytes = 0;
  int64_t count = 0;
};

class Dag {
 public:
  json meta = json::object();

  // Adds a node; InputError when the id is taken.
  Node& add_node(Node node);
  // Adds an edge; InputError when an end is not a node.
  void add_edge(const Edge& edge);

  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& nodes() { return nodes_; }
  const std::vector<Edge>& edges() const { return edges_; }
  std::vector<Edge>& edges() { return edges_; }

  bool contains(int64_t id) const { return index_.count(id) != 0; }
  // Position of the node in nodes(); NotFoundError when absent.
  size_t index_of(int64_t id) const;
  const Node& node(int64_t id) const { return nodes_[index_of(id)]; }
  Node& node(int64_t id) { return nodes_[index_of(id)]; }

  size_t data_edge_count() const;
  size_t call_edge_count() const;

  // Checks what the format promises beyond single fields: parents exist, data edges are acyclic.
  // Throws FormatError naming the element (`origin` prefixes the message).
  void validate(const std::string& origin = "dag") const;

  // codedag.dag/1. from_json validates every field and the whole graph.
  static Dag from_json(const json& doc, const std::string& origin = "dag");
  json to_json() const;
  static Dag load(const std::string& path);
  void save(const std::string& path) const;

  // Rebuilds the id index after nodes() was edited in place (ids changed or nodes erased).
  void reindex();

 private:
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::unordered_map<int64_t, size_t> index_;
};

}  // namespace codedag::graph
