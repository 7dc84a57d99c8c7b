// The walk that builds a ModuleModel: imports and classes first (names may be used before the
// line that imports them), then one context-carrying pass over the tree.
#include "codedag/lint/module_model.hpp"

#include <algorithm>
#include <cctype>

#include "codedag/lint/config.hpp"

namespace codedag::lint {
namespace {

// Deeper nesting than this is not walked (reported as skipped): recursion stays bounded whatever
// a generated file looks like.
constexpr int kMaxDepth = 400;

bool is_lightning_step_name(std::string_view n) {
  return n == "training_step" || n == "validation_step" || n == "test_step" || n == "predict_step";
}

// train_step, train_batch, training_step, eval_step ...: a function that runs once per batch.
bool is_step_function_name(std::string_view name) {
  const std::string n = lower(name);
  if (n == "train_batch" || n == "train_on_batch" || n == "train_one_batch" || n == "train_one_step") return true;
  if (!ends_with(n, "_step")) return false;
  for (const char* p : {"train", "training", "val", "valid", "validation", "test", "predict", "eval", "evaluate"})
    if (n == std::string(p) + "_step") return true;
  return false;
}

bool is_eval_name(std::string_view name) {
  const std::string n = lower(name);
  for (const char* p : {"val", "eval", "test", "predict", "infer"})
    if (starts_with(n, p)) return true;
  return false;
}

bool is_grad_disabling(const std::string& q) {
  return q == "torch.no_grad" || q == "torch.inference_mode" || q == "torch.autograd.no_grad" ||
         q == "torch.autograd.grad_mode.no_grad" || q == "torch.autograd.grad_mode.inference_mode";
}

// `if rank == 0`, `if dist.get_rank() == 0`, `if self.is_main_process()`, `if trainer.is_global_zero`.
bool mentions_rank(std::string_view text) {
  const std::string t = lower(text);
  for (const char* w :
       {"rank", "is_main", "main_process", "is_master", "master_process", "global_zero", "local_zero", "is_primary"})
    if (t.find(w) != std::string::npos) return true;
  return false;
}

}  // namespace

Node unparenthesize(Node expr) {
  while (expr && expr.is("parenthesized_expression") && expr.named_child_count() == 1) expr = expr.named_child(0);
  return expr;
}

Node enclosing_statement(Node node) {
  Node n = node;
  for (int guard = 0; guard < kMaxDepth && n; ++guard) {
    const Node p = n.parent();
    if (!p || p.is("block") || p.is("module")) return n;
    n = p;
  }
  return node;
}

Node keyword_argument(Node call, std::string_view name, const SourceText& src) {
  const Node args = call.field("arguments");
  if (!args || !args.is("argument_list")) return Node();
  for (uint32_t i = 0; i < args.named_child_count(); ++i) {
    const Node a = args.named_child(i);
    if (!a.is("keyword_argument")) continue;
    const Node n = a.field("name");
    if (n && n.text(src) == name) return a;
  }
  return Node();
}

Node positional_argument(Node call, uint32_t n) {
  const Node args = call.field("arguments");
  if (!args || !args.is("argument_list")) return Node();
  uint32_t seen = 0;
  for (uint32_t i = 0; i < args.named_child_count(); ++i) {
    const Node a = args.named_child(i);
    if (a.is("keyword_argument") || a.is("comment")) continue;
    if (a.is("list_splat") || a.is("dictionary_splat")) return Node();  // positions unknown after *args
    if (seen++ == n) return a;
  }
  return Node();
}

bool has_splat_arguments(Node call) {
  const Node args = call.field("arguments");
  if (!args) return false;
  for (uint32_t i = 0; i < args.named_child_count(); ++i) {
    const Node a = args.named_child(i);
    if (a.is("list_splat") || a.is("dictionary_splat")) return true;
  }
  return false;
}

bool has_keyword_splat(Node call) {
  const Node args = call.field("arguments");
  for (uint32_t i = 0; args && i < args.named_child_count(); ++i)
    if (args.named_child(i).is("dictionary_splat")) return true;
  return false;
}

// Builds a ModuleModel in one walk. A friend of ModuleModel: it fills its tables.
class ModelBuilder {
 public:
  ModelBuilder(ModuleModel& m) : m_(m), src_(m.src()) {}

