#pragma once
// Is a DAG a pipeline worth optimizing? An empty or trivial DAG is almost always a tracing mistake
// (the traced code ran outside tracing_context(), the DataLoader's workers started before the
// tracer existed, only library code was called), and optimizing it would "succeed" with nothing to
// move. This one function decides it, and names the likely cause, for every place that takes a DAG
// to work on: `codedag dag show`, `codedag optimize`, OptimizerManager.optimize and optimize-run.
#include <string>

#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {

struct PipelineVerdict {
  bool usable = true;
  std::string problem;  // what is wrong ("0 contexts"), empty when usable
  std::string cause;    // the likely cause and what to do
  std::string message() const { return problem + ": " + cause; }
};

// What a DAG holds for the optimizer. Trivial: no contexts; no context that ran; no time; no
// context of the user's own code (everything recorded is library code, builtins or DataLoader
// machinery, which no plan can move). The tracer's `meta` (batches consumed, unarmed iterators,
// diagnostics) sharpens the cause.
PipelineVerdict check_pipeline(const Dag& dag);

// InputError "<origin>: <problem>: <cause>" unless check_pipeline(dag) finds it usable.
void require_pipeline(const Dag& dag, const std::string& origin);

}  // namespace codedag::graph
