#pragma once
// What a code object says about itself, kept for the process and shared by every tracing Session.
// A tracer is usually made per batch (trace one batch, the benchmark, `codedag trace --batches`), and
// each fresh one re-derived, on first sight of every function, its names, the filter decision and the
// canonical offset of every call site (`PyCode_Addr2Location` walks): about half of a traced batch's
// instructions (docs/tracer.md). Here that work is done once per code object per process.
//
// Safety of the keys: an entry holds a strong reference to its code object, so the address it is
// keyed by cannot be reused by another code object while the entry exists (generated code — exec of
// "<string>" — keeps one entry per code object, as distinct as the code objects are). The module a
// function is named by comes from the globals it runs in, not from the code: the entry keeps the
// globals' `__name__` object it was read from (strongly) and re-derives the names when a call brings
// another one. The filter decision is kept with the id of the rules it was made under (equal rules
// share an id; see rules_id), so a tracer with other include/exclude rules never reuses it. The cache
// is bounded: trim_code_facts() (called outside the hook, when a session starts) empties it past
// kMaxCodeFacts entries; nothing a session holds points into it.
#include <Python.h>

#include <cstdint>
#include <memory>
#include <string>

#include "codedag/common/flat_map.hpp"
#include "codedag/trace/filter_rules.hpp"

namespace codedag::bindings::tracehook {

// How a function is named in the DAG. Shared (immutable) between the cache and every session that
// saw the function, so a fresh tracer copies no strings on first sight.
struct FunctionNames {
  std::string module, name, qualname, file;  // name: co_qualname (or Type.method for builtins)
  int64_t line = 0;
};

struct CodeFacts {
  CodeFacts() = default;
  CodeFacts(const CodeFacts&) = delete;
  CodeFacts& operator=(const CodeFacts&) = delete;
  ~CodeFacts();  // releases the references (only ever destroyed with the GIL held)

  PyObject* code = nullptr;  // strong: the key's owner
  // From the code object alone.
  std::string short_name;  // co_name
  int nargs = 0;           // positional + keyword-only + *args + **kwargs slots
  bool skip_first = false, bookkeeping = false, comprehension = false;
  // Call sites in this code: raw instruction offset -> the canonical offset of its call expression.
  FlatMap<int32_t, int32_t> sites;
  // Under the module it last ran in: `module_name` is that globals' __name__ (strong, may be null).
  bool named = false;
  PyObject* module_name = nullptr;
  std::shared_ptr<const FunctionNames> names;
  // The filter decision under the rules with id `decided_under` (0: none yet), for these names.
  uint64_t decided_under = 0;
  trace::Decision decision;
};

// The same for a builtin (keyed by its PyMethodDef): its names come from the object that owns it
// (the type defining a method descriptor, the module or type of a bound C function), so the entry is
// valid while a call brings the same owner (held strongly) and the same method name.
struct BuiltinFacts {
  BuiltinFacts() = default;
  BuiltinFacts(const BuiltinFacts&) = delete;
  BuiltinFacts& operator=(const BuiltinFacts&) = delete;
  ~BuiltinFacts();
  PyObject* owner = nullptr;  // strong (may be null: a function no object owns)
  std::string method;         // ml_name when named
  std::shared_ptr<const FunctionNames> names;
  uint64_t decided_under = 0;
  trace::Decision decision;
};

inline constexpr size_t kMaxCodeFacts = 16384;

// The facts of `code` (created on first sight). The reference is valid until trim_code_facts().
CodeFacts& code_facts(PyCodeObject* code);
// `facts` named under the module whose globals' __name__ is `module_name` (borrowed, may be null).
const std::shared_ptr<const FunctionNames>& names_under(CodeFacts& facts, PyObject* module_name);
// The canonical offset of the call expression at `raw` in `code` (see canonical() in the hook).
int32_t canonical_offset(PyCodeObject* code, int32_t raw);
// The cached facts of the builtin `ml` owned by `owner` (borrowed, may be null); null when none are
// cached for that owner and name. remember_builtin() stores them (replacing another owner's).
BuiltinFacts* known_builtin(const PyMethodDef* ml, PyObject* owner);
BuiltinFacts& remember_builtin(const PyMethodDef* ml, PyObject* owner, std::shared_ptr<const FunctionNames> names);
// A process-wide id for a set of rules: equal rules (field by field) get the same id, never 0.
uint64_t rules_id(const trace::FilterRules& rules);
// Empties the cache when it has grown past kMaxCodeFacts. Call outside the hook (it may free code
// objects, whose weakref callbacks run Python code).
void trim_code_facts();
size_t code_facts_size();

}  // namespace codedag::bindings::tracehook