  void run() {
    collect_imports_and_classes(m_.tree().root(), 0);
    resolve_module_classes();
    visit_block(m_.tree().root(), Context{}, 0);
  }

 private:
  void skip(Node n, std::string why) { m_.skipped_.push_back({n.start(), n.end(), std::move(why)}); }

  void collect_imports_and_classes(Node n, int depth) {
    if (depth > kMaxDepth) return;
    if (n.is("import_statement") || n.is("import_from_statement")) {
      m_.imports_.add(n, src_);
      return;
    }
    if (n.is("class_definition")) {
      const Node name = n.field("name");
      std::vector<std::string> bases;
      if (const Node sup = n.field("superclasses"))
        for (uint32_t i = 0; i < sup.named_child_count(); ++i) bases.push_back(dotted_name(sup.named_child(i), src_));
      if (name) class_bases_.emplace_back(std::string(name.text(src_)), std::move(bases));
    }
    // Expressions hold no imports or classes: only statements are searched.
    for (uint32_t i = 0; i < n.named_child_count(); ++i) {
      const Node c = n.named_child(i);
      if (c.is("expression_statement") || c.is("comment") || c.is("ERROR")) continue;
      collect_imports_and_classes(c, depth + 1);
    }
  }

  void resolve_module_classes() {
    // A class is a module when a base is torch.nn.Module, a LightningModule, or a module class of
    // this file (in any order: iterate to a fixed point).
    bool changed = true;
    while (changed) {
      changed = false;
      for (const auto& [name, bases] : class_bases_) {
        if (m_.module_classes_.count(name)) continue;
        for (const auto& b : bases) {
          const std::string q = m_.imports_.resolve(b);
          const std::string_view last = last_component(q);
          // `nn.Module` also when the snippet never imports nn (seed 003's anti-pattern snippets).
          const bool torch_module = q == "torch.nn.Module" || q == "torch.nn.modules.module.Module" || b == "nn.Module";
          const bool lightning = last == "LightningModule" || last == "LightningDataModule";
          if (torch_module || lightning || m_.module_classes_.count(b)) {
            m_.module_classes_.insert(name);
            changed = true;
            break;
          }
        }
      }
    }
  }

  // Visits the statements of a block (or module), applying early-exit guards to what follows:
  // `if not is_main_process(): return` makes the rest of the block rank-guarded.
  void visit_block(Node block, Context ctx, int depth) {
    for (uint32_t i = 0; i < block.named_child_count(); ++i) {
      const Node s = block.named_child(i);
      visit(s, ctx, depth + 1);
      if (s.is("if_statement") && !s.field("alternative") && exits_early(s.field("consequence"))) {
        const Node cond = s.field("condition");
        if (cond && mentions_rank(cond.text(src_))) ctx.rank_guard = true;
        if (cond && is_periodic(cond)) ctx.periodic_guard = true;
      }
    }
  }

  static bool exits_early(Node consequence) {
    if (!consequence || consequence.named_child_count() != 1) return false;
    const Node only = consequence.named_child(0);
    return only.is("return_statement") || only.is("continue_statement") || only.is("break_statement");
  }

  // `step % N == 0`, `(i + 1) % k`, `batch_idx % log_every`: a condition true every N steps.
  bool is_periodic(Node cond) const {
    bool found = false;
    find_kind(cond, 0, [&](Node n) {
      if (n.is("binary_operator")) {
        const Node op = n.field("operator");
        if (op && op.text(src_) == "%") found = true;
      }
    });
    return found;
  }

  template <typename F>
  void find_kind(Node n, int depth, F&& f) const {
    if (depth > 64 || !n) return;
    f(n);
    for (uint32_t i = 0; i < n.named_child_count(); ++i) find_kind(n.named_child(i), depth + 1, f);
  }

