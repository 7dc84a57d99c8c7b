#pragma once
// SPEC §2's cost model on a whole DAG: stage time per executor, the bottleneck objective and the
// three constraints. Used to score any plan independently of the optimizer (evaluate_plan) and to
// check that what the optimizer returns is what it claims.
#include <cstdint>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"
#include "codedag/graph/cost/device_model.hpp"

namespace codedag::graph {

class Dag;
struct Node;

// The qualnames a node stands for in a plan: its own, plus those of sibling functions that
// coarsening merged into it (extra "members"). Patching all of them implements the node's placement.
std::vector<std::string> patch_qualnames(const Node& node);

// Whether the migrator can patch what a node stands for, so that a plan may move it: a function of
// the user's that its module can reach (no "<locals>", "<lambda>", generated "<string>" code), or a
// call site "caller->callee" of a library function made directly in a user function (coarsening
// makes those, see coarsen.hpp). Library code and C functions are not: they run where their caller
// runs. A context that is not patchable stays on cpu, and data flowing into it from moved contexts
// is not a back edge: such a context with no patchable caller is DataLoader machinery (the collate
// function), which in batched mode collates the moved part's inputs, not its outputs.
bool is_patchable(const Node& node);
// The user-code half of that: python code whose qualname has no "<...>" part.
bool reachable_name(const Node& node);
// "caller->callee": the plan key of a library call made at one call site (see coarsen.hpp).
inline constexpr const char* kCallSiteSeparator = "->";

// Where each node runs: `executors` lists the executors of the model (index 0 must be "cpu"),
// `of_node[i]` is the index of nodes()[i]'s executor.
struct Placement {
  std::vector<std::string> executors;
  std::vector<int> of_node;
};

struct StageTime {
  std::string executor;
  double train_ns = 0, node_ns = 0, transfer_ns = 0, stage_ns = 0;
  double handoff_ns = 0;  // batch:cpu only: taking the batch from a worker process (model.worker_handoff_ns)
  size_t nodes = 0;
};

struct TransferTime {
  int64_t src = 0, dst = 0;
  std::string from, to;
  double bytes = 0, count = 0, ns = 0;
};

struct CostBreakdown {
  std::vector<StageTime> stages;        // one per executor, in Placement::executors order
  std::vector<TransferTime> transfers;  // data edges whose ends sit on different executors
  double cost = 0;                      // max over stages: the pipelined time per batch
  double total_work = 0;                // sum of stage times: the tie-break
  double baseline_cost = 0;             // the all-cpu plan's cost on the same executors
  double predicted_speedup = 1;
  std::string bottleneck;  // the executor whose stage sets the cost, or "cores" / "serial" (see stage_cost)
  json to_json(bool with_transfers = true) const;
};

// The cost of one batch from its stage times (index 0 = cpu, `main_cpu` = index of batch:cpu or -1):
// SPEC §2's max over the stages, extended by the model's worker count and cores. With W = 0 the
// main process loads the samples itself, so nothing overlaps: the stages add up ("serial"). With
// `cores`, every CPU stage's work of a batch — the workers' (stage[0] times the workers running at
// once) and batch:cpu's — must fit on the cores: cost >= that work / cores ("cores").
// `limit` receives what sets the cost: an executor's name, "serial" or "cores".
double stage_cost(const std::vector<double>& stage, int main_cpu, const DeviceModel& model,
                  const std::vector<std::string>* executors = nullptr, std::string* limit = nullptr);

// Throws InfeasiblePlanError naming the constraint and the node or edge that breaks it:
// non-eligible or non-patchable node off `cpu`; one function (qualname) on two executors; a data edge
// from a main-process executor back to a patchable context on `cpu`. InputError when the placement
// does not fit the DAG.
void check_feasible(const Dag& dag, const Placement& placement);

// Scores a feasible placement (checks it first).
CostBreakdown evaluate_placement(const Dag& dag, const DeviceModel& model, const Placement& placement);

}  // namespace codedag::graph
