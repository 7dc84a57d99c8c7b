// optimize_over_workers: the placement and the worker count decided together (see parallelism.hpp).
#include <algorithm>
#include <chrono>
#include <cmath>

#include "codedag/common/error.hpp"
#include "codedag/graph/optimizer.hpp"

namespace codedag::graph {
namespace {

constexpr int64_t kDefaultMaxWorkers = 16;

int64_t meta_int(const Dag& dag, const char* key) {
  if (dag.meta.is_object() && dag.meta.contains(key) && dag.meta.at(key).is_number_integer())
    return dag.meta.at(key).get<int64_t>();
  return -1;
}

// Cheaper wins; on a tie (relative 1e-9) fewer workers: each costs memory and start-up time the
// model does not see.
bool preferred(double cost, int64_t workers, double best_cost, int64_t best_workers) {
  const double tolerance = 1e-9 * std::max(std::fabs(cost), std::fabs(best_cost));
  if (std::fabs(cost - best_cost) > tolerance) return cost < best_cost;
  return workers < best_workers;
}

double main_busy(const OptimizeResult& r, double cost) {
  double busy = 0;
  for (const StageTime& s : r.breakdown.stages)
    if (s.executor == "batch:cpu") busy = s.stage_ns;
  return cost > 0 ? busy / cost : 0.0;
}

}  // namespace

OptimizeResult optimize_over_workers(const Dag& dag, const OptimizerOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  options.validate();
  const DeviceModel base = resolve_model(dag, options.device_model, std::nullopt, options.cores);
  if (base.cores <= 0)
    throw InputError(
        "choosing the worker count needs the cores the job may use: give the device model's 'cores' or the "
        "option cores (codedag optimize --cores N; the closed loop reads them from the cgroup and affinity)");
  const int64_t untouched = meta_int(dag, "workers");
  const int64_t bound = options.max_workers > 0 ? options.max_workers
                                                : std::clamp<int64_t>(2 * static_cast<int64_t>(std::ceil(base.cores)),
                                                                      2, kDefaultMaxWorkers);
  std::vector<int64_t> counts;
  for (int64_t w = 0; w <= bound; ++w) counts.push_back(w);
  if (untouched > bound) counts.push_back(untouched);

  OptimizerOptions each = options;
  each.choose_workers = false;
  each.device_model = base;
  Parallelism p;
  p.cores = base.cores;
  p.untouched_workers = untouched;
  std::optional<OptimizeResult> best;
  int64_t best_plain = -1;
  for (const int64_t w : counts) {
    each.workers = w;
    OptimizeResult r = optimize(dag, each);
    WorkerSetting s{w, r.breakdown.cost, r.breakdown.baseline_cost, r.breakdown.bottleneck};
    if (w == untouched) p.untouched_cost = s.plain_cost;
    if (best_plain < 0 || preferred(s.plain_cost, w, p.plain_cost, best_plain)) {
      best_plain = w;
      p.plain_cost = s.plain_cost;
      // A plain DataLoader's main process only takes batches (and trains): its busy share.
      double main_stage = 0;
      for (const StageTime& st : r.breakdown.stages)
        if (st.executor == "batch:cpu") main_stage = st.train_ns + st.handoff_ns;
      p.plain_threads_per_worker =
          threads_per_worker(base.cores, w, s.plain_cost > 0 ? main_stage / s.plain_cost : 0.0);
    }
    if (!best || preferred(s.plan_cost, w, best->breakdown.cost, best->model.workers)) best = std::move(r);
    p.settings.push_back(std::move(s));
  }
  p.plain_workers = best_plain;
  OptimizeResult r = std::move(*best);
  p.workers = r.model.workers;
  p.threads_per_worker = threads_per_worker(base.cores, p.workers, main_busy(r, r.breakdown.cost));
  p.main_threads = std::max<int64_t>(
      1, static_cast<int64_t>(std::floor(base.cores - (p.workers > 0 ? static_cast<double>(p.workers) : 0.0))));
  const int64_t samples = meta_int(dag, "samples"), batches = meta_int(dag, "batches");
  p.batch_size = samples > 0 && batches > 0 ? samples / batches : 0;
  p.suggested_batch_size = suggest_batch_size(p.batch_size, r.breakdown.cost,
                                              p.workers > 0 ? r.model.worker_handoff_ns : 0.0, p.batch_size_reason);
  r.parallelism = p;
  r.plan.parallelism = p;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.phase_seconds["workers"] = r.seconds;
  return r;
}

}  // namespace codedag::graph