  void visit(Node n, Context ctx, int depth) {
    if (!n) return;
    if (depth > kMaxDepth) {
      skip(n, "nesting deeper than " + std::to_string(kMaxDepth) + " levels is not checked");
      return;
    }
    // Syntax errors are reported by the linter (syntax_problems); their regions are not walked.
    if (n.is_error() || n.is_missing()) return;
    const std::string_view k = n.kind();
    if (k == "function_definition") return visit_function(n, ctx, depth);
    if (k == "class_definition") return visit_class(n, ctx, depth);
    if (k == "for_statement") return visit_for(n, ctx, depth);
    if (k == "while_statement") return visit_while(n, ctx, depth);
    if (k == "with_statement") return visit_with(n, ctx, depth);
    if (k == "if_statement" || k == "elif_clause") return visit_if(n, ctx, depth);
    if (k == "lambda") return;  // its body runs when called, not here
    if (k == "block" || k == "module") return visit_block(n, ctx, depth);
    if (k == "assignment" || k == "augmented_assignment") record_assignment(n, ctx);
    if (k == "call") record_call(n, ctx);
    if (k == "return_statement") record_return(n, ctx);
    for (uint32_t i = 0; i < n.named_child_count(); ++i) visit(n.named_child(i), ctx, depth + 1);
  }

  void visit_class(Node n, Context ctx, int depth) {
    const Node name = n.field("name");
    const std::string saved = class_name_;
    class_name_ = name ? std::string(name.text(src_)) : std::string();
    if (const Node body = n.field("body")) visit(body, Context{}, depth + 1);
    class_name_ = saved;
    (void)ctx;
  }

  void visit_function(Node n, Context ctx, int depth) {
    auto fi = std::make_unique<FunctionInfo>();
    fi->def = n;
    const Node parent = n.parent();
    if (parent && parent.is("decorated_definition")) fi->decorated = parent;
    if (const Node name = n.field("name")) fi->name = std::string(name.text(src_));
    fi->class_name = class_name_;
    fi->in_module_class = !class_name_.empty() && m_.module_classes_.count(class_name_);
    fi->parent = ctx.function;
    fi->lightning_step = is_lightning_step_name(fi->name) && (fi->in_module_class || !class_name_.empty());
    fi->training_step = fi->lightning_step && fi->name == "training_step";
    fi->eval_named = is_eval_name(fi->name) && !fi->lightning_step;
    fi->hot_body = fi->lightning_step || is_step_function_name(fi->name) ||
                   std::find(m_.settings_.hot_loop_functions.begin(), m_.settings_.hot_loop_functions.end(),
                             fi->name) != m_.settings_.hot_loop_functions.end();
    if (fi->decorated) {
      for (uint32_t i = 0; i < fi->decorated.named_child_count(); ++i) {
        const Node d = fi->decorated.named_child(i);
        if (!d.is("decorator") || d.named_child_count() == 0) continue;
        Node e = d.named_child(0);
        if (e.is("call")) e = e.field("function");
        if (is_grad_disabling(m_.qualified(e))) fi->grad_disabled = true;
      }
    }
    // Parameters are bindings with no value: the name heuristics classify them.
    if (const Node params = n.field("parameters")) {
      for (uint32_t i = 0; i < params.named_child_count(); ++i) {
        Node p = params.named_child(i);
        if (p.is("default_parameter") || p.is("typed_default_parameter"))
          p = p.field("name");
        else if (p.is("typed_parameter") && p.named_child_count() > 0)
          p = p.named_child(0);
        if (p && p.is("identifier"))
          m_.scopes_[fi.get()][std::string(p.text(src_))].push_back(Binding{Node(), p, p.end(), 0});
      }
    }
    const FunctionInfo* raw = fi.get();
    m_.functions_.push_back(std::move(fi));
    Context inner;
    inner.function = raw;
    inner.hot = raw->hot_body;
    inner.grad_disabled = raw->grad_disabled;
    if (const Node body = n.field("body")) visit(body, inner, depth + 1);
    (void)ctx;
  }

  // A loader expression under enumerate(...), tqdm(...), zip(...), iter(...), islice(...).
  Node unwrap_iterable(Node it, int depth = 0) const {
    it = unparenthesize(it);
    if (depth > 4 || !it || !it.is("call")) return it;
    const std::string q = m_.qualified(it.field("function"));
    const std::string_view last = last_component(q);
    if (last == "enumerate" || last == "tqdm" || last == "zip" || last == "iter" || last == "islice" ||
        last == "track" || last == "progress_bar" || last == "cycle") {
      const Node first = positional_argument(it, last == "islice" ? 0 : 0);
      if (first) return unwrap_iterable(first, depth + 1);
    }
    return it;
  }

