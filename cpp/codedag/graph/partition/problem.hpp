#pragma once
// The optimizer's view of a DAG: contexts grouped by function (every context of one function must
// share an executor, so a group is the unit of decision), with per-group times on each executor and
// the data arcs between groups aggregated (transfer cost is linear in bytes and count, so summing
// parallel edges is exact). Evaluating a group assignment here gives the same cost as
// evaluate_placement on the DAG, at array speed.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "codedag/graph/cost/device_model.hpp"

namespace codedag::graph {

class Dag;

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();

struct GroupArc {
  int u = 0, v = 0;  // group indices, u != v
  double bytes = 0, count = 0;
};

struct Problem {
  std::vector<std::string> executors;  // [0] = cpu
  int max_main = 1;                    // k - 1: how many main-process executors a plan may use
  std::vector<double> train;           // per executor (0 for cpu); batch:cpu's includes the worker hand-off
  DeviceModel model;                   // workers and cores: how stages combine into the cost (stage_cost)
  int main_cpu = -1;                   // index of batch:cpu in executors (-1: absent)
  int groups = 0;
  std::vector<int> group_of_node;  // node position -> group
  std::vector<double> cpu_stage;   // group's contribution to S_cpu (cpu_ns / workers running at once)
  std::vector<double> time;        // groups x executors: time on e (kInfinity: not allowed)
  std::vector<char> eligible;      // may leave cpu
  std::vector<GroupArc> arcs;
  std::vector<double> latency, ns_per_byte;  // executors x executors
  // CSR adjacency of arcs: out_arcs[out_begin[g] .. out_begin[g+1]) are arc indices leaving g.
  std::vector<int> out_begin, out_arcs, in_begin, in_arcs;

  int E() const { return static_cast<int>(executors.size()); }
  double t(int g, int e) const { return time[static_cast<size_t>(g) * executors.size() + e]; }
  double arc_cost(const GroupArc& a, int from, int to) const {
    const size_t i = static_cast<size_t>(from) * executors.size() + to;
    return a.count * latency[i] + a.bytes * ns_per_byte[i];
  }
};

// Builds the problem; `k` bounds partitions (cpu + k-1 main executors).
Problem build_problem(const Dag& dag, const DeviceModel& model, const std::vector<std::string>& executors, int k);

// An assignment of groups to executors with its score.
struct Solution {
  std::vector<int> exec;
  double cost = kInfinity;
  double work = kInfinity;
  std::vector<double> stage;  // per executor
};

// Fills cost/work/stage; cost = kInfinity when infeasible (see feasible()).
void score(const Problem& p, Solution& s);
// Why an assignment is infeasible ("" when it is feasible).
std::string infeasibility(const Problem& p, const std::vector<int>& exec);
// a strictly better than b: lower cost, or equal cost (relative 1e-9) and lower work.
bool better(const Solution& a, const Solution& b);
bool same_cost(double a, double b);

Solution all_cpu(const Problem& p);

}  // namespace codedag::graph
