// CDL015: distributed-training pitfalls. A DistributedSampler whose set_epoch() is never called
// shuffles every epoch the same way; saving checkpoints or logging on every rank writes N copies
// (and races on the same file).
#include "codedag/lint/rules.hpp"

namespace codedag::lint {
namespace {

bool saves_to_file(Node target, const SourceText& src) {
  if (!target) return false;
  if (target.is("string") || target.is("concatenated_string")) return true;
  const std::string text = lower(target.text(src));
  for (const char* w : {"path", "file", "ckpt", "checkpoint", "dir", ".pt", "join("})
    if (text.find(w) != std::string::npos) return true;
  return false;
}

}  // namespace

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
    // torch.save to a path (not into an io.BytesIO buffer).
    const bool save = q == "torch.save" && saves_to_file(positional_argument(c.call, 1), src);
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
