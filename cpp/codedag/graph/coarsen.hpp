#pragma once
// Coarsening: shrink a traced DAG to the level where placement decisions are made, keeping every
// node a real, patchable function.
//  1. depth: every context deeper than max_depth folds into its ancestor at max_depth (its time runs
//     inside that ancestor, so patching the ancestor moves it too). Edges are re-pointed, self-loops
//     dropped, parallel edges summed. Should folding make data edges circular, the contexts of
//     each cycle merge into one node that lists the others' qualnames in extra "members".
//  2. chains (large graphs only): a context whose only consumer is v, where v's only producer is
//     it, merges with v (same eligibility); v's qualname joins "members".
#include <cstdint>
#include <unordered_map>

#include "codedag/graph/dag.hpp"

namespace codedag::graph {

struct CoarsenOptions {
  int max_depth = 5;
  // Chain merging runs when the depth-coarsened graph has at least this many nodes (0: never).
  // Off by default: on the benchmark's 100k-node graphs it cost time and plan quality (it forces
  // producer and consumer together), while the min-cut handles 100k nodes directly.
  int64_t chain_merge_min_nodes = 0;
};

struct CoarsenResult {
  Dag dag;
  std::unordered_map<int64_t, int64_t> representative;  // original id -> coarse id
  size_t folded_by_depth = 0, merged_cycles = 0, merged_chains = 0;
};

CoarsenResult coarsen(const Dag& dag, const CoarsenOptions& options);

namespace detail {
// Builds the coarse DAG where node i of `dag` becomes rep[i] (a position in `dag`, rep[rep[i]] == rep[i]);
// `absorbed_as_member[i]` true: i is a sibling merged in (its qualnames join the representative's members)
// rather than a descendant running inside the representative.
Dag merge_nodes(const Dag& dag, const std::vector<size_t>& rep, const std::vector<char>& absorbed_as_member);
}  // namespace detail

}  // namespace codedag::graph
