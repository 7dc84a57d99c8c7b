#pragma once
// What the rules need to know about one parsed file, gathered in one walk of the tree:
// - the import table (qualified names),
// - functions (with their class, decorators and what kind of code they are: a Lightning step, an
//   evaluation function, a training function),
// - loops, classified: a *data loop* iterates a DataLoader (or an iterator over one); a *hot* region
//   runs once per training step (a data loop, a loop that calls .backward(), a Lightning *_step body,
//   a function named in hot-loop-functions),
// - a small def-use table: every name (and self.attribute) with the expressions assigned to it, so
//   that `loss = criterion(out, y)` makes `loss` a tensor with autograd history,
// - every call, with the context it sits in (innermost loop, hot region, no_grad, guards).
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "codedag/lint/names.hpp"
#include "codedag/lint/syntax_tree.hpp"

namespace codedag::lint {

// What an expression is known to hold; a bit set.
enum ValueKind : uint32_t {
  kTensor = 1u << 0,
  kGradHistory = 1u << 1,  // a tensor that carries an autograd graph (loss, model output)
  kModel = 1u << 2,        // an nn.Module (calling it runs forward)
  kOptimizer = 1u << 3,
  kLoader = 1u << 4,           // a DataLoader
  kInMemoryDataset = 1u << 5,  // TensorDataset, a list or tuple: workers buy nothing
  kDistributedSampler = 1u << 6,
  kCriterion = 1u << 7,  // an nn.*Loss instance
  kPythonScalar = 1u << 8,
  kLoaderIterator = 1u << 9,  // iter(loader)
};

struct LintSettings;  // config.hpp

struct FunctionInfo {
  Node def;        // function_definition
  Node decorated;  // decorated_definition around it, or null
  std::string name;
  std::string class_name;        // enclosing class, empty for plain functions
  bool in_module_class = false;  // the class derives from nn.Module / LightningModule
  bool lightning_step = false;   // training_step, validation_step, test_step, predict_step
  bool training_step = false;    // training_step itself
  bool eval_named = false;       // val*/eval*/test*/predict*/infer* (not a Lightning *_step)
  bool hot_body = false;         // the whole body runs once per step
  bool grad_disabled = false;    // @torch.no_grad() / @torch.inference_mode()
  const FunctionInfo* parent = nullptr;
};

struct LoopInfo {
  Node node;      // for_statement / while_statement
  Node iterable;  // for: the `in` expression; while: null
  Node loader;    // the expression that is the loader when this is a data loop
  const FunctionInfo* function = nullptr;
  const LoopInfo* parent = nullptr;
  bool data_loop = false;
  bool hot = false;                  // this loop's body runs once per step
  std::string index_name;            // `i` of `for i, batch in enumerate(loader)`
  std::vector<std::string> targets;  // names the loop binds each iteration
  // Calls made in the body at any depth (not in nested functions): method names seen.
  bool calls_backward = false;
  bool calls_step = false;
  bool calls_zero_grad = false;
  bool contains_data_loop = false;
};

// Where a node sits.
struct Context {
  const FunctionInfo* function = nullptr;
  const LoopInfo* loop = nullptr;      // innermost loop
  const LoopInfo* hot_loop = nullptr;  // innermost hot loop, when the region is hot because of one
  bool hot = false;                    // runs once per training step
  bool grad_disabled = false;          // under with torch.no_grad()/inference_mode() or such a decorator
  bool periodic_guard = false;         // under `if step % N ...` (runs every N steps)
  bool rank_guard = false;             // under `if rank == 0` and the like
};

struct CallSite {
  Node call;
  Node function;          // the callee expression
  Node receiver;          // `x` of `x.method(...)`, else null
  std::string qualified;  // resolved dotted callee ("torch.cuda.empty_cache", "print"), or empty
  std::string method;     // last attribute name of an attribute call ("item"), or the bare name
  Context context;
};

struct Binding {
  Node value;          // the assigned expression (null for loop targets and parameters)
  Node statement;      // the assignment / for statement / parameter
  uint32_t at = 0;     // byte offset of the binding
  uint32_t kinds = 0;  // kinds given by the binding form itself (loop over a loader ⇒ tensor batch)
};

struct Assignment {
  Node node;  // assignment or augmented_assignment
  Context context;
};

struct IfGuard {
  Node condition;
  Context context;  // the context of the if statement itself
};

class ModuleModel {
 public:
  ModuleModel(const Tree& tree, const LintSettings& settings);

