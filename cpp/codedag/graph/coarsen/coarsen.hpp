#pragma once
// Coarsening: shrink a traced DAG to the level where placement decisions are made, keeping every
// node a real, patchable function.
//  1. depth and libraries: every context deeper than max_depth folds into its ancestor at max_depth
//     (its time runs inside that ancestor, so patching the ancestor moves it too), and every
//     library context (see is_library) folds into its nearest non-library ancestor: the migrator
//     never patches library code, so a library context as a plan key of its own would move nothing;
//     its work moves with the user function that calls it. A library context with no user
//     ancestor (a root such as default_collate) stays. Edges are re-pointed, self-loops dropped,
//     parallel edges summed. Should folding make data edges circular, the contexts of each cycle
//     merge into one node that lists the others' qualnames in extra "members".
//  2. chains (large graphs only): a context whose only consumer is v, where v's only producer is
//     it, merges with v (same eligibility); v's qualname joins "members".
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {

// Top-level package names whose contexts are library code: the scientific stack the pipelines call
// and the standard-library modules the tracer shows. "builtins" covers C functions traced by name.
const std::vector<std::string>& default_library_modules();

struct CoarsenOptions {
  int max_depth = 5;
  // Chain merging runs when the depth-coarsened graph has at least this many nodes (0: never).
  // Off by default: on the benchmark's 100k-node graphs it cost time and plan quality (it forces
  // producer and consumer together), while the min-cut handles 100k nodes directly.
  int64_t chain_merge_min_nodes = 0;
  // Top-level package names treated as libraries (folded into their user caller). Users add their
  // own installed packages; an empty list turns library folding off (kind "builtin" still counts).
  std::vector<std::string> library_modules = default_library_modules();
};

// A library context: kind "builtin", or the first dotted component of its module (of its qualname
// when the module is empty) is one of `library_modules`.
bool is_library(const Node& node, const std::vector<std::string>& library_modules);

struct CoarsenResult {
  Dag dag;
  std::unordered_map<int64_t, int64_t> representative;  // original id -> coarse id
  size_t folded_by_depth = 0, folded_libraries = 0, merged_cycles = 0, merged_chains = 0;
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