  bool is_loader_expr(Node e, const FunctionInfo* fn) const {
    if (!e) return false;
    if (m_.kinds(e, fn) & kLoader) return true;
    // Lightning and common names: self.train_dataloader(), train_loader, val_dl.
    std::string text;
    if (e.is("call")) {
      text = lower(last_component(dotted_name(e.field("function"), src_)));
      return text.find("dataloader") != std::string::npos;
    }
    text = lower(last_component(dotted_name(e, src_)));
    return text.find("loader") != std::string::npos || ends_with(text, "_dl") || text == "dl";
  }

  // Is there a .backward( call directly in this loop's body (not inside a nested loop or function)?
  bool calls_backward_directly(Node loop) const {
    const Node body = loop.field("body");
    if (!body) return false;
    const std::string_view text = body.text(src_);
    size_t at = 0;
    while ((at = text.find("backward(", at)) != std::string_view::npos) {
      const uint32_t byte = body.start() + static_cast<uint32_t>(at);
      at += 9;
      Node n = loop.descendant_for(byte, byte);
      bool direct = true;
      for (int guard = 0; guard < kMaxDepth && n && !n.same(loop); ++guard) {
        if (n.is("for_statement") || n.is("while_statement") || n.is("function_definition") || n.is("lambda")) {
          direct = false;
          break;
        }
        n = n.parent();
      }
      if (direct) return true;
    }
    return false;
  }

  void bind_targets(Node target, Node value, Node statement, uint32_t at, uint32_t kinds, const Context& ctx,
                    bool element) {
    target = unparenthesize(target);
    if (!target) return;
    if (target.is("identifier")) {
      Binding b{value, statement, at, kinds};
      if (element) b.value = Node();  // an element of the value: only the given kinds apply
      m_.scopes_[ctx.function][std::string(target.text(src_))].push_back(b);
      return;
    }
    if (target.is("attribute")) {
      const std::string d = dotted_name(target, src_);
      if (starts_with(d, "self.") && ctx.function && !ctx.function->class_name.empty()) {
        Binding b{element ? Node() : value, statement, at, kinds};
        m_.class_attributes_[ctx.function->class_name + "::" + d].push_back(b);
      }
      return;
    }
    if (target.is("pattern_list") || target.is("tuple_pattern") || target.is("list_pattern") ||
        target.is("expression_list") || target.is("tuple") || target.is("list")) {
      for (uint32_t i = 0; i < target.named_child_count(); ++i)
        bind_targets(target.named_child(i), value, statement, at, kinds, ctx, true);
    }
  }

  void visit_for(Node n, Context ctx, int depth) {
    auto li = std::make_unique<LoopInfo>();
    li->node = n;
    li->iterable = n.field("right");
    li->function = ctx.function;
    li->parent = ctx.loop;
    const Node inner = unwrap_iterable(li->iterable);
    if (inner && inner.is("call") && last_component(m_.qualified(inner.field("function"))) == "zip") {
      for (uint32_t i = 0; i < 4; ++i)
        if (const Node a = positional_argument(inner, i); a && is_loader_expr(unwrap_iterable(a), ctx.function)) {
          li->loader = unwrap_iterable(a);
          break;
        }
    } else if (is_loader_expr(inner, ctx.function)) {
      li->loader = inner;
    }
    li->data_loop = static_cast<bool>(li->loader);
    li->hot = li->data_loop || calls_backward_directly(n);
    // `for i, batch in enumerate(loader)`: i counts steps (CDL001's fix guards with it).
    const Node left = unparenthesize(n.field("left"));
    const Node it = unparenthesize(li->iterable);
    if (it && it.is("call") && last_component(m_.qualified(it.field("function"))) == "enumerate" && left &&
        (left.is("pattern_list") || left.is("tuple_pattern")) && left.named_child_count() >= 1 &&
        left.named_child(0).is("identifier"))
      li->index_name = std::string(left.named_child(0).text(src_));
    const uint32_t batch_kinds = li->data_loop ? static_cast<uint32_t>(kTensor) : 0u;
    bind_targets(left, Node(), n, n.start(), batch_kinds, ctx, true);
    if (left && left.is("identifier")) li->targets.push_back(std::string(left.text(src_)));
    for (uint32_t i = 0; left && i < left.named_child_count(); ++i)
      if (left.named_child(i).is("identifier")) li->targets.push_back(std::string(left.named_child(i).text(src_)));
    // The index of enumerate() is a Python int, not a batch element.
    if (!li->index_name.empty()) m_.scopes_[ctx.function][li->index_name].back().kinds = kPythonScalar;

    visit(li->iterable, ctx, depth + 1);
    LoopInfo* raw = li.get();
    for (const LoopInfo* p = ctx.loop; p && p->function == ctx.function; p = p->parent)
      if (raw->data_loop) const_cast<LoopInfo*>(p)->contains_data_loop = true;
    m_.loops_.push_back(std::move(li));
    Context body_ctx = ctx;
    body_ctx.loop = raw;
    if (raw->hot) {
      body_ctx.hot = true;
      body_ctx.hot_loop = raw;
      body_ctx.periodic_guard = false;  // a guard outside the step loop does not thin its steps
    }
    if (const Node body = n.field("body")) visit(body, body_ctx, depth + 1);
    if (const Node alt = n.field("alternative")) visit(alt, ctx, depth + 1);
  }

