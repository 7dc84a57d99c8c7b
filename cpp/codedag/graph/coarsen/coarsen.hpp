#pragma once
// Coarsening: shrink a traced DAG to the level where placement decisions are made, keeping every
// node a real, patchable function.
//  1. depth, libraries, call sites: every context deeper than max_depth folds into its ancestor at
//     max_depth (its time runs inside that ancestor, so patching the ancestor moves it too), and
//     every context the migrator cannot patch (is_patchable: library code, Node::library, and user
//     code its module cannot reach, a lambda or a nested function) folds into its nearest patchable
//     ancestor: as a plan key of its own it would move nothing; its work moves with the function
//     that calls it. One exception, the *call site*: a library function (python code, not the
//     standard library) called directly by a user function that cannot move (not gpu_eligible, e.g.
//     a __getitem__ that touches pandas) stays a context of its own when it could move itself, with
//     the plan key "caller->callee" (extra "call_site": {caller, callee}); the migrator then
//     intercepts that library call only when it is made from that caller. Folding it into its
//     pinned caller would pin it, and with it everything its output flows into.
//     A context with no patchable ancestor (a root such as default_collate) stays, and stays on cpu.
//     Edges are re-pointed, self-loops dropped, parallel edges summed. Should folding make data
//     edges circular, the contexts of each cycle merge into one node that lists the others'
//     qualnames in extra "members".
//  2. chains (large graphs only): a context whose only consumer is v, where v's only producer is
//     it, merges with v (same eligibility); v's qualname joins "members".
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "codedag/graph/model/dag.hpp"

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
  size_t folded_by_depth = 0, folded_libraries = 0, folded_unreachable = 0, call_sites = 0;
  size_t merged_cycles = 0, merged_chains = 0;
};

CoarsenResult coarsen(const Dag& dag, const CoarsenOptions& options);

namespace detail {
// How node i joins its representative in merge_nodes.
enum Absorb : char {
  kDescendant = 0,   // runs inside the representative: exclusive times add, eligibility ANDs
  kMember = 1,       // a sibling merged in: its qualnames join the representative's members
  kLibraryCall = 2,  // a library call of the representative: as kDescendant, but the representative
                     // keeps its own eligibility (the tracer already judged it with its library calls)
};
// Builds the coarse DAG where node i of `dag` becomes rep[i] (a position in `dag`, rep[rep[i]] == rep[i]);
// `absorbed_as_member[i]` is an Absorb value.
Dag merge_nodes(const Dag& dag, const std::vector<size_t>& rep, const std::vector<char>& absorbed_as_member);
}  // namespace detail

}  // namespace codedag::graph
