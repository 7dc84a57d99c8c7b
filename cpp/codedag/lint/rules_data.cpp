// Rules about feeding the model: CDL006 (DataLoader without workers), CDL007 (non_blocking copies
// from unpinned memory), CDL012 (seeding and determinism).
#include <unordered_set>

#include "codedag/lint/config.hpp"
#include "codedag/lint/rules.hpp"

namespace codedag::lint {
namespace {

bool is_torch_dataloader(const CallSite& c) {
  return last_component(c.qualified) == "DataLoader" &&
         (is_under(c.qualified, "torch.utils.data") || c.qualified == "DataLoader" ||
          is_under(c.qualified, "torch_geometric.loader"));
}

// The edit that imports os when the file does not (before the first import, after __future__ ones).
std::optional<Edit> import_os_edit(const ModuleModel& m) {
  if (m.imports().binds("os")) return std::nullopt;
  const Node root = m.tree().root();
  uint32_t at = 0;
  bool found = false;
  for (uint32_t i = 0; i < root.named_child_count(); ++i) {
    const Node s = root.named_child(i);
    if (s.is("future_import_statement")) {
      at = m.src().line_start(m.src().line_of(s.end()) + 1);
      found = true;
      continue;
    }
    if (s.is("import_statement") || s.is("import_from_statement")) {
      if (!found) at = s.start();
      found = true;
      break;
    }
  }
  if (!found) {
    // After a module docstring, else at the top.
    const Node first = root.named_child_count() ? root.named_child(0) : Node();
    if (first && first.is("expression_statement") && first.named_child_count() && first.named_child(0).is("string"))
      at = m.src().line_start(m.src().line_of(first.end()) + 1);
  }
  return Edit{at, at, "import os\n"};
}

}  // namespace

void check_loader_workers(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL006") || m.settings().small_data) return;
  const SourceText& src = m.src();
  for (const CallSite& c : m.calls()) {
    if (!is_torch_dataloader(c) || has_splat_arguments(c.call)) continue;
    const Node kw = keyword_argument(c.call, "num_workers", src);
    const Node value = kw ? kw.field("value") : Node();
    if (kw && !(value && value.is("integer") && value.text(src) == "0")) continue;
    // In-memory data (TensorDataset, a list): worker processes would only add start-up cost.
    Node dataset = positional_argument(c.call, 0);
    if (const Node dk = keyword_argument(c.call, "dataset", src)) dataset = dk.field("value");
    if (dataset && (m.kinds(dataset, c.context.function) & kInMemoryDataset)) continue;
    Fix fix;
    fix.applicability = Applicability::unsafe;
    fix.message = "load batches in worker processes";
    const std::string workers = "min(8, os.cpu_count() or 1)";
    const bool persistent = static_cast<bool>(keyword_argument(c.call, "persistent_workers", src));
    bool fixable = true;
    if (kw) {
      fix.edits.push_back(Edit{value.start(), value.end(), workers});
      if (!persistent) {
        const auto e = add_keyword_edit(c.call, "persistent_workers=True", src);
        if (e) fix.edits.push_back(*e);
        fixable = e.has_value();
      }
    } else {
      // Both keywords in one insertion (two at the same place would be two overlapping edits).
      const auto e =
          add_keyword_edit(c.call, "num_workers=" + workers + (persistent ? "" : ", persistent_workers=True"), src);
      if (e) fix.edits.push_back(*e);
      fixable = e.has_value();
    }
    if (auto imp = import_os_edit(m)) fix.edits.push_back(*imp);
    r.report("CDL006", c.call,
             std::string("DataLoader without worker processes (") + (kw ? "num_workers=0" : "num_workers not set") +
                 "): every batch is loaded and collated in the training process, between steps; use num_workers>0 "
                 "with persistent_workers=True, unless the data is already in memory (then set small-data = true); "
                 "`codedag lint --with-run RUN` says whether a recorded run was loader-bound",
             fixable ? std::optional<Fix>(fix) : std::nullopt);
  }
}

void check_pin_memory(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL007")) return;
  const SourceText& src = m.src();
  std::unordered_set<uint64_t> reported;
  for (const CallSite& c : m.calls()) {
    if (c.method != "to" && c.method != "cuda") continue;
    const Node nb = keyword_argument(c.call, "non_blocking", src);
    if (!nb || !nb.field("value") || !nb.field("value").is("true")) continue;
    // The data loop this copy runs in, and the DataLoader it iterates.
    const LoopInfo* loop = c.context.loop;
    while (loop && !loop->data_loop) loop = loop->parent;
    if (!loop) continue;
    const Node loader = m.loader_call(loop->loader, loop->function);
    if (!loader || has_splat_arguments(loader) || reported.count(loader.id())) continue;
    const Node pin = keyword_argument(loader, "pin_memory", src);
    const Node pv = pin ? pin.field("value") : Node();
    if (pin && !(pv && pv.is("false"))) continue;
    reported.insert(loader.id());
    Fix f;
    f.applicability = Applicability::safe;
    f.message = "pin_memory=True";
    if (pin)
      f.edits.push_back(Edit{pv.start(), pv.end(), "True"});
    else if (const auto e = add_keyword_edit(loader, "pin_memory=True", src))
      f.edits.push_back(*e);
    r.report("CDL007", loader,
             "batches from this DataLoader are copied with `non_blocking=True` (line " +
                 std::to_string(src.line_of(c.call.start())) +
                 ") but it does not pin memory: a copy from pageable memory cannot overlap with compute; set "
                 "pin_memory=True",
             f.edits.empty() ? std::nullopt : std::optional<Fix>(f));
  }
}

void check_seeding(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL012")) return;
  const SourceText& src = m.src();
  // (1) Contradictory determinism: cudnn.benchmark = True beside deterministic settings.
  Node benchmark_on;
  bool deterministic = false;
  for (const Assignment& a : m.assignments()) {
    const Node left = a.node.field("left"), right = a.node.field("right");
    if (!left || !right || !a.node.is("assignment")) continue;
    const std::string q = m.qualified(left);
    if (q == "torch.backends.cudnn.benchmark" && right.is("true")) benchmark_on = a.node;
    if (q == "torch.backends.cudnn.deterministic" && right.is("true")) deterministic = true;
  }
  for (const CallSite& c : m.calls())
    if (c.qualified == "torch.use_deterministic_algorithms") {
      const Node a = positional_argument(c.call, 0);
      if (a && a.is("true")) deterministic = true;
    }
  if (benchmark_on && deterministic)
    r.report("CDL012", benchmark_on,
             "cudnn.benchmark = True picks convolution algorithms by timing them, which defeats the "
             "deterministic settings of this file; set it to False when results must be reproducible");

  // (2) A training script that never seeds.
  static const char* const seeders[] = {"manual_seed",     "seed_everything", "set_seed", "seed",
                                        "manual_seed_all", "set_random_seed", "fix_seed", "seed_all",
                                        "fix_seeds",       "set_seeds"};
  for (const char* s : seeders)
    if (m.calls_method(s)) return;
  bool script = false;
  for (uint32_t i = 0; i < m.tree().root().named_child_count(); ++i) {
    const Node s = m.tree().root().named_child(i);
    if (s.is("if_statement") && s.field("condition") &&
        s.field("condition").text(src).find("__name__") != std::string_view::npos)
      script = true;
  }
  Node training;
  for (const auto& l : m.loops())
    if (l->calls_backward && l->calls_step && (script || !l->function)) {
      training = l->node;
      break;
    }
  if (!training)
    for (const CallSite& c : m.calls())
      if (c.method == "fit" && c.receiver && (script || !c.context.function) &&
          snippet(c.receiver, src).find("trainer") != std::string::npos) {
        training = c.call;
        break;
      }
  if (!training) return;
  const Node head = training.is("for_statement") || training.is("while_statement") ? training.child(0) : training;
  r.report("CDL012", head,
           "this script trains without seeding any random generator (no torch.manual_seed / seed_everything): "
           "weights, shuffling and augmentation differ on every run, so two runs cannot be compared; seed once at "
           "start (e.g. `lightning.seed_everything(0, workers=True)`)");
}

}  // namespace codedag::lint
