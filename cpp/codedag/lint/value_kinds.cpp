// The def-use side of ModuleModel: what an expression holds, from its bindings, the calls that
// produced it and, for names nothing assigns (parameters), the names people give such values.
#include <algorithm>
#include <cctype>

#include "codedag/lint/module_model.hpp"

namespace codedag::lint {
namespace {

constexpr int kMaxKindsDepth = 6;

bool contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

// What people call such values: for parameters and attributes that nothing in the file assigns.
uint32_t kinds_from_name(std::string_view raw) {
  const std::string n = lower(raw);
  if (n == "model" || n == "net" || n == "network" || n == "backbone" || n == "encoder" || n == "decoder" ||
      ends_with(n, "_model") || ends_with(n, "_net") || n == "student" || n == "teacher")
    return kModel;
  if (n == "optimizer" || n == "optim" || n == "opt" || ends_with(n, "_optimizer") || ends_with(n, "_optim"))
    return kOptimizer;
  if (n == "criterion" || n == "loss_fn" || n == "loss_func" || n == "loss_function" || ends_with(n, "_criterion") ||
      ends_with(n, "_loss_fn"))
    return kCriterion;
  if (contains(n, "loader") || ends_with(n, "_dl")) return kLoader;
  if (n == "loss" || ends_with(n, "_loss") || n.rfind("loss_", 0) == 0) return kTensor | kGradHistory;
  if (n == "logits" || n == "outputs" || n == "output" || n == "preds" || n == "pred") return kTensor;
  return 0;
}

// Functional losses: F.cross_entropy(...) returns a loss with a graph.
bool is_functional_loss(std::string_view q) {
  if (!(q.rfind("torch.nn.functional.", 0) == 0)) return false;
  const std::string_view f = last_component(q);
  return contains(f, "loss") || f == "cross_entropy" || f == "binary_cross_entropy" ||
         f == "binary_cross_entropy_with_logits" || f == "kl_div" || f == "ctc_loss";
}

bool is_optimizer_name(std::string_view q) {
  const std::string_view last = last_component(q);
  if (q.rfind("torch.optim.lr_scheduler", 0) == 0) return false;
  if (q.rfind("torch.optim.", 0) == 0 && !last.empty() && std::isupper(static_cast<unsigned char>(last[0])))
    return true;
  return last == "AdamW" || last == "Adam" || last == "SGD" || last == "Lion" || last == "Adafactor" ||
         last == "LAMB" || last == "RMSprop" || last == "Adagrad";
}

// Tensor methods that keep the receiver's tensor-ness (and its graph).
bool keeps_tensor(std::string_view m) {
  static const char* const kept[] = {
      "to",          "cuda",      "cpu",         "float",    "half", "double",  "bfloat16", "long",
      "int",         "bool",      "sum",         "mean",     "view", "reshape", "squeeze",  "unsqueeze",
      "permute",     "transpose", "contiguous",  "clone",    "abs",  "pow",     "sqrt",     "exp",
      "log",         "softmax",   "log_softmax", "max",      "min",  "flatten", "expand",   "repeat",
      "masked_fill", "mul",       "add",         "sub",      "div",  "matmul",  "t",        "type",
      "norm",        "sigmoid",   "tanh",        "relu",     "std",  "var",     "gather",   "index_select",
      "narrow",      "chunk",     "split",       "squeeze_", "prod", "clamp"};
  for (const char* k : kept)
    if (m == k) return true;
  return false;
}

// Functions that return tensors: torch.<lowercase function> (not the few that return devices,
// dtypes, flags or numbers) and the operator namespaces. torch.cuda.*, torch.distributed.*,
// torch.backends.* return numbers, flags and handles; capitalised names are classes.
bool returns_tensor(std::string_view q) {
  for (const char* ns : {"torch.nn.functional.", "torch.fft.", "torch.linalg.", "torch.special."})
    if (q.rfind(ns, 0) == 0) return true;
  if (q.rfind("torch.", 0) != 0) return false;
  const std::string_view f = q.substr(6);
  if (f.empty() || f.find('.') != std::string_view::npos || std::isupper(static_cast<unsigned char>(f[0])))
    return false;
  static const char* const not_tensors[] = {"device",
                                            "dtype",
                                            "is_tensor",
                                            "is_floating_point",
                                            "is_complex",
                                            "is_grad_enabled",
                                            "get_default_dtype",
                                            "numel",
                                            "manual_seed",
                                            "seed",
                                            "initial_seed",
                                            "save",
                                            "load",
                                            "compile",
                                            "no_grad",
                                            "enable_grad",
                                            "inference_mode",
                                            "set_grad_enabled",
                                            "set_printoptions",
                                            "get_num_threads",
                                            "set_num_threads",
                                            "use_deterministic_algorithms",
                                            "are_deterministic_algorithms_enabled",
                                            "autocast",
                                            "typename",
                                            "broadcast_shapes",
                                            "equal",
                                            "allclose",
                                            "is_nonzero",
                                            "set_default_dtype",
                                            "set_default_device",
                                            "get_rng_state",
                                            "set_rng_state",
                                            "set_float32_matmul_precision",
                                            "cuda",
                                            "is_inference_mode_enabled"};
  for (const char* n : not_tensors)
    if (f == n) return false;
  return true;
}

bool moves_model(std::string_view m) {
  return m == "to" || m == "cuda" || m == "cpu" || m == "float" || m == "half" || m == "double" || m == "train" ||
         m == "eval" || m == "requires_grad_" || m == "bfloat16" || m == "to_empty";
}

}  // namespace

std::string ModuleModel::qualified(Node expr) const {
  const std::string d = dotted_name(expr, src());
  return d.empty() ? d : imports_.resolve(d);
}

uint32_t ModuleModel::kinds(Node expr, const FunctionInfo* function) const { return kinds_impl(expr, function, 0); }

const std::vector<Binding>* ModuleModel::bindings(const std::string& name, const FunctionInfo* function) const {
  if (name.rfind("self.", 0) == 0) {
    for (const FunctionInfo* f = function; f; f = f->parent) {
      if (f->class_name.empty()) continue;
      const auto it = class_attributes_.find(f->class_name + "::" + name);
      return it == class_attributes_.end() ? nullptr : &it->second;
    }
    return nullptr;
  }
  for (const FunctionInfo* f = function;; f = f->parent) {
    const auto scope = scopes_.find(f);
    if (scope != scopes_.end()) {
      const auto it = scope->second.find(name);
      if (it != scope->second.end()) return &it->second;
    }
    if (!f) break;
  }
  return nullptr;
}

bool ModuleModel::is_backward_receiver(const std::string& name, const FunctionInfo* function) const {
  const auto it = backward_receivers_.find(function);
  return it != backward_receivers_.end() && it->second.count(name);
}

bool ModuleModel::is_returned(const std::string& name, const FunctionInfo* function) const {
  const auto it = returned_names_.find(function);
  return it != returned_names_.end() && it->second.count(name);
}

uint32_t ModuleModel::name_kinds(const std::string& name, Node use, const FunctionInfo* function, int depth) const {
  uint32_t k = 0;
  if (name == "self" && function && function->in_module_class) return kModel;
  if (is_backward_receiver(name, function)) k |= kTensor | kGradHistory;
  const std::vector<Binding>* bs = bindings(name, function);
  if (!bs || bs->empty()) return k | kinds_from_name(last_component(name));
  // The reaching binding: the last one before the use (bindings are in file order). With none
  // before it (a use in a loop before the line that assigns, or a module-level name used in a
  // function), the last few. One binding per level keeps `x = f(x)` chains linear, not exponential.
  const Binding* reaching = nullptr;
  for (const Binding& b : *bs)
    if (b.at <= use.start()) reaching = &b;
  std::vector<const Binding*> considered;
  if (reaching) {
    considered.push_back(reaching);
  } else {
    for (size_t i = bs->size() > 3 ? bs->size() - 3 : 0; i < bs->size(); ++i) considered.push_back(&(*bs)[i]);
  }
  for (const Binding* b : considered) {
    k |= b->kinds;
    const bool parameter = !b->value && b->statement && b->statement.is("identifier");
    if (parameter) k |= kinds_from_name(last_component(name));
    if (!b->value || depth >= kMaxKindsDepth) continue;
    k |= kinds_impl(b->value, function, depth + 1);
    // `total += loss`: what total held before, and what was added.
    if (b->statement.is("augmented_assignment") && b->at > b->statement.start())
      k |= name_kinds(name, b->statement, function, depth + 1);
  }
  return k;
}

uint32_t ModuleModel::call_kinds(Node call, const FunctionInfo* function, int depth) const {
  const Node fn = call.field("function");
  if (!fn) return 0;
  const std::string q = qualified(fn);
  const std::string_view last = last_component(q);
  if (fn.is("attribute")) {
    const Node recv = fn.field("object");
    const Node attr = fn.field("attribute");
    const std::string_view m = attr ? attr.text(src()) : std::string_view();
    if (m == "item" || m == "tolist" || m == "size" || m == "dim" || m == "numel" || m == "nelement" ||
        m == "element_size" || m == "is_contiguous" || m == "get_device" || m == "data_ptr")
      return kPythonScalar;
    if (recv && !is_under(q, "torch")) {
      // A method on a value (not a module function): follow the receiver.
      const uint32_t rk = kinds_impl(recv, function, depth + 1);
      if (m == "detach" || m == "detach_") return rk & kTensor;
      if (m == "numpy") return 0;
      if ((rk & kModel) && moves_model(m)) return kModel;
      if ((rk & kTensor) && keeps_tensor(m)) return rk & (kTensor | kGradHistory);
      if (m == "argmax" || m == "argmin" || m == "eq" || m == "ne") return rk & kTensor;
      if ((rk & kModel) && m == "forward") return kTensor | kGradHistory;
    }
  }
  // A call of something that is itself a model or a criterion: self.model(x), criterion(out, y).
  const uint32_t fk = (fn.is("identifier") || fn.is("attribute")) ? kinds_impl(fn, function, depth + 1) : 0;
  if (fk & (kModel | kCriterion)) return kTensor | kGradHistory;
  if (last == "DataLoader") return kLoader;
  if (last == "TensorDataset") return kInMemoryDataset;
  if (last == "DistributedSampler") return kDistributedSampler;
  if (is_optimizer_name(q)) return kOptimizer;
  if (q.rfind("torch.nn.", 0) == 0 && !last.empty() && std::isupper(static_cast<unsigned char>(last[0])))
    return ends_with(last, "Loss") ? kCriterion : kModel;
  if (last == "DistributedDataParallel" || last == "DataParallel" || q == "torch.compile" ||
      q.rfind("torchvision.models.", 0) == 0 || q == "timm.create_model" || last == "from_pretrained" ||
      last == "FullyShardedDataParallel")
    return kModel;
  if (fn.is("identifier") && is_module_class(std::string(fn.text(src())))) return kModel;
  if (is_functional_loss(q)) return kTensor | kGradHistory;
  if (q == "iter") {
    const Node a = positional_argument(call, 0);
    if (a && (kinds_impl(a, function, depth + 1) & kLoader)) return kLoaderIterator;
    return 0;
  }
  if (q == "next") {
    const Node a = positional_argument(call, 0);
    if (a && (kinds_impl(a, function, depth + 1) & (kLoaderIterator | kLoader))) return kTensor;
    return 0;
  }
  if (q == "float" || q == "int" || q == "len" || q == "round" || q == "bool" || q == "sum") return kPythonScalar;
  if (returns_tensor(q)) {
    // torch functions return tensors; one of a tensor with a graph keeps it (torch.stack(losses)).
    uint32_t k = kTensor;
    const Node args = call.field("arguments");
    for (uint32_t i = 0; args && i < args.named_child_count() && i < 4; ++i)
      k |= kinds_impl(args.named_child(i), function, depth + 1) & kGradHistory;
    return k;
  }
  if (is_under(q, "torch") && last_component(q) != "" &&
      (q == "torch.equal" || q == "torch.allclose" || q == "torch.is_tensor" || q == "torch.numel"))
    return kPythonScalar;
  return 0;
}

uint32_t ModuleModel::kinds_impl(Node expr, const FunctionInfo* function, int depth) const {
  expr = unparenthesize(expr);
  if (!expr || depth > kMaxKindsDepth) return 0;
  const std::string_view k = expr.kind();
  if (k == "identifier") return name_kinds(std::string(expr.text(src())), expr, function, depth);
  if (k == "attribute") {
    const std::string d = dotted_name(expr, src());
    if (d.rfind("self.", 0) == 0 && d.find('.', 5) == std::string::npos) return name_kinds(d, expr, function, depth);
    // x.grad, out.logits: an attribute of a tensor-holding value holds tensors; its metadata does not.
    const Node attr = expr.field("attribute");
    const std::string_view a = attr ? attr.text(src()) : std::string_view();
    if (a == "shape" || a == "dtype" || a == "device" || a == "ndim" || a == "is_cuda" || a == "requires_grad" ||
        a == "is_leaf" || a == "layout" || a == "names" || a == "training")
      return kPythonScalar;
    const Node obj = expr.field("object");
    if (obj && (kinds_impl(obj, function, depth + 1) & kTensor)) return kTensor;
    return 0;
  }
  if (k == "call") return call_kinds(expr, function, depth);
  if (k == "binary_operator") {
    const uint32_t l = kinds_impl(expr.field("left"), function, depth + 1);
    const uint32_t r = kinds_impl(expr.field("right"), function, depth + 1);
    if ((l | r) & kTensor) return (l | r) & (kTensor | kGradHistory);
    return (l & r & kPythonScalar);
  }
  if (k == "unary_operator") return kinds_impl(expr.field("argument"), function, depth + 1);
  if (k == "comparison_operator" || k == "boolean_operator") {
    // `out.argmax(1) == y` is a tensor (of bools) when either side is one; it has no graph.
    for (uint32_t i = 0; i < expr.named_child_count(); ++i)
      if (kinds_impl(expr.named_child(i), function, depth + 1) & kTensor) return kTensor;
    return 0;
  }
  if (k == "subscript") {
    const uint32_t v = kinds_impl(expr.field("value"), function, depth + 1);
    return v & (kTensor | kGradHistory);
  }
  if (k == "conditional_expression") {
    uint32_t u = 0;
    for (uint32_t i = 0; i < expr.named_child_count(); i += 2)
      u |= kinds_impl(expr.named_child(i), function, depth + 1);
    return u;
  }
  if (k == "integer" || k == "float" || k == "true" || k == "false") return kPythonScalar;
  if (k == "list" || k == "tuple" || k == "list_comprehension") return kInMemoryDataset;
  return 0;
}

Node ModuleModel::loader_call(Node e, const FunctionInfo* function) const {
  for (int hop = 0; hop < 4; ++hop) {
    e = unparenthesize(e);
    if (!e) return Node();
    if (e.is("call")) {
      const std::string q = qualified(e.field("function"));
      if (last_component(q) == "DataLoader") return e;
      // self.train_dataloader(): the DataLoader that method returns.
      const std::string_view method = last_component(dotted_name(e.field("function"), src()));
      Node found;
      for (const auto& f : functions_) {
        if (f->name != method) continue;
        for (const CallSite& c : calls_)
          if (c.context.function == f.get() && last_component(c.qualified) == "DataLoader") found = c.call;
      }
      return found;
    }
    const std::string name = dotted_name(e, src());
    if (name.empty()) return Node();
    const std::vector<Binding>* bs = bindings(name, function);
    if (!bs) return Node();
    Node next;
    for (const Binding& b : *bs)
      if (b.value) next = b.value;
    e = next;
  }
  return Node();
}

}  // namespace codedag::lint
