#include "codedag/graph/optimizer.hpp"

#include <algorithm>
#include <chrono>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/graph/model/dot.hpp"
#include "codedag/graph/partition/problem.hpp"

namespace codedag::graph {

DeviceModel resolve_model(const Dag& dag, const std::optional<DeviceModel>& model, std::optional<int64_t> workers,
                          std::optional<double> cores) {
  if (workers && *workers < 0) throw InputError("workers must be 0 or more, got " + std::to_string(*workers));
  int64_t from_dag = 0;
  if (dag.meta.is_object() && dag.meta.contains("workers") && dag.meta.at("workers").is_number_integer())
    from_dag = dag.meta.at("workers").get<int64_t>();
  DeviceModel m = model ? *model : DeviceModel::defaults(std::max<int64_t>(1, from_dag));
  if (workers) m.workers = *workers;
  if (cores) m.cores = *cores;
  return m;
}

OptimizeResult optimize(const Dag& dag, const OptimizerOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  o.validate();
  if (o.choose_workers) return optimize_over_workers(dag, o);
  OptimizeResult r;
  r.model = resolve_model(dag, o.device_model, o.workers, o.cores);
  r.executors = executor_names(o.gpu_count);
  r.k = o.k ? o.k : std::max(2, 1 + o.gpu_count);
  auto lap = [&, last = start](const char* phase) mutable {
    const auto now = std::chrono::steady_clock::now();
    r.phase_seconds[phase] = std::chrono::duration<double>(now - last).count();
    last = now;
  };
  r.coarse = coarsen(dag, CoarsenOptions{o.coarsen_max_depth, o.chain_merge_min_nodes});
  const Dag& coarse = r.coarse.dag;

  lap("coarsen");
  const Problem problem = build_problem(coarse, r.model, r.executors, r.k);
  lap("problem");
  r.groups = problem.groups;
  PartitionOptions po = PartitionOptions::preset(o.preset);
  po.algorithm = o.algorithm;
  po.max_iterations = o.max_iterations;
  po.seed = o.seed;
  r.partition = partition(problem, po);
  lap("partition");

  // Partition 0 is cpu; the others are the main-process executors used, in executor order.
  const Solution& best = r.partition.best;
  std::vector<int> partition_of_executor(r.executors.size(), -1);
  partition_of_executor[0] = 0;
  r.partition_executor = {"cpu"};
  std::vector<char> used(r.executors.size(), 0);
  for (const int e : best.exec) used[e] = 1;
  for (size_t e = 1; e < r.executors.size(); ++e)
    if (used[e]) {
      partition_of_executor[e] = static_cast<int>(r.partition_executor.size());
      r.partition_executor.push_back(r.executors[e]);
    }
  r.placement.executors = r.executors;
  r.placement.of_node.resize(coarse.nodes().size());
  for (size_t i = 0; i < coarse.nodes().size(); ++i) {
    const int e = best.exec[problem.group_of_node[i]];
    r.placement.of_node[i] = e;
    r.partitions[coarse.nodes()[i].id] = partition_of_executor[e];
  }
  r.plan = make_plan(coarse, r.placement, r.model, &r.breakdown);
  r.plan.extra["lower_bound"] = r.partition.lower_bound;
  r.plan.extra["gap"] = r.partition.gap();
  lap("plan");
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

json OptimizeResult::to_json(bool with_details) const {
  json parts = json::object();
  if (with_details)
    for (const auto& [id, p] : partitions) parts[std::to_string(id)] = p;
  json pe = json::array();
  for (const auto& e : partition_executor) pe.push_back(e);
  json ex = json::array();
  for (const auto& e : executors) ex.push_back(e);
  return {{"optimized_partitions", parts},
          {"partition_executors", pe},
          {"executors", ex},
          {"k", k},
          {"cost", breakdown.cost},
          {"baseline_cost", breakdown.baseline_cost},
          {"predicted_speedup", breakdown.predicted_speedup},
          {"lower_bound", partition.lower_bound},
          {"gap", partition.gap()},
          {"proved_optimal", partition.proved_optimal},
          {"greedy_cost", partition.greedy.cost},
          {"method", partition.method},
          {"cuts", partition.cuts},
          {"refinement_passes", partition.refinement_passes},
          {"search_nodes", partition.search_nodes},
          {"groups", groups},
          {"nodes", coarse.dag.nodes().size()},
          {"folded_by_depth", coarse.folded_by_depth},
          {"folded_libraries", coarse.folded_libraries},
          {"folded_unreachable", coarse.folded_unreachable},
          {"call_sites", coarse.call_sites},
          {"merged_cycles", coarse.merged_cycles},
          {"merged_chains", coarse.merged_chains},
          {"seconds", seconds},
          {"phase_seconds", phase_seconds},
          {"breakdown", breakdown.to_json(with_details)},
          {"device_model", model.to_json()},
          {"parallelism", parallelism ? parallelism->to_json() : json(nullptr)}};
}

MigrationPlan migration_plan(const Dag& dag, const std::map<int64_t, int>& partitions, int gpu_count,
                             const DeviceModel& model) {
  if (gpu_count < 0) throw InputError("gpu_count must be 0 or more, got " + std::to_string(gpu_count));
  int parts = 1;
  for (const auto& [id, p] : partitions) {
    if (!dag.contains(id))
      throw InputError("partitions name node " + std::to_string(id) +
                       ", which is not in the DAG; pass the DAG the "
                       "partitions were computed on (the coarsened one)");
    if (p < 0)
      throw InputError("partition of node " + std::to_string(id) + " is " + std::to_string(p) +
                       "; partitions are 0 or more");
    parts = std::max(parts, p + 1);
  }
  const size_t n = dag.nodes().size();
  std::vector<int> part_of(n, 0);
  for (size_t i = 0; i < n; ++i)
    if (const auto it = partitions.find(dag.nodes()[i].id); it != partitions.end()) part_of[i] = it->second;
  // The partitions themselves must be implementable, whatever executors they land on.
  Placement as_given;
  for (int p = 0; p < parts; ++p) as_given.executors.push_back(p == 0 ? "cpu" : "partition " + std::to_string(p));
  as_given.of_node = part_of;
  check_feasible(dag, as_given);

  const std::vector<std::string> executors = executor_names(gpu_count);
  const int mains = static_cast<int>(executors.size()) - 1;
  Placement placement;
  placement.executors = executors;
  placement.of_node.assign(n, 0);
  MigrationPlan best = make_plan(dag, placement, model);  // all on cpu
  double best_work = evaluate_placement(dag, model, placement).total_work;
  // Every map of partitions 1.. onto main executors (several may share one); a few thousand at most.
  std::vector<int> map(parts, 1);
  map[0] = 0;
  int64_t combos = 1;
  for (int p = 1; p < parts && combos < 100000; ++p) combos *= mains;
  if (combos >= 100000)
    throw InputError("too many partitions (" + std::to_string(parts) + ") to map onto " + std::to_string(mains) +
                     " executors; use k of at most 8");
  for (int64_t c = 0; c < combos; ++c) {
    int64_t x = c;
    for (int p = 1; p < parts; ++p) {
      map[p] = 1 + static_cast<int>(x % mains);
      x /= mains;
    }
    for (size_t i = 0; i < n; ++i) placement.of_node[i] = map[part_of[i]];
    const CostBreakdown b = evaluate_placement(dag, model, placement);
    if (b.cost < *best.cost * (1 - 1e-12) ||
        (same_cost(b.cost, *best.cost) && b.total_work < best_work && !same_cost(b.total_work, best_work))) {
      best = make_plan(dag, placement, model);
      best_work = b.total_work;
    }
  }
  return best;
}

void export_result(const Dag& original, const OptimizeResult& r, const std::string& dir) {
  make_directories(dir);
  original.save(dir + "/dag.json");
  r.coarse.dag.save(dir + "/coarsened_dag.json");
  save_json_file(dir + "/partitions.json", r.to_json(), 2);
  r.plan.save(dir + "/plan.json");
  std::map<int64_t, std::string> executor_of;
  for (size_t i = 0; i < r.coarse.dag.nodes().size(); ++i)
    executor_of[r.coarse.dag.nodes()[i].id] = r.executors[r.placement.of_node[i]];
  write_file_atomic(dir + "/dag.dot", to_dot(r.coarse.dag, &executor_of));
  write_file_atomic(dir + "/summary.md", summary_markdown(original, r));
}

}  // namespace codedag::graph
