#pragma once
// Minimum-weight closure by max-flow/min-cut (Picard 1976): among the sets M of groups closed under
// data successors (u in M => v in M for every arc u -> v) and avoiding the groups that must stay
// on cpu, find one minimising sum_{g in M} w_g. The optimizer's "moved to the main process" set is
// exactly such a closure, so each Lagrangian step of the parametric search is one of these cuts.
#include <cstdint>
#include <vector>

#include "codedag/graph/partition/problem.hpp"

namespace codedag::graph::detail {

class ClosureSolver {
 public:
  // The arcs and the pinned groups are fixed; weights change per solve.
  ClosureSolver(const Problem& p, const std::vector<char>& pinned);

  // Returns the chosen set as a 0/1 vector and its exact weight in `weight`. `slack` receives how far
  // the true minimum may lie below `weight` because capacities are rounded to integers.
  std::vector<char> solve(const std::vector<double>& w, double& weight, double& slack);

 private:
  struct Arc {
    int to;
    int64_t cap;
  };
  void add_arc(int u, int v, int64_t cap);
  int64_t max_flow();
  bool bfs();
  int64_t push(int u, int64_t limit);

  int n_ = 0, s_ = 0, t_ = 0;
  std::vector<Arc> arcs_;
  std::vector<int> head_, next_;
  std::vector<int> adj_begin_, adj_;  // CSR of arc ids per node
  std::vector<int> level_, it_;
  std::vector<int64_t> base_cap_;
  std::vector<int> source_arc_, sink_arc_;  // per group: its s->g and g->t arc ids
  std::vector<char> pinned_;
};

}  // namespace codedag::graph::detail