  void visit_while(Node n, Context ctx, int depth) {
    auto li = std::make_unique<LoopInfo>();
    li->node = n;
    li->function = ctx.function;
    li->parent = ctx.loop;
    // while True: batch = next(it)   with it = iter(loader)
    if (const Node body = n.field("body")) {
      find_kind(body, 0, [&](Node c) {
        if (li->data_loop || !c.is("call") || m_.qualified(c.field("function")) != "next") return;
        const Node arg = positional_argument(c, 0);
        if (arg && (m_.kinds(arg, ctx.function) & (kLoaderIterator | kLoader))) {
          li->data_loop = true;
          li->loader = arg;
        }
      });
    }
    li->hot = li->data_loop || calls_backward_directly(n);
    LoopInfo* raw = li.get();
    for (const LoopInfo* p = ctx.loop; p && p->function == ctx.function; p = p->parent)
      if (raw->data_loop) const_cast<LoopInfo*>(p)->contains_data_loop = true;
    m_.loops_.push_back(std::move(li));
    if (const Node cond = n.field("condition")) visit(cond, ctx, depth + 1);
    Context body_ctx = ctx;
    body_ctx.loop = raw;
    if (raw->hot) {
      body_ctx.hot = true;
      body_ctx.hot_loop = raw;
      body_ctx.periodic_guard = false;
    }
    if (const Node body = n.field("body")) visit(body, body_ctx, depth + 1);
    if (const Node alt = n.field("alternative")) visit(alt, ctx, depth + 1);
  }

  void visit_with(Node n, Context ctx, int depth) {
    Context body_ctx = ctx;
    for (uint32_t i = 0; i < n.named_child_count(); ++i) {
      const Node clause = n.named_child(i);
      if (!clause.is("with_clause")) continue;
      for (uint32_t j = 0; j < clause.named_child_count(); ++j) {
        const Node item = clause.named_child(j);
        Node value = item.field("value");
        if (value && value.is("as_pattern") && value.named_child_count() > 0) value = value.named_child(0);
        if (!value) continue;
        visit(value, ctx, depth + 1);
        Node callee = value.is("call") ? value.field("function") : value;
        const std::string q = m_.qualified(callee);
        if (is_grad_disabling(q)) body_ctx.grad_disabled = true;
        if (q == "torch.enable_grad") body_ctx.grad_disabled = false;
        if (q == "torch.set_grad_enabled" && value.is("call")) {
          const Node a = positional_argument(value, 0);
          if (a && a.is("false")) body_ctx.grad_disabled = true;
        }
      }
    }
    if (const Node body = n.field("body")) visit(body, body_ctx, depth + 1);
  }

  void visit_if(Node n, Context ctx, int depth) {
    const Node cond = n.field("condition");
    if (cond) {
      m_.conditions_.push_back(IfGuard{cond, ctx});
      visit(cond, ctx, depth + 1);
    }
    Context guarded = ctx;
    if (cond && is_periodic(cond)) guarded.periodic_guard = true;
    if (cond && mentions_rank(cond.text(src_))) guarded.rank_guard = true;
    if (const Node c = n.field("consequence")) visit(c, guarded, depth + 1);
    for (uint32_t i = 0; i < n.named_child_count(); ++i) {
      const Node alt = n.named_child(i);
      if (alt.is("elif_clause")) {
        // elif runs only when the guarded condition was false: still thinned if that one was periodic.
        Context c2 = ctx;
        c2.periodic_guard = guarded.periodic_guard;
        visit(alt, c2, depth + 1);
      } else if (alt.is("else_clause")) {
        Context c2 = ctx;
        c2.periodic_guard = guarded.periodic_guard;  // `if i % N: ... else: log` logs every N steps
        if (const Node body = alt.field("body")) visit(body, c2, depth + 1);
      }
    }
  }

