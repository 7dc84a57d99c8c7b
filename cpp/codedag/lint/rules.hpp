#pragma once
// The rule table (CDL001-CDL015) and the Reporter the rules write findings through.
#include <optional>
#include <string>
#include <vector>

#include "codedag/lint/finding.hpp"
#include "codedag/lint/module_model.hpp"

namespace codedag::lint {

class Reporter {
 public:
  Reporter(const ModuleModel& model, std::vector<Finding>& out) : model_(model), out_(out) {}

  // Whether `code` is enabled for this file (rules skip work for disabled codes).
  bool wants(const char* code) const;
  // A finding spanning `node`.
  void report(const char* code, Node node, std::string message, std::optional<Fix> fix = std::nullopt,
              Severity severity = Severity::warning);
  const ModuleModel& model() const { return model_; }

 private:
  const ModuleModel& model_;
  std::vector<Finding>& out_;
};

using RuleCheck = void (*)(const ModuleModel&, Reporter&);

struct Rule {
  const char* code;
  const char* name;     // kebab-case, as ruff names rules
  const char* summary;  // one line for --statistics and SARIF
  const char* fix;      // "safe", "unsafe" or "none"
  RuleCheck check;
};

// Every rule, in code order.
const std::vector<Rule>& rules();
const Rule* find_rule(const std::string& code);

// The rules, one function each (rules_*.cpp).
void check_host_sync(const ModuleModel&, Reporter&);              // CDL001
void check_loss_accumulation(const ModuleModel&, Reporter&);      // CDL002
void check_missing_zero_grad(const ModuleModel&, Reporter&);      // CDL003
void check_eval_without_no_grad(const ModuleModel&, Reporter&);   // CDL004
void check_eval_without_train(const ModuleModel&, Reporter&);     // CDL005
void check_loader_workers(const ModuleModel&, Reporter&);         // CDL006
void check_pin_memory(const ModuleModel&, Reporter&);             // CDL007
void check_tensor_in_loop(const ModuleModel&, Reporter&);         // CDL008
void check_zero_grad_set_to_none(const ModuleModel&, Reporter&);  // CDL009
void check_torch_load(const ModuleModel&, Reporter&);             // CDL010
void check_checkpoint_reentrant(const ModuleModel&, Reporter&);   // CDL011
void check_seeding(const ModuleModel&, Reporter&);                // CDL012
void check_direct_forward(const ModuleModel&, Reporter&);         // CDL013
void check_empty_cache(const ModuleModel&, Reporter&);            // CDL014
void check_distributed(const ModuleModel&, Reporter&);            // CDL015

// A node's text for a message: whitespace runs (newlines too) collapsed, cut at `max` characters.
std::string snippet(Node node, const SourceText& src, size_t max = 60);

// Fix helpers shared by the rules.
// An edit adding `name=value` as the last argument of `call` (after a comma when needed); none when
// the call's arguments are not a plain list (f(x for x in y)).
std::optional<Edit> add_keyword_edit(Node call, const std::string& keyword, const SourceText& src);
// A fix that adds `keyword` (e.g. "weights_only=True") to the call; none when it cannot.
std::optional<Fix> keyword_fix(Node call, const std::string& keyword, Applicability applicability,
                               const SourceText& src);
// The local spelling of `torch` in this file ("torch", "th"), or empty when torch is not imported.
std::string torch_alias(const ModuleModel& model);

}  // namespace codedag::lint