  const SourceText& src() const { return tree_.source(); }
  const Tree& tree() const { return tree_; }
  const ImportTable& imports() const { return imports_; }
  const LintSettings& settings() const { return settings_; }

  const std::vector<std::unique_ptr<FunctionInfo>>& functions() const { return functions_; }
  const std::vector<std::unique_ptr<LoopInfo>>& loops() const { return loops_; }
  const std::vector<CallSite>& calls() const { return calls_; }
  const std::vector<Assignment>& assignments() const { return assignments_; }
  const std::vector<IfGuard>& conditions() const { return conditions_; }
  // Regions the walk did not enter: syntax errors and nesting past the depth bound.
  struct Skipped {
    uint32_t start, end;
    std::string why;
  };
  const std::vector<Skipped>& skipped() const { return skipped_; }

  // Resolved dotted name of an expression ("" when it is not a name chain).
  std::string qualified(Node expr) const;
  // What `expr`, evaluated inside `function`, is known to hold (ValueKind bits).
  uint32_t kinds(Node expr, const FunctionInfo* function) const;
  // The assignments made to `name` ("loss", "self.losses") visible from `function`.
  const std::vector<Binding>* bindings(const std::string& name, const FunctionInfo* function) const;
  // Names X on which X.backward() is called inside `function` (module level: nullptr).
  bool is_backward_receiver(const std::string& name, const FunctionInfo* function) const;
  // Whether `function` (module level: nullptr) calls .backward() anywhere.
  bool calls_backward(const FunctionInfo* function) const { return is_backward_receiver("", function); }
  // Names that appear in a return statement of `function`.
  bool is_returned(const std::string& name, const FunctionInfo* function) const;
  // The class names in this file that derive from nn.Module / LightningModule.
  bool is_module_class(const std::string& name) const { return module_classes_.count(name) != 0; }
  // The DataLoader(...) call a loader expression was built by, when def-use can tell.
  Node loader_call(Node loader_expr, const FunctionInfo* function) const;
  // Whether the file mentions any call with this method name (".set_epoch", "manual_seed"...).
  bool calls_method(std::string_view method) const { return methods_called_.count(std::string(method)) != 0; }

 private:
  friend class ModelBuilder;
  uint32_t kinds_impl(Node expr, const FunctionInfo* function, int depth) const;
  uint32_t call_kinds(Node call, const FunctionInfo* function, int depth) const;
  uint32_t name_kinds(const std::string& name, Node use, const FunctionInfo* function, int depth) const;

  const Tree& tree_;
  const LintSettings& settings_;
  ImportTable imports_;
  std::vector<std::unique_ptr<FunctionInfo>> functions_;
  std::vector<std::unique_ptr<LoopInfo>> loops_;
  std::vector<CallSite> calls_;
  std::vector<Assignment> assignments_;
  std::vector<IfGuard> conditions_;
  std::vector<Skipped> skipped_;
  std::unordered_set<std::string> module_classes_;
  std::unordered_set<std::string> methods_called_;
  // Scope key: the FunctionInfo (nullptr for module level) -> name -> bindings. self.attr bindings
  // are kept per class under "<class>::self.attr".
  std::unordered_map<const FunctionInfo*, std::unordered_map<std::string, std::vector<Binding>>> scopes_;
  std::unordered_map<std::string, std::vector<Binding>> class_attributes_;
  std::unordered_map<const FunctionInfo*, std::unordered_set<std::string>> backward_receivers_;
  std::unordered_map<const FunctionInfo*, std::unordered_set<std::string>> returned_names_;
};

// The innermost statement (a child of a block or module) that contains `node`.
Node enclosing_statement(Node node);
// Keyword argument `name=` of a call's argument list, or null.
Node keyword_argument(Node call, std::string_view name, const SourceText& src);
// The n-th positional argument (0-based) of a call, or null.
Node positional_argument(Node call, uint32_t n);
// True when the call passes *args or **kwargs (so an absent keyword may still be given).
bool has_splat_arguments(Node call);
// True when the call passes **kwargs (which may carry any keyword).
bool has_keyword_splat(Node call);
// The expression with parentheses stripped.
Node unparenthesize(Node expr);

}  // namespace codedag::lint
