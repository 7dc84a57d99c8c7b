// The tracer's per-event work (see bind_trace_hook.hpp): the same for every Python version. How the
// events arrive is the installer's business (bind_trace_profile.cpp on 3.11, bind_trace_monitoring.cpp
// on 3.12+); how a frame is read is bind_trace_frame.hpp's.
#include "bind_trace_hook.hpp"

#include <unistd.h>

#include <algorithm>

#include "bind_trace_frame.hpp"
#include "codedag/common/error.hpp"
#include "codedag/trace/value_types.hpp"

namespace codedag::bindings::tracehook {

std::string str_of(PyObject* o) {
  if (!o || !PyUnicode_Check(o)) return {};
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(o, &n);
  if (!s) {
    PyErr_Clear();
    return {};
  }
  return std::string(s, static_cast<size_t>(n));
}

namespace {

Session* g_installed = nullptr;  // the one installed hook's owner (ARCHITECTURE: the only global)
uint64_t g_generation = 0;
thread_local ThreadState* t_state = nullptr;
thread_local uint64_t t_generation = 0;

std::string attr_str(PyObject* o, const char* name) {
  PyObject* v = PyObject_GetAttrString(o, name);
  if (!v) {
    PyErr_Clear();
    return {};
  }
  std::string s = str_of(v);
  Py_DECREF(v);
  return s;
}

}  // namespace

Session* Session::installed() { return g_installed; }

Session::Session(SessionConfig config) : config_(std::move(config)) {
  nbytes_name_ = PyUnicode_InternFromString("nbytes");
  base_name_ = PyUnicode_InternFromString("base");
  tbase_name_ = PyUnicode_InternFromString("_base");
  pil_size_name_ = PyUnicode_InternFromString("_size");
  pil_mode_name_ = PyUnicode_InternFromString("_mode");
  dunder_name_ = PyUnicode_InternFromString("__name__");
  rules_id_ = rules_id(config_.rules);
  pid_ = static_cast<int64_t>(::getpid());
  pinned_.reserve(64);
  // Room for what one DataLoader batch sees (a few hundred functions, thousands of values), made
  // here rather than by repeated doubling inside the hook while a fresh tracer traces.
  functions_.reserve(512);
  producers_.reserve(2048);
  type_facts_.reserve(64);
}

Session::~Session() {
  try {
    if (g_installed == this) stop();
  } catch (...) {  // a destructor must not throw; the hook is detached before anything can
  }
  clear();
  Py_XDECREF(nbytes_name_);
  Py_XDECREF(base_name_);
  Py_XDECREF(tbase_name_);
  Py_XDECREF(pil_size_name_);
  Py_XDECREF(pil_mode_name_);
  Py_XDECREF(dunder_name_);
  Py_XDECREF(covered_);
}

bool Session::active() const { return g_installed == this; }

FunctionInfo& Session::function(trace::FuncId id) const {
  FunctionInfo* const* found = functions_.find(reinterpret_cast<const void*>(id));
  if (!found)
    throw StateError("the tracer's context tree names a function it never saw (id " + std::to_string(id) + ")");
  return **found;
}

void Session::start(PyObject* self) {
  if (g_installed == this) throw StateError("this tracer is already tracing; stop() it before start() again");
  if (g_installed)
    throw StateError(
        "another CodeDAG tracer is already active in this process; stop it (or use nested "
        "tracing_context() of the same tracer) before starting a second one");
  trim_code_facts();  // here, outside the hook: trimming may free code objects
  refresh_types();
  timing::calibrate();
  failed_ = false;
  failure_.clear();
  self_ = self;
  generation_ = ++g_generation;
  last_pythread_ = nullptr;
  last_thread_ = nullptr;
  g_installed = this;
  try {
    install::attach(*this);
  } catch (...) {
    g_installed = nullptr;
    throw;
  }
}

void Session::stop() {
  if (g_installed != this) return;
  const int64_t now = now_ns();
  install::detach();
  g_installed = nullptr;
  for (auto& ts : threads_) close(*ts, now);
  if (stream_) flush_stream(false);
  // Values are followed for the life of the traced block only; the session stops holding function
  // objects (and through their globals, possibly its own owner). A function is named now only when
  // its name needs the object (a library function's public name, a registry look-up by identity);
  // any other is named from its code facts if a flush asks for it: most functions a batch sees are
  // folded machinery that no context or library call names.
  release_producers();
  for (FunctionInfo& f : function_store_) {
    if (f.callable && (f.decision.third_party || covered_)) ensure_named(f);
    Py_CLEAR(f.callable);
  }
}

void Session::discard_after_fork() {
  // The child inherited the parent's hook and session memory; the parent still owns that session.
  if (g_installed) install::forget_after_fork();
  g_installed = nullptr;
  t_state = nullptr;
  t_generation = 0;
}

ThreadState& Session::thread_state_slow(PyThreadState* py) {
  if (t_generation != generation_ || !t_state) {
    threads_.push_back(std::make_unique<ThreadState>());
    t_state = threads_.back().get();
    t_state->tid = static_cast<int64_t>(PyThread_get_thread_native_id());
    t_state->stack.reserve(256);
    t_generation = generation_;
  }
  t_state->ident = py->thread_id;
  last_pythread_ = py;
  last_thread_ = t_state;
  return *t_state;
}

FunctionInfo* Session::python_info_slow(frames::IFrame* frame, PyCodeObject* code) {
  FunctionInfo** found = functions_.find(code);
  if (!found) {
    // What the code object says about itself, and its names and decision, are the process's code
    // facts (bind_trace_code_facts.hpp): a fresh tracer re-derives none of it.
    CodeFacts& facts = code_facts(code);
    PyObject* globals = frame->f_globals;
    PyObject* modname = globals && PyDict_Check(globals) ? PyDict_GetItemWithError(globals, dunder_name_) : nullptr;
    if (!modname) PyErr_Clear();
    FunctionInfo* info = &function_store_.emplace_back();
    info->id = reinterpret_cast<uint64_t>(code);
    info->code = reinterpret_cast<PyObject*>(code);
    Py_INCREF(info->code);
    info->names = names_under(facts, modname);
    if (facts.decided_under != rules_id_) {
      const FunctionNames& n = *info->names;
      facts.decision = config_.rules.python(n.file, n.module, n.name, facts.short_name);
      facts.decided_under = rules_id_;
    }
    info->decision = facts.decision;
    info->transparent = info->decision.transparent;
    info->comprehension = facts.comprehension;
    // A property's getter runs on attribute access (PIL's Image.size): not a pipeline step, and not
    // a function the migrator could replace. Asked of the globals it runs in, so not cached.
    if (info->decision.record && is_property_accessor(frame->f_globals, code)) info->decision.record = false;
    info->bookkeeping = facts.bookkeeping;
    info->nargs = facts.nargs;
    info->skip_first = facts.skip_first;
    if (frames::function(frame) && active()) {
      info->callable = frames::function(frame);
      Py_INCREF(info->callable);
    }
    // A type still missing can only appear with an import, which adds to sys.modules: looked for again
    // only then (with PIL never imported, this ran for every new function of every tracer).
    if ((!tensor_type_ || !ndarray_type_ || !pil_type_) && PyDict_GET_SIZE(PyImport_GetModuleDict()) != modules_seen_)
      refresh_types();
    found = functions_.try_emplace(code, info).first;
  }
  recent_functions_[function_slot(code)] = {code, *found};
  return *found;
}

namespace {
// The method table entry behind a builtin callable: a PyCFunction (len, np.add, a bound C method)
// or a method descriptor (list.append as 3.12+'s CALL event reports `xs.append(v)`). Null otherwise.
PyMethodDef* method_def(PyObject* callable) {
  if (PyCFunction_Check(callable)) return reinterpret_cast<PyCFunctionObject*>(callable)->m_ml;
  if (Py_IS_TYPE(callable, &PyMethodDescr_Type)) return reinterpret_cast<PyMethodDescrObject*>(callable)->d_method;
  return nullptr;
}
}  // namespace

const void* Session::builtin_key(PyObject* callable) {
  PyMethodDef* ml = method_def(callable);
  return ml ? static_cast<const void*>(ml) : static_cast<const void*>(callable);
}

namespace {
// The object a builtin's names come from (see builtin_names): the type defining a method
// descriptor, the module name a C function reports, the module or type it is bound to; null when
// none (then it is named by the module holding it).
PyObject* builtin_owner(PyObject* callable) {
  if (!PyCFunction_Check(callable)) return reinterpret_cast<PyObject*>(PyDescr_TYPE(callable));
  if (PyObject* module = reinterpret_cast<PyCFunctionObject*>(callable)->m_module; module && PyUnicode_Check(module))
    return module;
  PyObject* self = PyCFunction_GET_SELF(callable);
  if (!self || PyModule_Check(self) || PyType_Check(self)) return self;
  return reinterpret_cast<PyObject*>(Py_TYPE(self));
}
}  // namespace

std::shared_ptr<FunctionNames> Session::builtin_names(PyObject* callable, const PyMethodDef* ml) {
  auto names = std::make_shared<FunctionNames>();
  const std::string method = ml->ml_name ? ml->ml_name : "?";
  if (!PyCFunction_Check(callable)) {  // a method descriptor: named by the type that defines it
    PyObject* type = reinterpret_cast<PyObject*>(PyDescr_TYPE(callable));
    names->module = attr_str(type, "__module__");
    names->name = attr_str(type, "__qualname__") + "." + method;
  } else if (PyObject* module = reinterpret_cast<PyCFunctionObject*>(callable)->m_module;
             module && PyUnicode_Check(module)) {
    names->module = str_of(module);
    names->name = method;
  } else if (PyObject* self = PyCFunction_GET_SELF(callable); self && PyModule_Check(self)) {
    names->module = PyModule_GetName(self) ? PyModule_GetName(self) : "";
    PyErr_Clear();
    names->name = method;
  } else if (self) {
    PyObject* type = PyType_Check(self) ? self : reinterpret_cast<PyObject*>(Py_TYPE(self));
    names->module = attr_str(type, "__module__");
    names->name = attr_str(type, "__qualname__") + "." + method;
  } else {
    // No module and no owner object (OpenCV 5's functions: __module__ None): named by the module
    // that holds it, never taken for a Python builtin.
    names->module = owner_module(callable, ml->ml_name);
    if (names->module.empty()) names->module = "builtins";  // held by no module: judged as the interpreter's
    names->name = method;
  }
  names->qualname = names->module.empty() ? names->name : names->module + "." + names->name;
  return names;
}

FunctionInfo* Session::builtin_info(PyObject* callable) {
  PyMethodDef* ml = method_def(callable);
  if (!ml) return nullptr;
  // The cache python_info() uses (a PyMethodDef and a code object never share an address).
  RecentFunction& recent = recent_functions_[function_slot(ml)];
  if (recent.key == ml) return recent.info;
  if (FunctionInfo** found = functions_.find(ml)) {
    recent = {ml, *found};
    return *found;
  }
  // Names and decision from the process's builtin facts when the same owner brings it again.
  PyObject* owner = builtin_owner(callable);
  BuiltinFacts* facts = known_builtin(ml, owner);
  if (!facts) facts = &remember_builtin(ml, owner, builtin_names(callable, ml));
  if (facts->decided_under != rules_id_) {
    facts->decision = config_.rules.builtin(facts->names->module, facts->names->name);
    facts->decided_under = rules_id_;
  }
  FunctionInfo* info = &function_store_.emplace_back();
  info->id = reinterpret_cast<uint64_t>(ml);
  info->builtin = true;
  info->names = facts->names;
  info->decision = facts->decision;
  info->callable = callable;
  Py_INCREF(callable);
  functions_.try_emplace(ml, info);
  recent_functions_[function_slot(ml)] = {ml, info};
  return info;
}

[[gnu::always_inline]] inline void Session::push(ThreadState& ts, const void* key, FunctionInfo* info, int32_t ctx,
                                                 trace::CallSite, int64_t now, bool builtin) {
  // Built in place (a Frame is ~80 bytes: constructing it aside and copying it in was a tenth of
  // the hook's instructions per call); what it inherits is read from the caller first, since the
  // push may move the stack.
  const auto pos = static_cast<int32_t>(ts.stack.size());
  int32_t anc = -1, anc_pos = -1;
  bool beyond = false, in_warmup = false;
  if (pos > 0) {
    const Frame& top = ts.stack.back();
    anc = top.anc;
    anc_pos = top.anc_pos;
    beyond = top.beyond;
    in_warmup = top.in_warmup;
  }
  Frame& f = ts.stack.emplace_back();
  f.key = key;
  f.start = now;
  f.builtin = builtin;
  f.library = info && info->decision.library;
  f.user = info && info->decision.user;
  f.anc = anc;
  f.anc_pos = anc_pos;
  f.up_pos = anc_pos;
  f.beyond = beyond;
  f.in_warmup = in_warmup;
  if (ctx >= 0) {
    f.ctx = ctx;
    f.anc = ctx;
    f.anc_pos = pos;
  }
}

namespace {
// A call made by `caller`, as a call site: (its code object, its instruction offset).
trace::CallSite site_in(frames::IFrame* caller) {
  if (!caller) return {};
  return {reinterpret_cast<uint64_t>(frames::code(caller)), frames::last_instruction(caller)};
}

// One offset per call expression (see canonical_offset in bind_trace_code_facts.cpp), remembered
// per code object for the process.
trace::CallSite canonical(trace::CallSite raw) {
  if (!raw.code || raw.offset <= 0) return raw;
  return {raw.code, canonical_offset(reinterpret_cast<PyCodeObject*>(raw.code), raw.offset)};
}
}  // namespace

int32_t Session::context_for(int32_t anc, FunctionInfo& info, trace::CallSite raw, bool builtin) {
  // A loop calls one function from one place under one parent, again and again: remember the last.
  if (info.last_parent == anc && info.last_site == raw && info.last_ctx >= 0) return info.last_ctx;
  int32_t ctx = tree_.find(anc, info.id, raw);
  if (ctx < 0) ctx = new_context(anc, info, raw, builtin);
  info.last_parent = anc;
  info.last_site = raw;
  info.last_ctx = ctx;
  return ctx;
}

int32_t Session::new_context(int32_t anc, const FunctionInfo& info, trace::CallSite raw, bool builtin) {
  if (fail_after_contexts_ >= 0 && static_cast<int64_t>(tree_.size()) >= fail_after_contexts_)
    throw InputError("a failure injected by a test at context " + std::to_string(tree_.size()) + " (" +
                     info.qualname() + ")");
  const trace::CallSite site = canonical(raw);
  const size_t before = tree_.size();
  const int32_t ctx = tree_.child(anc, info.id, site, builtin);
  if (!(site == raw)) tree_.alias(anc, info.id, raw, ctx);
  if (tree_.size() != before && site.code) {  // the site's code object is named at flush: keep it
    site_codes_.push_back(reinterpret_cast<PyObject*>(site.code));
    Py_INCREF(site_codes_.back());
  }
  return ctx;
}

void Session::on_call(PyThreadState* py, frames::IFrame* frame, int64_t now) {
  ThreadState& ts = thread_state(py);
  FunctionInfo* info = python_info(frame, frames::code(frame));
  const Frame* top = ts.stack.empty() ? nullptr : &ts.stack.back();
  const int32_t anc = top ? top->anc : -1;
  // Called through call machinery (a module's __call__): judged as called by the code that called
  // the machinery, at the call site where it did.
  const bool forwarded = top && top->transparent;
  const bool caller_library = forwarded ? top->fwd_library : top ? top->library : false;
  const bool caller_user = forwarded ? top->fwd_user : top ? top->user : true;
  const bool caller_step = forwarded ? top->fwd_step : top ? top->step : false;
  const trace::Decision& d = info->decision;
  if (d.warmup) {  // an import or a JIT compilation: not the pipeline, and paid once per process
    push(ts, frame, info, -1, {}, now, false);
    ts.stack.back().warmup = ts.stack.back().in_warmup = ts.stack.back().beyond = true;
    return;
  }
  if (info->transparent) {
    const trace::CallSite site = forwarded ? top->site : site_in(frames::caller(frame));
    const bool beyond = top && top->beyond;
    push(ts, frame, info, -1, {}, now, false);  // may move the stack: `top` is not used after this
    Frame& pushed = ts.stack.back();
    pushed.transparent = true;
    pushed.site = site;
    pushed.fwd_user = caller_user;
    pushed.fwd_library = caller_library;
    pushed.fwd_step = caller_step;
    pushed.user = false;  // the builtins it calls itself (torch._C._get_tracing_state) are machinery
    pushed.library = true;
    pushed.beyond = beyond;
    return;
  }
  const bool warming = top && top->in_warmup;
  if (anc >= 0 && caller_user && d.third_party && !warming) tree_.add_lib_call(anc, info->id);
  int32_t ctx = -1;
  const int depth = anc < 0 ? 1 : tree_[anc].depth + 1;
  const bool beyond = (top && top->beyond) || (d.record && depth > config_.max_depth);
  // Library code is a context when user code calls it, or when a recorded step (a transform
  // container such as Compose, itself a library __call__/forward) calls a step's __call__/forward
  // directly. Callable objects called deeper inside a library are its internals (numba's type
  // metaclasses, llvmlite's wrappers), not steps.
  const bool caller_machinery = top && !caller_library && !caller_user;
  bool wanted = !d.library || caller_user || (caller_step && d.transform_step);
  // DataLoader bookkeeping (samplers asking the Dataset for its length) is not the pipeline.
  if (caller_machinery && info->bookkeeping) wanted = false;
  if (d.record && !beyond && wanted) {
    ctx = context_for(anc, *info, forwarded ? top->site : site_in(frames::caller(frame)), false);
    take_args(frame, *info, ctx, anc);
  }
  push(ts, frame, info, ctx, {}, now, false);
  Frame& pushed = ts.stack.back();
  if (beyond) pushed.beyond = true;
  // A recorded library step calls its steps directly; a comprehension in it calls on its behalf.
  pushed.step = (ctx >= 0 && d.library && d.transform_step) || (info->comprehension && caller_step);
}

Session::Left Session::pop(ThreadState& ts, int64_t now) {
  // Only the fields the caller needs are kept: copying the whole Frame out was measurable.
  const Frame& f = ts.stack.back();
  const int64_t dur = now - f.start;
  const int64_t excluded = f.warmup ? dur : f.excluded_ns;
  const Left left{f.ctx, f.up_pos, dur - f.excluded_ns, f.child_ns, f.start};
  ts.stack.pop_back();
  if (excluded && !ts.stack.empty()) ts.stack.back().excluded_ns += excluded;
  return left;
}

void Session::close(ThreadState& ts, int64_t now) {
  // Calls still open when tracing stops: their time so far is real and is kept.
  while (!ts.stack.empty()) {
    const Left f = pop(ts, now);
    if (f.ctx < 0) continue;
    auto& st = tree_[f.ctx].stats;
    st.calls += 1;
    st.total_ns += f.dur;
    st.child_ns += f.child_ns;
    if (f.up_pos >= 0 && static_cast<size_t>(f.up_pos) < ts.stack.size()) ts.stack[f.up_pos].child_ns += f.dur;
  }
}

void Session::on_return(PyThreadState* py, frames::IFrame* frame, PyObject* value, int64_t now) {
  ThreadState& ts = thread_state(py);
  if (ts.stack.empty()) return;  // a frame entered before tracing started
  // Builtin frames left open (should not happen) and mismatches: find this frame near the top.
  size_t pos = ts.stack.size();
  for (size_t k = ts.stack.size(); k-- > 0 && ts.stack.size() - k <= 4;)
    if (ts.stack[k].key == frame) {
      pos = k;
      break;
    }
  if (pos == ts.stack.size()) return;
  while (ts.stack.size() > pos + 1) pop(ts, now);  // frames whose return was not seen: their warm-up still counts
  const Left f = pop(ts, now);
  const int64_t dur = f.dur;
  if (f.ctx < 0) return;
  auto& st = tree_[f.ctx].stats;
  st.calls += 1;
  st.total_ns += dur;
  st.child_ns += f.child_ns;
  if (f.up_pos >= 0) ts.stack[static_cast<size_t>(f.up_pos)].child_ns += dur;
  if (value) {
    double bytes = 0;
    produce(value, f.ctx, st.ret_types, bytes, false);
    st.out_bytes += bytes;
  }
  if (span_count_ < config_.max_spans) {
    ts.spans.push({f.ctx, f.start, dur});
    ++span_count_;
  } else {
    ++dropped_spans_;
  }
  if (stream_ && tree_[f.ctx].depth == 1) flush_stream(false);
}

void Session::on_c_call(PyThreadState* py, PyObject* callable, int64_t now) {
  ThreadState& ts = thread_state(py);
  FunctionInfo* info = builtin_info(callable);
  const Frame* top = ts.stack.empty() ? nullptr : &ts.stack.back();
  const int32_t anc = top ? top->anc : -1;
  if (!info) {
    push(ts, callable, nullptr, -1, {}, now, true);
    return;
  }
  const trace::Decision& d = info->decision;
  const bool caller_user = top ? top->user : true;
  if (anc >= 0 && caller_user && d.third_party && !(top && top->in_warmup)) tree_.add_lib_call(anc, info->id);
  int32_t ctx = -1;
  const int depth = anc < 0 ? 1 : tree_[anc].depth + 1;
  const bool beyond = (top && top->beyond) || (d.record && depth > config_.max_depth);
  if (d.record && !beyond && (caller_user || d.transform_step)) {
    // The C call is made by the frame on top of the interpreter's stack.
    ctx = context_for(anc, *info, site_in(frames::current(py)), true);
  }
  push(ts, builtin_key(callable), info, ctx, {}, now, true);
  Frame& pushed = ts.stack.back();
  if (beyond) pushed.beyond = true;
  if (ctx < 0 && top) {  // a folded builtin (len, map, sorted) acts for its caller
    const Frame& caller = ts.stack[ts.stack.size() - 2];
    pushed.library = caller.library;
    pushed.user = caller.user;
  }
}

void Session::on_c_return(PyThreadState* py, PyObject* callable, int64_t now) {
  ThreadState& ts = thread_state(py);
  if (ts.stack.empty() || !ts.stack.back().builtin) return;
  if (ts.stack.back().key != builtin_key(callable)) return;
  const Left f = pop(ts, now);
  const int64_t dur = f.dur;
  if (f.ctx < 0) return;
  auto& st = tree_[f.ctx].stats;
  st.calls += 1;
  st.total_ns += dur;
  if (f.up_pos >= 0) ts.stack[static_cast<size_t>(f.up_pos)].child_ns += dur;
  if (span_count_ < config_.max_spans) {
    ts.spans.push({f.ctx, f.start, dur});
    ++span_count_;
  } else {
    ++dropped_spans_;
  }
}

void Session::take_args(frames::IFrame* frame, const FunctionInfo& info, int32_t ctx, int32_t anc) {
  uint32_t types = 0;
  for (int i = info.skip_first ? 1 : 0; i < info.nargs; ++i) {
    if (PyObject* v = frames::argument(frame, i)) take_value(v, ctx, anc, types);
  }
  tree_[ctx].stats.arg_types |= types;
}

void Session::release_producers() {
  producers_.for_each([](PyObject*, Producer& p) { Py_XDECREF(p.guard); });
  producers_.clear();
  view_ranges_.clear();
  pinned_.clear();
  pinned_head_ = 0;
}

void Session::fail(const char* event, const char* what) noexcept {
  try {
    failed_ = true;
    std::string message = std::string("the tracer's hook failed in a ") + event + " event: " + what;
    if (failure_.empty()) failure_ = message;
    if (diagnostics_.size() < 16 && std::find(diagnostics_.begin(), diagnostics_.end(), message) == diagnostics_.end())
      diagnostics_.push_back(std::move(message));
  } catch (...) {
    failed_ = true;  // out of memory while recording it: the flag alone still stops recording
  }
  if (PyErr_Occurred()) PyErr_Clear();
}

std::string Session::owner_module(PyObject* callable, const char* name) {
  if (!name) return {};
  PyObject* modules = PyImport_GetModuleDict();
  PyMethodDef* ml = method_def(callable);
  std::string best;
  PyObject *key, *module;
  Py_ssize_t pos = 0;
  while (PyDict_Next(modules, &pos, &key, &module)) {
    if (!PyModule_Check(module) || !PyUnicode_Check(key)) continue;
    PyObject* dict = PyModule_GetDict(module);  // borrowed, never runs code
    PyObject* found = dict ? PyDict_GetItemString(dict, name) : nullptr;
    if (!found || (found != callable && !(ml && method_def(found) == ml))) continue;
    // The shortest name wins: cv2 rather than cv2.cv2, numpy rather than numpy._core.umath.
    std::string candidate = str_of(key);
    if (!candidate.empty() && (best.empty() || candidate.size() < best.size())) best = std::move(candidate);
  }
  return best;
}

bool Session::is_property_accessor(PyObject* globals, PyCodeObject* code) {
  // Only dictionary reads: the hook must not run Python code (no getattr on user objects).
  const std::string qualname = str_of(code->co_qualname);
  if (!globals || !PyDict_Check(globals) || qualname.find('.') == std::string::npos ||
      qualname.find('<') != std::string::npos)
    return false;
  size_t start = 0;
  PyObject* owner = nullptr;  // borrowed
  PyObject* attribute = nullptr;
  while (true) {
    const size_t dot = qualname.find('.', start);
    const std::string part = qualname.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!owner) {
      owner = PyDict_GetItemString(globals, part.c_str());
    } else {
      if (!PyType_Check(owner)) return false;
      PyObject* dict = reinterpret_cast<PyTypeObject*>(owner)->tp_dict;
      PyObject* item = dict ? PyDict_GetItemString(dict, part.c_str()) : nullptr;
      if (dot == std::string::npos) attribute = item;
      owner = item;
    }
    if (!owner || dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!attribute || !PyObject_TypeCheck(attribute, &PyProperty_Type)) return false;
  for (const char* accessor : {"fget", "fset", "fdel"}) {
    PyObject* fn = PyObject_GetAttrString(attribute, accessor);  // a C member of property objects
    if (!fn) {
      PyErr_Clear();
      continue;
    }
    const bool same = PyFunction_Check(fn) && PyFunction_GET_CODE(fn) == reinterpret_cast<PyObject*>(code);
    Py_DECREF(fn);
    if (same) return true;
  }
  return false;
}

void Session::clear() {
  release_producers();
  for (FunctionInfo& info : function_store_) {
    Py_XDECREF(info.code);
    Py_XDECREF(info.callable);
  }
  functions_.clear();
  function_store_.clear();
  forget_type_facts();
  recent_functions_.fill({});
  for (PyObject* c : site_codes_) Py_DECREF(c);
  site_codes_.clear();
  tree_.clear();
  keys_.clear();
  for (auto& ts : threads_) ts->spans.clear();
  span_count_ = 0;
  dropped_spans_ = 0;
}

}  // namespace codedag::bindings::tracehook
