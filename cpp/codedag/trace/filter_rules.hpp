#pragma once
// Which functions become contexts. Decided once per code object (or builtin function) on first
// sight, never per call. Defaults keep the DAG in the user's words:
//   - the tracer's own frames, DataLoader machinery (torch/utils/data) and the standard library are
//     folded: not contexts, their time stays in the nearest recorded ancestor, calls they make into
//     user code are still recorded (DataLoader's fetch -> Dataset.__getitem__);
//   - default_collate is the exception: collation is a pipeline stage;
//   - comprehensions/generator expressions are folded into the function that contains them;
//   - library code (by the one library decision, python/codedag/libraries.py, passed in as the
//     directories of the packages it judged: `library_prefixes`/`user_prefixes`, the longest match
//     wins; modules imported after the tracer was made fall back to the site-packages markers)
//     is recorded when user code calls
//     it; library code called by library code or by folded machinery is folded (numpy's internals
//     and DataLoader's own torch calls are not the pipeline), except `__call__`/`forward` called
//     directly by a recorded step (a library `__call__`/`forward` context): how transform
//     containers (Compose, nn.Sequential, RandomApply) call their steps. A callable object called
//     anywhere deeper in a library (numba's type metaclasses, llvmlite wrappers) is not a step;
//   - testing and debugging tools (pytest and its plugins, coverage, debuggers: `tooling_modules`)
//     are folded like DataLoader machinery: their hooks may run inside a traced block;
//   - warm-up (an import in progress, a JIT compilation: `warmup_functions`) is not the pipeline:
//     nothing it calls is a context, and its time is taken out of every recorded caller (it is
//     paid once per process, not per batch);
//   - nn.Module's call machinery (Module._wrapped_call_impl / _call_impl) is transparent: never a
//     context; the module's forward is the context, called from the user's call site, so a chain
//     of modules has data edges module to module;
//   - a library's private dispatchers (numpy's `_clip_dispatcher`, run by the C dispatch machinery
//     before the function itself) are hidden: neither contexts nor library calls.
//   (The caller-dependent part is applied by the hook, which knows the caller.)
// User patterns win: `include` records a matching function, `exclude` folds it.
#include <string>
#include <string_view>
#include <vector>

namespace codedag::trace {

// Shell-style pattern: `*` any run, `?` one character.
bool glob_match(std::string_view pattern, std::string_view text);

struct Decision {
  bool record = false;          // a context of its own
  bool library = false;         // counts as library code (library calls made from it are folded)
  bool transform_step = false;  // __call__/forward: recorded even when a library calls it
  bool third_party = false;     // a library call worth reporting in lib_calls (not the standard library)
  bool user = false;            // user code: the library calls it makes are attributed to its context
  bool transparent = false;     // call machinery: the function it calls stands in its place
  bool warmup = false;          // one-time warm-up (import, JIT compilation): see FilterRules::warmup_functions
};

struct FilterRules {
  std::vector<std::string> own_prefixes;        // the tracer's package directory
  std::vector<std::string> machinery_prefixes;  // torch/utils/data
  std::vector<std::string> stdlib_prefixes;     // sysconfig stdlib / platstdlib
  // Directories of packages the library decision judged (library or the user's own, e.g. a
  // `pip --target` dependency or a `[tool.codedag] user = [...]` package inside site-packages).
  std::vector<std::string> library_prefixes, user_prefixes;
  // Fallback for code the decision has not judged (imported after the tracer was made).
  std::vector<std::string> library_markers{"/site-packages/", "/dist-packages/"};
  std::vector<std::string> stdlib_modules;  // top-level names of standard modules (builtin functions)
  std::vector<std::string> recorded_machinery{"default_collate", "default_convert"};
  // "<module>.<qualname>" of transparent call machinery.
  std::vector<std::string> transparent_functions{"torch.nn.modules.module.Module._wrapped_call_impl",
                                                 "torch.nn.modules.module.Module._call_impl"};
  // Top-level modules of testing and debugging tools: folded like DataLoader machinery.
  std::vector<std::string> tooling_modules{"_pytest", "pytest",   "pluggy",         "conftest",
                                           "xdist",   "coverage", "IPython",        "ipykernel",
                                           "debugpy", "pydevd",   "_pydevd_bundle", "_pydev_bundle"};
  // "<module>.<qualname>" patterns of one-time warm-up: the import system loading a module (also
  // lazy imports, e.g. lazy_loader's), and JIT compilers compiling on a first call.
  std::vector<std::string> warmup_functions{"_frozen_importlib._find_and_load", "importlib._bootstrap._find_and_load",
                                            "numba.core.dispatcher._DispatcherBase._compile_for_args"};
  // Patterns on the function name of library code that is never a context nor a library call.
  std::vector<std::string> hidden_library_names{"_*_dispatcher"};
  std::vector<std::string> include, exclude;  // matched against "<module>.<qualname>" and the file

  // Field by field: sessions with equal rules share the decisions cached per code object.
  bool operator==(const FilterRules&) const = default;

  // A Python function: its file, module __name__, co_qualname and co_name.
  Decision python(std::string_view file, std::string_view module, std::string_view qualname,
                  std::string_view name) const;
  // A builtin (C) function: the module it reports and its qualified name.
  Decision builtin(std::string_view module, std::string_view qualname) const;

 private:
  // Library code by the decision's directories (longest prefix wins), else by the markers.
  bool library_file(std::string_view file) const;
  bool user_pattern(const std::vector<std::string>& patterns, std::string_view qualified, std::string_view file) const;
};

}  // namespace codedag::trace
