// CDL015: distributed-training pitfalls. A DistributedSampler whose set_epoch() is never called
// shuffles every epoch the same way; saving checkpoints or logging on every rank writes N copies
// (and races on the same file).
#include "codedag/lint/rules.hpp"

namespace codedag::lint {

void check_distributed(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL015")) return;
  const SourceText& src = m.src();
  bool epoch_loop = false;
  for (const auto& l : m.loops())
    if (l->contains_data_loop) epoch_loop = true;
  if (epoch_loop && !m.calls_method("set_epoch"))
    for (const CallSite& c : m.calls())
      if (last_component(c.qualified) == "DistributedSampler")
        r.report("CDL015", c.call,
                 "this DistributedSampler never gets `set_epoch(epoch)`: every epoch sees the same order; call "
                 "`sampler.set_epoch(epoch)` at the start of each epoch");

  // Is this DDP code? (a process group, or a DistributedDataParallel wrapper)
  bool ddp = false;
  for (const CallSite& c : m.calls()) {
    const std::string_view last = last_component(c.qualified);
    if (last == "init_process_group" || last == "DistributedDataParallel") ddp = true;
  }
  if (!ddp) return;
  for (const CallSite& c : m.calls()) {
    if (c.context.rank_guard) continue;
    const std::string& q = c.qualified;
    const bool save = q == "torch.save";
    const bool log = is_under(q, "wandb.log") || (c.method.rfind("add_scalar", 0) == 0 && c.receiver) ||
                     is_under(q, "mlflow.log_metric") || is_under(q, "mlflow.log_metrics");
    const bool print_in_loop = q == "print" && c.context.hot;
    if (!save && !log && !print_in_loop) continue;
    r.report("CDL015", c.call,
             "`" + snippet(c.call, src) +
                 "` runs on every rank under DDP (N copies, racing writes); guard it with `if rank == 0:` "
                 "(dist.get_rank() == 0)");
  }
}

}  // namespace codedag::lint
