#pragma once
// The picture of a pipeline DAG: a layered layout (graph/layout) drawn as one self-contained SVG,
// each context coloured by the executor a plan puts it on, data edges as wide as the bytes they
// carry, call edges thin and dashed, transfers between executors in red. No scripts, no fonts or
// images fetched: the same markup is a file (`codedag dag svg`), a section of the HTML report and
// the panel's DAG page (which adds pan/zoom and clicks around it, keyed by data-id).
#include <string>
#include <vector>

#include "codedag/graph/layout/layered_layout.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/plan/plan.hpp"

namespace codedag::report {

// Where each node (in dag.nodes() order) runs under `plan`: the executor of its qualname in the
// plan's map, else that of its nearest ancestor in the map (a moved function takes its callees
// with it; `inherited` says so), else "cpu". Without a plan every node is on "cpu".
struct NodePlacementInfo {
  std::vector<std::string> executor;
  std::vector<bool> inherited;
};
NodePlacementInfo node_executors(const graph::Dag& dag, const graph::MigrationPlan* plan);

// The fill colour used for an executor ("cpu", "batch:cpu", "cuda:0", ...).
std::string executor_colour(const std::string& executor);

struct DagSvgOptions {
  std::string title;       // shown at the top; empty: none
  bool call_edges = true;  // draw parent -> child call edges too
  std::string element_id;  // id attribute of the <svg>, for pages that embed several
};

// The layout of `dag` as render_dag_svg draws it (node order = dag.nodes(); edges: data edges,
// then call edges when options.call_edges).
graph::layout::Layout layout_dag(const graph::Dag& dag, const DagSvgOptions& options = {});

std::string render_dag_svg(const graph::Dag& dag, const graph::MigrationPlan* plan, const DagSvgOptions& options = {});

}  // namespace codedag::report
