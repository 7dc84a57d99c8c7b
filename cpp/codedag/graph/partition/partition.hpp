#pragma once
// Partitioning a Problem (partition_problem.hpp) onto executors, mt-kahypar style: one options
// struct with named presets, small phases behind plain functions, and a name -> implementation
// registry so the CLI, the bindings and the benchmark can pick an algorithm by name.
//
//   exact       branch and bound over function groups (proved optimal; small graphs)
//   parametric  parametric min-cut on the closure constraint (Lagrangian lower bound), then local
//               refinement; k > 2 adds a multi-executor Lagrangian and refinement across executors
//   greedy      HEFT-like list scheduling: the baseline every result is compared with
//   auto        exact up to `exact_max_groups` groups, parametric beyond
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codedag/graph/partition/problem.hpp"

namespace codedag::graph {

struct PartitionOptions {
  std::string algorithm = "auto";
  int max_iterations = 50;    // refinement passes
  uint64_t seed = 0;          // refinement visit order
  int exact_max_groups = 14;  // auto: exact branch and bound up to this many function groups
  int lambda_steps = 40;      // parametric: min-cuts per executor (the search stops sooner when it converges)
  int64_t exact_node_limit = 50'000'000;  // branch-and-bound nodes before it gives up being exact

  // "default"; "fast" (fewer cuts and passes); "exact" (branch and bound up to 22 groups).
  static PartitionOptions preset(const std::string& name);
};

struct PartitionResult {
  Solution best;
  Solution greedy;         // the HEFT-like baseline
  Solution baseline;       // all on cpu
  double lower_bound = 0;  // no feasible plan costs less
  bool proved_optimal = false;
  std::string method;  // which phase produced `best`
  int cuts = 0;        // min-cut solves
  int refinement_passes = 0;
  int64_t search_nodes = 0;  // branch-and-bound nodes
  double gap() const { return best.cost > 0 ? (best.cost - lower_bound) / best.cost : 0.0; }
};

class Partitioner {
 public:
  virtual ~Partitioner() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual PartitionResult partition(const Problem& problem, const PartitionOptions& options) const = 0;
};

// The registry: InputError naming the known algorithms when `name` is unknown.
const Partitioner& partitioner(const std::string& name);
std::vector<std::string> partitioner_names();

// Runs options.algorithm; the result is never worse than all-cpu or the greedy baseline and its
// lower_bound never exceeds its cost.
PartitionResult partition(const Problem& problem, const PartitionOptions& options);

namespace detail {

// Groups in an order where every arc between different strongly connected components goes forward;
// comp[g] is g's component; blocked[g]: a non-eligible group is reachable from g, so g must stay on cpu.
struct GroupOrder {
  std::vector<int> order, comp;
  std::vector<char> blocked;
};
GroupOrder group_order(const Problem& p);

Solution greedy_list_schedule(const Problem& p);
// Branch and bound; `incumbent` prunes. Sets `proved` false when the node limit stopped it.
Solution exact_search(const Problem& p, const Solution& incumbent, int64_t node_limit, int64_t& nodes, bool& proved);

struct ParametricOutcome {
  Solution best;
  double lower_bound = 0;
  int cuts = 0;
  int passes = 0;
};
ParametricOutcome parametric(const Problem& p, const PartitionOptions& options);

// Local moves of single groups between executors that keep the plan feasible; at most
// `max_passes` passes. Returns the passes made.
int refine(const Problem& p, Solution& s, int max_passes, uint64_t seed);

}  // namespace detail
}  // namespace codedag::graph
