#include "codedag/lint/rules.hpp"

#include "codedag/lint/config.hpp"

namespace codedag::lint {

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::info:
      return "info";
    case Severity::warning:
      return "warning";
    case Severity::error:
      return "error";
  }
  return "warning";
}

const std::vector<Rule>& rules() {
  static const std::vector<Rule> table = {
      {"CDL001", "host-sync-in-step-loop",
       "Host sync every step (.item(), .cpu(), .numpy(), .tolist(), float(t), print(t), if t:) in the training loop",
       "unsafe", check_host_sync},
      {"CDL002", "loss-accumulated-with-graph", "A loss (a tensor with its autograd graph) accumulated across steps",
       "safe", check_loss_accumulation},
      {"CDL003", "missing-zero-grad", "A loop calls .backward() and optimizer.step() but never zero_grad()", "none",
       check_missing_zero_grad},
      {"CDL004", "eval-without-no-grad", "Evaluation runs the model without torch.no_grad()/inference_mode()", "unsafe",
       check_eval_without_no_grad},
      {"CDL005", "eval-without-train", "model.eval() in the training loop without model.train() back", "none",
       check_eval_without_train},
      {"CDL006", "dataloader-without-workers", "DataLoader without worker processes (num_workers absent or 0)",
       "unsafe", check_loader_workers},
      {"CDL007", "non-blocking-without-pin-memory",
       "Batches copied with non_blocking=True from a DataLoader without pin_memory=True", "safe", check_pin_memory},
      {"CDL008", "tensor-created-in-loop",
       "Tensor built from Python values in a loop, or allocated on the CPU then copied to the device", "unsafe",
       check_tensor_in_loop},
      {"CDL009", "zero-grad-set-to-none-false", "zero_grad(set_to_none=False) writes zeros instead of freeing grads",
       "safe", check_zero_grad_set_to_none},
      {"CDL010", "torch-load-without-weights-only", "torch.load without weights_only (unpickles arbitrary code)",
       "unsafe", check_torch_load},
      {"CDL011", "checkpoint-without-use-reentrant", "torch.utils.checkpoint without use_reentrant", "unsafe",
       check_checkpoint_reentrant},
      {"CDL012", "missing-seeding", "Training without seeding, or contradictory determinism settings", "none",
       check_seeding},
      {"CDL013", "direct-forward-call", "model.forward(x) called directly (skips hooks: AMP, DDP, profiling)", "safe",
       check_direct_forward},
      {"CDL014", "empty-cache-in-loop", "torch.cuda.empty_cache() inside a loop", "unsafe", check_empty_cache},
      {"CDL015", "distributed-pitfall",
       "DistributedSampler without set_epoch(); saving or logging on every rank under DDP", "none", check_distributed},
  };
  return table;
}

const Rule* find_rule(const std::string& code) {
  for (const Rule& r : rules())
    if (code == r.code) return &r;
  return nullptr;
}

bool Reporter::wants(const char* code) const { return model_.settings().enabled(code, model_.src().path()); }

void Reporter::report(const char* code, Node node, std::string message, std::optional<Fix> fix, Severity severity) {
  if (!wants(code)) return;
  const SourceText& src = model_.src();
  Finding f;
  f.code = code;
  f.path = src.path();
  f.start_byte = node.start();
  f.end_byte = node.end();
  f.line = src.line_of(node.start());
  f.col = src.column_of(node.start());
  f.end_line = src.line_of(node.end());
  f.end_col = src.column_of(node.end());
  f.message = std::move(message);
  f.fix = std::move(fix);
  f.severity = severity;
  out_.push_back(std::move(f));
}

std::string snippet(Node node, const SourceText& src, size_t max) {
  std::string out;
  size_t chars = 0;
  bool space = false;
  for (const char c : node.text(src)) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    const bool lead = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (lead && chars >= max) return out + "…";
    if (space) {
      out += ' ';
      ++chars;
      space = false;
    }
    out += c;
    if (lead) ++chars;
  }
  return out;
}

std::optional<Edit> add_keyword_edit(Node call, const std::string& keyword, const SourceText& src) {
  const Node args = call.field("arguments");
  if (!args || !args.is("argument_list")) return std::nullopt;
  // Insert before the closing parenthesis, after the last argument (keeping a trailing comma style).
  const uint32_t close = args.end() - 1;
  uint32_t last_end = args.start() + 1;
  bool trailing_comma = false;
  for (uint32_t i = 0; i < args.child_count(); ++i) {
    const Node c = args.child(i);
    if (c.is(")")) break;
    if (c.is(",")) {
      trailing_comma = true;
    } else if (!c.is("(") && !c.is("comment")) {
      last_end = c.end();
      trailing_comma = false;
    }
  }
  const bool empty = args.named_child_count() == 0;
  if (empty) return Edit{close, close, keyword};
  if (trailing_comma) {
    // f(\n  a,\n  b,\n): keep the one-argument-per-line layout.
    const std::string_view between = src.slice(last_end, close);
    const size_t nl = between.find('\n');
    if (nl != std::string_view::npos) {
      const std::string indent(src.indentation_at(last_end));
      return Edit{last_end + 1, last_end + 1, "\n" + indent + keyword + ","};
    }
    return Edit{close, close, " " + keyword};
  }
  return Edit{last_end, last_end, ", " + keyword};
}

std::optional<Fix> keyword_fix(Node call, const std::string& keyword, Applicability applicability,
                               const SourceText& src) {
  const auto edit = add_keyword_edit(call, keyword, src);
  if (!edit) return std::nullopt;
  return Fix{applicability, keyword, {*edit}};
}

std::string torch_alias(const ModuleModel& model) { return model.imports().local_name_of("torch"); }

}  // namespace codedag::lint
