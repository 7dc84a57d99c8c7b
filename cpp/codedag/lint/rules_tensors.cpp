// Rules about tensor creation and torch APIs: CDL008 (tensors created per iteration), CDL010
// (torch.load without weights_only), CDL011 (checkpoint without use_reentrant), CDL014
// (empty_cache in a loop).
#include "codedag/lint/rules.hpp"

namespace codedag::lint {
namespace {

bool is_factory(std::string_view q) {
  static const char* const factories[] = {"torch.tensor", "torch.as_tensor",   "torch.zeros",     "torch.ones",
                                          "torch.empty",  "torch.full",        "torch.arange",    "torch.rand",
                                          "torch.randn",  "torch.randint",     "torch.eye",       "torch.linspace",
                                          "torch.Tensor", "torch.FloatTensor", "torch.LongTensor"};
  for (const char* f : factories)
    if (q == f) return true;
  return false;
}

// Does `expr` mention a name the loop binds each iteration (`i` of `for i in range(n)`)?
bool uses_loop_target(Node expr, const LoopInfo* loop, const SourceText& src, int depth = 0) {
  if (!expr || depth > 32) return false;
  if (expr.is("identifier")) {
    for (const LoopInfo* l = loop; l; l = l->parent)
      for (const auto& t : l->targets)
        if (expr.text(src) == t) return true;
    return false;
  }
  for (uint32_t i = 0; i < expr.named_child_count(); ++i)
    if (uses_loop_target(expr.named_child(i), loop, src, depth + 1)) return true;
  return false;
}

// Literal Python values: torch.tensor([i]), torch.tensor((a, b)), torch.tensor(0.5).
bool python_values(Node arg) {
  arg = unparenthesize(arg);
  return arg &&
         (arg.is("list") || arg.is("tuple") || arg.is("integer") || arg.is("float") || arg.is("list_comprehension"));
}

// `.to(device)`, `.to("cuda")`, `.to(device=...)`; not `.to(torch.float)` or `.to(dtype=...)`.
bool copies_to_device(Node to_call, const SourceText& src) {
  if (keyword_argument(to_call, "device", src)) return true;
  const Node first = positional_argument(to_call, 0);
  if (!first) return false;
  const std::string text = lower(first.text(src));
  if (first.is("string")) return text.find("cuda") != std::string::npos || text.find("mps") != std::string::npos;
  if (text.find("dtype") != std::string::npos || text.rfind("torch.", 0) == 0) return false;
  for (const char* w : {"device", "cuda", "gpu", "dev", "rank"})
    if (text.find(w) != std::string::npos) return true;
  return false;
}

}  // namespace

void check_tensor_in_loop(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL008")) return;
  const SourceText& src = m.src();
  for (const CallSite& c : m.calls()) {
    if (!c.context.loop || !is_factory(c.qualified)) continue;
    // torch.zeros(n).to(device) / .cuda(): allocated on the CPU, then copied.
    const Node parent = c.call.parent();
    const Node grand = parent ? parent.parent() : Node();
    // Only per step (a hot region): a loop building a model's layers in __init__ runs once.
    if (c.context.hot && parent && parent.is("attribute") && grand && grand.is("call") &&
        !keyword_argument(c.call, "device", src)) {
      const Node attr = parent.field("attribute");
      const std::string_view method = attr ? attr.text(src) : std::string_view();
      if (method == "cuda" || (method == "to" && copies_to_device(grand, src))) {
        std::optional<Fix> fix;
        const Node dev = positional_argument(grand, 0);
        const Node gargs = grand.field("arguments");
        const auto device_edit =
            dev ? add_keyword_edit(c.call, "device=" + std::string(dev.text(src)), src) : std::nullopt;
        if (method == "to" && device_edit && gargs && gargs.named_child_count() == 1 && !dev.is("keyword_argument")) {
          Fix f;
          f.applicability = Applicability::unsafe;  // .to(x) also accepts a dtype or a tensor
          f.message = "create it on the device";
          f.edits.push_back(*device_edit);
          f.edits.push_back(Edit{c.call.end(), grand.end(), ""});
          fix = f;
        }
        r.report("CDL008", grand,
                 "`" + snippet(grand, src) +
                     "` allocates on the CPU and copies to the device on every iteration; create it there with "
                     "`device=`",
                 fix);
        continue;
      }
    }
    // torch.tensor([i]) per iteration: a tensor built from Python values each time around.
    if (c.qualified != "torch.tensor" && c.qualified != "torch.as_tensor") continue;
    const Node data = positional_argument(c.call, 0);
    if (!data || !python_values(data)) continue;
    if (!c.context.hot && !uses_loop_target(data, c.context.loop, src)) continue;
    r.report("CDL008", c.call,
             "`" + snippet(c.call, src) +
                 "` builds a tensor from Python values on every iteration (an allocation and, on a GPU, a copy each "
                 "time); allocate once before the loop and fill it, or build the whole tensor at once");
  }
}

void check_torch_load(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL010")) return;
  const SourceText& src = m.src();
  for (const CallSite& c : m.calls()) {
    if (c.qualified != "torch.load" || keyword_argument(c.call, "weights_only", src) || has_keyword_splat(c.call))
      continue;
    // Unsafe: a checkpoint holding arbitrary objects then fails to load. None with a pickle_module.
    const std::optional<Fix> fix = keyword_argument(c.call, "pickle_module", src)
                                       ? std::nullopt
                                       : keyword_fix(c.call, "weights_only=True", Applicability::unsafe, src);
    r.report("CDL010", c.call,
             "`torch.load` without `weights_only`: loading a pickle runs arbitrary code from the file; pass "
             "weights_only=True for tensors and state dicts",
             fix);
  }
}

void check_checkpoint_reentrant(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL011")) return;
  const SourceText& src = m.src();
  for (const CallSite& c : m.calls()) {
    if (c.qualified != "torch.utils.checkpoint.checkpoint" &&
        c.qualified != "torch.utils.checkpoint.checkpoint_sequential")
      continue;
    if (keyword_argument(c.call, "use_reentrant", src) || has_keyword_splat(c.call)) continue;  // **kwargs may carry it
    // Unsafe: the reentrant variant behaves differently with inputs that need no grad.
    const std::optional<Fix> f = keyword_fix(c.call, "use_reentrant=False", Applicability::unsafe, src);
    r.report("CDL011", c.call,
             "`" + std::string(last_component(c.qualified)) +
                 "` without `use_reentrant`: torch warns and will change the default; use_reentrant=False is the "
                 "recommended variant (works with keyword arguments and inputs that need no grad)",
             f);
  }
}

void check_empty_cache(const ModuleModel& m, Reporter& r) {
  if (!r.wants("CDL014")) return;
  const SourceText& src = m.src();
  for (const CallSite& c : m.calls()) {
    if (c.qualified != "torch.cuda.empty_cache" || !c.context.loop) continue;
    std::optional<Fix> fix;
    const Node stmt = enclosing_statement(c.call);
    const uint32_t line = src.line_of(stmt.start());
    const uint32_t start = src.line_start(line);
    const std::string indent(src.indentation_at(stmt.start()));
    const uint32_t next_line = src.line_start(src.line_of(stmt.end()) + 1);
    const bool own_lines = stmt.is("expression_statement") && start + indent.size() == stmt.start() &&
                           src.slice(stmt.end(), next_line).find_first_not_of(" \t\r\n") == std::string_view::npos;
    if (own_lines) {
      Fix f;
      f.applicability = Applicability::unsafe;
      f.message = "remove the call";
      const Node block = stmt.parent();
      if (block && block.named_child_count() == 1)
        f.edits.push_back(Edit{stmt.start(), stmt.end(), "pass"});
      else
        f.edits.push_back(Edit{start, next_line, ""});
      fix = f;
    }
    r.report("CDL014", c.call,
             "`torch.cuda.empty_cache()` in a loop returns cached blocks to the driver only for the allocator to "
             "request them again next iteration (a slowdown; it frees no memory your tensors hold); remove it",
             fix);
  }
}

}  // namespace codedag::lint
