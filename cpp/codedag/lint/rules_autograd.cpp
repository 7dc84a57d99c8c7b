// Rules about gradients and modes: CDL002 (loss kept with its graph), CDL003 (missing zero_grad),
// CDL004 (evaluation without no_grad), CDL005 (eval() without train()), CDL009
// (zero_grad(set_to_none=False)), CDL013 (model.forward(x)).
#include <unordered_map>
#include <unordered_set>

#include "codedag/lint/rules.hpp"

namespace codedag::lint {
namespace {

bool in_function_loop_chain(const LoopInfo* inner, const LoopInfo* target) {
  for (const LoopInfo* l = inner; l; l = l->parent)
    if (l == target) return true;
  return false;
}

std::string accumulator_name(Node target, const SourceText& src) {
  target = unparenthesize(target);
  if (target && target.is("subscript")) target = target.field("value");  // losses[k] += loss
  return target ? dotted_name(target, src) : std::string();
}

// `.detach()` after the value (parenthesised when it is not a primary expression).
Fix detach_fix(Node value, const SourceText& src) {
  Fix f;
  f.applicability = Applicability::safe;
  f.message = "keep the value without its graph (.detach())";
  const Node v = unparenthesize(value);
  const bool primary = v.is("identifier") || v.is("attribute") || v.is("call") || v.is("subscript") ||
                       value.is("parenthesized_expression");
  if (primary) {
    f.edits.push_back(Edit{value.end(), value.end(), ".detach()"});
  } else {
    f.edits.push_back(Edit{value.start(), value.start(), "("});
    f.edits.push_back(Edit{value.end(), value.end(), ").detach()"});
  }
  (void)src;
  return f;
}

}  // namespace

void check_loss_accumulation(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL002")) return;
  const SourceText& src = m.src();
  auto consider = [&](Node value, const std::string& acc, const Context& ctx, Node at, const char* how) {
    if (acc.empty() || ctx.grad_disabled) return;
    // Across steps: into self.* (outlives the call), or in a loop whose iterations are training
    // steps. Collecting outputs over time steps or heads inside one forward is what graphs are for.
    const bool persistent = acc.rfind("self.", 0) == 0;
    if (!persistent && !(ctx.loop && ctx.hot)) return;
    if (ctx.function && ctx.function->lightning_step && !ctx.function->training_step) return;  // no_grad there
    if (!(m.kinds(value, ctx.function) & kGradHistory)) return;
    // Summing losses to call .backward() on the sum, or returning it, is what a graph is for.
    // (A training function that returns its running loss is still keeping graphs: only a function
    // that never calls backward itself hands its sum to a caller that will.)
    if (m.is_backward_receiver(acc, ctx.function) ||
        (m.is_returned(acc, ctx.function) && !m.calls_backward(ctx.function)))
      return;
    r.report("CDL002", at,
             std::string(how) + " `" + snippet(value, src) + "` into `" + acc +
                 "` keeps every step's autograd graph alive (memory grows until OOM); accumulate "
                 "`.detach()` or `.item()` (per the PyTorch FAQ)",
             detach_fix(value, src));
  };
  for (const Assignment& a : m.assignments()) {
    const Node n = a.node;
    const Node left = n.field("left"), right = n.field("right");
    if (!left || !right) continue;
    if (n.is("augmented_assignment")) {
      const Node op = n.field("operator");
      if (!op || op.text(src) != "+=") continue;
      consider(right, accumulator_name(left, src), a.context, n, "adding");
    } else {
      const Node rhs = unparenthesize(right);
      if (!rhs.is("binary_operator")) continue;
      const Node op = rhs.field("operator"), l = rhs.field("left"), rr = rhs.field("right");
      if (!op || op.text(src) != "+" || !l || !rr || l.text(src) != left.text(src)) continue;
      consider(rr, accumulator_name(left, src), a.context, n, "adding");
    }
  }
  for (const CallSite& c : m.calls()) {
    if (!c.receiver || (c.method != "append" && c.method != "extend" && c.method != "insert")) continue;
    const Node arg = positional_argument(c.call, c.method == "insert" ? 1 : 0);
    if (!arg) continue;
    consider(arg, dotted_name(c.receiver, src), c.context, c.call, "appending");
  }
}

void check_missing_zero_grad(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL003")) return;
  for (const auto& l : m.loops()) {
    if (!l->calls_backward || !l->calls_step || l->calls_zero_grad) continue;
    // Report the innermost loop only: an inner loop that trains is where zero_grad belongs.
    bool inner_trains = false;
    for (const auto& other : m.loops())
      if (other.get() != l.get() && other->calls_backward && other->calls_step && other->parent &&
          in_function_loop_chain(other->parent, l.get()))
        inner_trains = true;
    if (inner_trains) continue;
    // The optimizer step inside this loop is where the finding points.
    Node at = l->node;
    for (const CallSite& c : m.calls())
      if (c.method == "step" && c.context.loop && in_function_loop_chain(c.context.loop, l.get())) {
        at = c.call;
        break;
      }
    r.report("CDL003", at,
             "this loop calls .backward() and `" + snippet(at, m.src()) +
                 "` but never zero_grad(): gradients add up across steps; call `optimizer.zero_grad()` after each "
                 "step (under the same `if` when accumulating gradients)");
  }
}

void check_eval_without_no_grad(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL004")) return;
  const SourceText& src = m.src();
  // One pass over the file: per function, whether it loops over data, and where it switches modes.
  struct Modes {
    bool loops_over_data = false;
    std::vector<std::pair<uint32_t, bool>> switches;  // (offset, true for eval / false for train)
  };
  std::unordered_map<const FunctionInfo*, Modes> modes;
  for (const auto& l : m.loops())
    if (l->data_loop) modes[l->function].loops_over_data = true;
  for (const CallSite& o : m.calls())
    if (o.receiver && (o.method == "eval" || o.method == "train"))
      modes[o.context.function].switches.emplace_back(o.call.start(), o.method == "eval");
  std::unordered_set<const FunctionInfo*> reported;
  for (const CallSite& c : m.calls()) {
    const FunctionInfo* f = c.context.function;
    if (!f || f->lightning_step || c.context.grad_disabled || reported.count(f) || m.calls_backward(f)) continue;
    // A call of the model itself: model(x), self.model(x), self(x) (model.eval() is a method call:
    // the attribute `model.eval` holds no model).
    if (!c.function || !(m.kinds(c.function, f) & kModel)) continue;
    // Evaluation: a val*/eval*/test*/predict* function that loops over data, or any function after
    // model.eval() (the last switch before the call). Functions that call .backward() train.
    const Modes& fm = modes[f];
    bool eval_mode_before = false;
    for (const auto& [at, is_eval] : fm.switches)
      if (at < c.call.start()) eval_mode_before = is_eval;
    const bool evaluates = (f->eval_named && fm.loops_over_data) || eval_mode_before;
    if (!evaluates) continue;
    reported.insert(f);
    std::optional<Fix> fix;
    const std::string torch = torch_alias(m);
    if (!torch.empty()) {
      const Node head = f->decorated ? f->decorated : f->def;
      const uint32_t line_start = src.line_start(src.line_of(head.start()));
      const std::string indent(src.indentation_at(head.start()));
      if (line_start + indent.size() == head.start()) {
        Fix fx;
        fx.applicability = Applicability::unsafe;
        fx.message = "decorate the function with @" + torch + ".inference_mode()";
        fx.edits.push_back(Edit{line_start, line_start, indent + "@" + torch + ".inference_mode()\n"});
        fix = fx;
      }
    }
    r.report("CDL004", c.call,
             "`" + snippet(c.call, src) + "` runs the model in `" + f->name +
                 "` (evaluation) with gradients on: every activation is kept for a backward that never comes; "
                 "wrap it in `with torch.inference_mode():` (or decorate the function)",
             fix);
  }
}

void check_eval_without_train(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL005")) return;
  const SourceText& src = m.src();
  // Same-file functions that switch their argument to eval mode and do not switch it back.
  std::unordered_map<const FunctionInfo*, std::pair<bool, bool>> switches;  // (evals, trains)
  for (const CallSite& c : m.calls()) {
    if (!c.context.function || !c.receiver) continue;
    if (c.method == "eval" && positional_argument(c.call, 0).null()) switches[c.context.function].first = true;
    if (c.method == "train") switches[c.context.function].second = true;
  }
  std::unordered_set<std::string> eval_helpers;
  for (const auto& [f, s] : switches)
    if (s.first && !s.second) eval_helpers.insert(f->name);
  for (const CallSite& c : m.calls()) {
    const bool direct_eval = c.receiver && c.method == "eval" && positional_argument(c.call, 0).null() &&
                             (m.kinds(c.receiver, c.context.function) & kModel);
    const bool helper = !direct_eval && eval_helpers.count(c.method) &&
                        c.method != (c.context.function ? c.context.function->name : "");
    if (!direct_eval && !helper) continue;
    // The innermost loop around the call that trains (calls .backward() somewhere in its body).
    const LoopInfo* training = nullptr;
    for (const LoopInfo* l = c.context.loop; l && l->function == c.context.function; l = l->parent)
      if (l->calls_backward) {
        training = l;
        break;
      }
    if (!training) continue;
    bool train_back = false;
    for (const CallSite& o : m.calls())
      if (o.method == "train" && o.receiver && o.context.loop && in_function_loop_chain(o.context.loop, training))
        train_back = true;
    if (train_back) continue;
    r.report("CDL005", c.call,
             "`" + snippet(c.call, src) +
                 "` switches the model to eval mode inside the training loop and nothing switches it back: "
                 "the next steps train with Dropout off and BatchNorm frozen; call `model.train()` at the start of "
                 "each epoch");
  }
}

void check_zero_grad_set_to_none(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL009")) return;
  for (const CallSite& c : m.calls()) {
    if (c.method != "zero_grad") continue;
    const Node kw = keyword_argument(c.call, "set_to_none", m.src());
    if (!kw) continue;
    const Node v = kw.field("value");
    if (!v || !v.is("false")) continue;
    const Fix f{Applicability::safe, "set_to_none=True", {Edit{v.start(), v.end(), "True"}}};
    r.report("CDL009", c.call,
             "`zero_grad(set_to_none=False)` writes zeros into every gradient each step; set_to_none=True frees "
             "them instead (less memory traffic, the default since torch 2.0)",
             f);
  }
}

void check_direct_forward(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL013")) return;
  const SourceText& src = m.src();
  for (const CallSite& c : m.calls()) {
    if (c.method != "forward" || !c.receiver) continue;
    const Node recv = unparenthesize(c.receiver);
    if (recv.is("call") && m.qualified(recv.field("function")) == "super") continue;  // super().forward(x)
    const uint32_t k = m.kinds(recv, c.context.function);
    const bool self_in_forward =
        recv.text(src) == "self" && c.context.function && c.context.function->name == "forward";
    if (!(k & kModel) || self_in_forward) continue;
    const Fix f{Applicability::safe,
                "call the module instead of its forward()",
                {Edit{c.receiver.end(), c.function.end(), ""}}};
    r.report("CDL013", c.call,
             "`" + snippet(c.call, src) +
                 "` calls forward() directly and skips the module's hooks (AMP autocast state, DDP gradient sync, "
                 "forward hooks); call `" +
                 snippet(c.receiver, src) + "(...)`",
             f);
  }
}

}  // namespace codedag::lint