  void record_assignment(Node n, const Context& ctx) {
    m_.assignments_.push_back(Assignment{n, ctx});
    const Node left = n.field("left"), right = n.field("right");
    if (!left) return;
    // `self.x = value` / `x = value` / `a, b = value` / `total += loss`
    bind_targets(left, right, n, n.end(), 0, ctx, false);
    if (n.is("assignment")) {
      // `p.grad = None` clears a gradient as zero_grad does.
      const std::string d = dotted_name(left, src_);
      if (ends_with(d, ".grad") && right && right.is("none")) mark_loops(ctx, "zero_grad");
    }
  }

  void mark_loops(const Context& ctx, std::string_view method) {
    for (const LoopInfo* p = ctx.loop; p && p->function == ctx.function; p = p->parent) {
      auto* l = const_cast<LoopInfo*>(p);
      if (method == "backward") l->calls_backward = true;
      if (method == "step") l->calls_step = true;
      if (method == "zero_grad") l->calls_zero_grad = true;
    }
  }

  void record_call(Node n, const Context& ctx) {
    CallSite c;
    c.call = n;
    c.function = n.field("function");
    c.context = ctx;
    if (c.function && c.function.is("attribute")) {
      c.receiver = c.function.field("object");
      if (const Node a = c.function.field("attribute")) c.method = std::string(a.text(src_));
    } else if (c.function && c.function.is("identifier")) {
      c.method = std::string(c.function.text(src_));
    }
    c.qualified = m_.qualified(c.function);
    m_.methods_called_.insert(c.method);
    // .backward(): the receiver (or, for scaler.scale(loss).backward(), the scaled loss) has a graph.
    if (c.method == "backward" || c.method == "manual_backward") {
      Node loss = c.receiver;
      if (c.method == "manual_backward" || (loss && !loss.is("call") && positional_argument(n, 0) &&
                                            lower(dotted_name(loss, src_)).find("accelerator") != std::string::npos))
        loss = positional_argument(n, 0);
      if (loss && loss.is("call") && loss.field("function") &&
          last_component(dotted_name(loss.field("function"), src_)) == "scale")
        loss = positional_argument(loss, 0);
      // Every name in the receiver took part: torch.stack(losses).mean().backward() uses `losses`.
      auto& receivers = m_.backward_receivers_[ctx.function];
      receivers.insert("");  // this function calls backward
      if (loss) {
        const std::string name = dotted_name(unparenthesize(loss), src_);
        if (!name.empty()) receivers.insert(name);
        find_kind(loss, 0, [&](Node e) {
          if (e.is("identifier")) receivers.insert(std::string(e.text(src_)));
          if (e.is("attribute")) receivers.insert(dotted_name(e, src_));
        });
      }
      mark_loops(ctx, "backward");
    } else if (c.method == "zero_grad") {
      mark_loops(ctx, "zero_grad");
    } else if (c.method == "step" && c.receiver) {
      const std::string r = lower(c.receiver.text(src_));
      const bool scheduler = r.find("sched") != std::string::npos;
      if (!scheduler && ((m_.kinds(c.receiver, ctx.function) & kOptimizer) || r.find("optim") != std::string::npos ||
                         r.find("opt") != std::string::npos || r.find("scaler") != std::string::npos))
        mark_loops(ctx, "step");
    }
    m_.calls_.push_back(std::move(c));
  }

  void record_return(Node n, const Context& ctx) {
    find_kind(n, 0, [&](Node c) {
      if (c.is("identifier")) m_.returned_names_[ctx.function].insert(std::string(c.text(src_)));
      if (c.is("attribute")) m_.returned_names_[ctx.function].insert(dotted_name(c, src_));
    });
  }

  ModuleModel& m_;
  const SourceText& src_;
  std::string class_name_;
  std::vector<std::pair<std::string, std::vector<std::string>>> class_bases_;
};

ModuleModel::ModuleModel(const Tree& tree, const LintSettings& settings) : tree_(tree), settings_(settings) {
  ModelBuilder(*this).run();
}

}  // namespace codedag::lint
