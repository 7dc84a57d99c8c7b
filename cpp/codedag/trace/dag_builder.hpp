#pragma once
// Turns a ResolvedTree into the pipeline DAG (codedag.dag/1): one node per context, call edges
// parent -> child, data edges producer -> consumer, per-batch numbers, GPU eligibility.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "codedag/graph/model/dag.hpp"
#include "codedag/trace/resolved_tree.hpp"

namespace codedag::trace {

// The one library decision for a module (codedag.libraries.decide, made in Python where the import
// system is): library code or the user's own, and the distribution that provides it.
struct LibraryInfo {
  bool library = false;
  std::optional<std::string> distribution;
};

struct DagBuildOptions {
  int64_t batches = 1;              // numbers are divided by this (SPEC: per traced batch)
  bool registry_available = false;  // codedag.strategies was importable
  json meta = json::object();       // merged into dag.meta
  // module -> decision, carried on every node of that module. A module absent here keeps the
  // hook's own judgement. A builtin (C function) is library code whatever its module's decision:
  // C code is never patched, it runs where its Python caller runs.
  std::map<std::string, LibraryInfo> libraries;
};

// The distinct modules of the tree's contexts (what to ask the library decision about).
std::vector<std::string> context_modules(const ResolvedTree& tree);

struct DagBuildReport {
  int64_t dropped_data_edges = 0;  // back edges removed to keep data edges acyclic
};

// GPU eligibility of every context (SPEC §1/§3): values are tensors (or arrays/PIL images when the
// registry exists), every library call is a torch op or registry-covered, and every recorded
// non-covered child is itself eligible. `blocked_by` receives what stopped each context.
void compute_eligibility(const ResolvedTree& tree, bool registry_available, std::vector<bool>& eligible,
                         std::vector<std::vector<std::string>>& blocked_by);

// Aggregated contexts can feed a value back (a loop passing its output to the next iteration of the
// same call site). The DAG format forbids data-edge cycles, so cycles are broken deterministically:
// self loops are dropped, then edges are kept in (producer first seen, consumer first seen) order
// unless they would close a cycle with the edges already kept.
graph::Dag build_dag(const ResolvedTree& tree, const DagBuildOptions& options, DagBuildReport* report = nullptr);

}  // namespace codedag::trace
