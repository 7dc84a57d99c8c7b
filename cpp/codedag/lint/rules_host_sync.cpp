// CDL001: a host sync every training step. `.item()`, `.cpu()`, `.numpy()`, `.tolist()`,
// `float(t)`, `print(t)` and `if t:` make the CPU wait until the device has finished everything
// queued so far, once per step — unless the step is thinned by `if step % N == 0:`.
//
// Not flagged: the PyTorch FAQ's way of tracking a metric, `total += loss.item()` /
// `losses.append(loss.item())` / `meter.update(loss.item())` (seed 003 recommends it too), unless
// flag-accumulated-syncs is set; Lightning's `self.log(...)`, which takes tensors.
#include <unordered_set>

#include "codedag/lint/config.hpp"
#include "codedag/lint/rules.hpp"

namespace codedag::lint {
namespace {

// Does the sync at `node` only feed an accumulator (x += ..., xs.append(...), meter.update(...))?
bool feeds_accumulator(Node node, const SourceText& src) {
  Node child = node;
  for (Node p = node.parent(); p; child = p, p = p.parent()) {
    if (p.is("augmented_assignment")) {
      const Node right = p.field("right");
      return right && right.contains(child);
    }
    if (p.is("assignment")) {
      // total = total + loss.item()
      const Node left = p.field("left"), right = unparenthesize(p.field("right"));
      if (!left || !right || !right.is("binary_operator")) return false;
      const Node l = right.field("left");
      return l && l.text(src) == left.text(src);
    }
    if (p.is("call")) {
      const Node fn = p.field("function");
      const Node args = p.field("arguments");
      if (fn && fn.is("attribute") && args && args.contains(child)) {
        const Node attr = fn.field("attribute");
        const std::string_view m = attr ? attr.text(src) : std::string_view();
        if (m == "append" || m == "extend" || m == "update" || m == "add_") return true;
      }
    }
    if (p.is("expression_statement") || p.is("block") || p.is("module")) return false;
  }
  return false;
}

std::string where(const Context& ctx, const SourceText& src) {
  if (ctx.hot_loop && ctx.hot_loop->loader) return "in the loop over `" + snippet(ctx.hot_loop->loader, src) + "`";
  if (ctx.hot_loop) return "in a loop that calls .backward()";
  if (ctx.function) return "in `" + ctx.function->name + "`, which runs once per step";
  return "in the training loop";
}

// `if i % 100 == 0:` around the statement holding the sync: only when that statement is a call
// on lines of its own and the loop counts its steps (for i, batch in enumerate(loader)).
std::optional<Fix> guard_fix(Node at, const Context& ctx, const SourceText& src) {
  if (!ctx.hot_loop || ctx.hot_loop->index_name.empty()) return std::nullopt;
  const Node stmt = enclosing_statement(at);
  if (!stmt.is("expression_statement")) return std::nullopt;
  const uint32_t line_start = src.line_start(src.line_of(stmt.start()));
  const std::string indent(src.indentation_at(stmt.start()));
  if (line_start + indent.size() != stmt.start()) return std::nullopt;  // `a; b` on one line
  std::string body(src.slice(stmt.start(), stmt.end()));
  std::string reindented = indent + "    ";
  for (const char c : body) {
    reindented += c;
    if (c == '\n') reindented += "    ";
  }
  Fix fix;
  fix.applicability = Applicability::unsafe;
  fix.message = "run it every 100 steps";
  fix.edits.push_back(
      Edit{line_start, stmt.end(), indent + "if " + ctx.hot_loop->index_name + " % 100 == 0:\n" + reindented});
  return fix;
}

}  // namespace

void check_host_sync(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL001")) return;
  const SourceText& src = m.src();
  std::unordered_set<uint64_t> reported_statements;
  auto report = [&](Node node, const Context& ctx, const std::string& what) {
    const Node stmt = enclosing_statement(node);
    if (!reported_statements.insert(stmt.id()).second) return;
    r.report("CDL001", node,
             what + " makes the CPU wait for the device every step (" + where(ctx, src) +
                 "); do it every N steps (`if step % N == 0:`) or keep tensors (`.detach()`) and convert once",
             guard_fix(node, ctx, src));
  };
  for (const CallSite& c : m.calls()) {
    const Context& ctx = c.context;
    if (!ctx.hot || ctx.periodic_guard) continue;
    const Node call = c.call;
    std::string what;
    if (c.receiver && (c.method == "item" || c.method == "tolist" || c.method == "numpy" || c.method == "cpu")) {
      const uint32_t rk = m.kinds(c.receiver, ctx.function);
      const bool tensor = rk & kTensor;
      if (c.method == "item" ? (rk & kPythonScalar) && !tensor : !tensor) continue;
      what = "`" + snippet(call, src) + "`";
    } else if (!c.receiver && (c.qualified == "float" || c.qualified == "int" || c.qualified == "bool")) {
      const Node a = positional_argument(call, 0);
      if (!a || !(m.kinds(a, ctx.function) & kTensor)) continue;
      what = "`" + snippet(call, src) + "`";
    } else if (!c.receiver && c.qualified == "print") {
      // print(loss) / print(f"{loss}") formats a tensor: a copy to the host.
      const Node args = call.field("arguments");
      Node tensor_arg;
      std::vector<Node> stack;
      for (uint32_t i = 0; args && i < args.named_child_count(); ++i) stack.push_back(args.named_child(i));
      for (int guard = 0; !stack.empty() && guard < 256 && !tensor_arg; ++guard) {
        const Node a = stack.back();
        stack.pop_back();
        if (a.is("string")) {
          for (uint32_t i = 0; i < a.named_child_count(); ++i)
            if (a.named_child(i).is("interpolation") && a.named_child(i).named_child_count() > 0)
              stack.push_back(a.named_child(i).named_child(0));
          continue;
        }
        if (a.is("call")) continue;  // a call's result is judged at that call (.item() etc.)
        if (m.kinds(a, ctx.function) & kTensor) tensor_arg = a;
      }
      if (!tensor_arg) continue;
      what = "printing the tensor `" + snippet(tensor_arg, src) + "`";
    } else {
      continue;
    }
    if (!m.settings().flag_accumulated_syncs && feeds_accumulator(call, src)) continue;
    report(call, ctx, what);
  }
  // if loss > 10:  /  if torch.isnan(loss):  /  if loss:
  for (const IfGuard& g : m.conditions()) {
    const Context& ctx = g.context;
    if (!ctx.hot || ctx.periodic_guard) continue;
    Node cond = unparenthesize(g.condition);
    if (cond.is("not_operator")) cond = unparenthesize(cond.field("argument"));
    bool tensor = false;
    if (cond.is("comparison_operator")) {
      for (uint32_t i = 0; i < cond.named_child_count() && !tensor; ++i)
        tensor = m.kinds(cond.named_child(i), ctx.function) & kTensor;
    } else if (cond.is("identifier") || cond.is("attribute") || cond.is("call") || cond.is("subscript")) {
      tensor = m.kinds(cond, ctx.function) & kTensor;
    }
    if (tensor) report(g.condition, ctx, "the condition `" + snippet(g.condition, src) + "` on a tensor");
  }
}

}  // namespace codedag::lint
