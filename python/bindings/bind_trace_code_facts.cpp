// The process-wide code facts (see bind_trace_code_facts.hpp).
#include "bind_trace_code_facts.hpp"

#include <utility>
#include <vector>

#include "bind_trace_frame.hpp"  // _Py_CODEUNIT (an internal header on 3.13)
#include "bind_trace_hook.hpp"

namespace codedag::bindings::tracehook {

namespace {

// Heap-allocated and never destroyed: a static destructor would run after the interpreter is gone
// and could not release the references.
FlatMap<const void*, std::unique_ptr<CodeFacts>>& cache() {
  static auto* map = new FlatMap<const void*, std::unique_ptr<CodeFacts>>();
  return *map;
}

FlatMap<const void*, std::unique_ptr<BuiltinFacts>>& builtins() {
  static auto* map = new FlatMap<const void*, std::unique_ptr<BuiltinFacts>>();
  return *map;
}

std::vector<std::unique_ptr<BuiltinFacts>>& replaced_builtins() {
  static auto* kept = new std::vector<std::unique_ptr<BuiltinFacts>>();
  return *kept;
}

// One offset per call expression: the start of the run of code units with the same source span
// (an instruction, its inline caches, and the instructions of the same expression next to it). The
// interpreter reports different offsets for one call depending on the instruction variant that made
// it (3.12 resumes a generator from FOR_ITER's cache entry once FOR_ITER is specialised), and a
// context must not split on that. Walking back only over the run keeps this a few look-ups.
int32_t walk_to_expression_start(PyCodeObject* code, int32_t offset) {
  constexpr int kUnit = sizeof(_Py_CODEUNIT);
  int line = 0, col = 0, end_line = 0, end_col = 0;
  if (!PyCode_Addr2Location(code, offset * kUnit, &line, &col, &end_line, &end_col) || line < 0) return offset;
  int32_t start = offset;
  for (; start > 0; --start) {
    int l = 0, c = 0, el = 0, ec = 0;
    if (!PyCode_Addr2Location(code, (start - 1) * kUnit, &l, &c, &el, &ec) || l != line || c != col || el != end_line ||
        ec != end_col)
      break;
  }
  return start;
}

}  // namespace

CodeFacts::~CodeFacts() {
  Py_XDECREF(code);
  Py_XDECREF(module_name);
}

BuiltinFacts::~BuiltinFacts() { Py_XDECREF(owner); }

BuiltinFacts* known_builtin(const PyMethodDef* ml, PyObject* owner) {
  std::unique_ptr<BuiltinFacts>* found = builtins().find(ml);
  if (!found) return nullptr;
  BuiltinFacts& b = **found;
  // The same table entry with the same owner and name (a freed table reused by another function
  // would have to bring both back).
  if (b.owner != owner || !ml->ml_name || b.method != ml->ml_name) return nullptr;
  return &b;
}

BuiltinFacts& remember_builtin(const PyMethodDef* ml, PyObject* owner, std::shared_ptr<const FunctionNames> names) {
  auto b = std::make_unique<BuiltinFacts>();
  b->owner = owner;
  Py_XINCREF(owner);
  b->method = ml->ml_name ? ml->ml_name : "";
  b->names = std::move(names);
  // Replaced, not added; the old entry (another owner) is kept aside until trim_code_facts(): freeing
  // its owner here, inside the hook, could deallocate a type and run weakref callbacks.
  std::unique_ptr<BuiltinFacts>* slot = builtins().try_emplace(ml).first;
  if (*slot) replaced_builtins().push_back(std::move(*slot));
  *slot = std::move(b);
  return **slot;
}

CodeFacts& code_facts(PyCodeObject* code) {
  auto& map = cache();
  if (std::unique_ptr<CodeFacts>* found = map.find(code)) return **found;
  auto facts = std::make_unique<CodeFacts>();
  facts->code = reinterpret_cast<PyObject*>(code);
  Py_INCREF(facts->code);
  facts->short_name = str_of(code->co_name);
  const std::string& s = facts->short_name;
  facts->comprehension = !s.empty() && s.front() == '<' && s != "<lambda>";
  facts->bookkeeping = s == "__len__";
  facts->nargs = code->co_argcount + code->co_kwonlyargcount + ((code->co_flags & CO_VARARGS) ? 1 : 0) +
                 ((code->co_flags & CO_VARKEYWORDS) ? 1 : 0);
  if (code->co_argcount > 0) {
    const std::string first = str_of(PyTuple_GET_ITEM(code->co_localsplusnames, 0));
    facts->skip_first = first == "self" || first == "cls";
  }
  return *map.try_emplace(code, std::move(facts)).first->get();
}

const std::shared_ptr<const FunctionNames>& names_under(CodeFacts& facts, PyObject* module_name) {
  if (facts.named && facts.module_name == module_name) return facts.names;
  auto* code = reinterpret_cast<PyCodeObject*>(facts.code);
  auto names = std::make_shared<FunctionNames>();
  names->module = module_name ? str_of(module_name) : std::string();
  names->name = str_of(code->co_qualname);
  names->qualname = names->module.empty() ? names->name : names->module + "." + names->name;
  names->file = str_of(code->co_filename);
  names->line = code->co_firstlineno;
  Py_XINCREF(module_name);
  Py_XDECREF(facts.module_name);
  facts.module_name = module_name;
  facts.names = std::move(names);
  facts.named = true;
  facts.decided_under = 0;  // the decision was made for the old names
  return facts.names;
}

int32_t canonical_offset(PyCodeObject* code, int32_t raw) {
  if (raw <= 0) return raw;
  CodeFacts& facts = code_facts(code);
  if (const int32_t* known = facts.sites.find(raw)) return *known;
  const int32_t start = walk_to_expression_start(code, raw);
  facts.sites.try_emplace(raw, start);
  return start;
}

uint64_t rules_id(const trace::FilterRules& rules) {
  // Few distinct rule sets exist in a process (usually one): a linear scan with exact comparison.
  // Ids are never reused, so a decision made under dropped rules can never match new ones.
  static auto* known = new std::vector<std::pair<trace::FilterRules, uint64_t>>();
  static uint64_t next = 1;
  for (const auto& [r, id] : *known)
    if (r == rules) return id;
  if (known->size() >= 64) known->clear();
  known->emplace_back(rules, next);
  return next++;
}

void trim_code_facts() {
  replaced_builtins().clear();
  if (builtins().size() > kMaxCodeFacts) {
    FlatMap<const void*, std::unique_ptr<BuiltinFacts>> old;
    old.swap(builtins());
  }
  auto& map = cache();
  if (map.size() <= kMaxCodeFacts) return;
  FlatMap<const void*, std::unique_ptr<CodeFacts>> old;
  old.swap(map);  // the map is empty before any code object is freed
}

size_t code_facts_size() { return cache().size(); }

}  // namespace codedag::bindings::tracehook
