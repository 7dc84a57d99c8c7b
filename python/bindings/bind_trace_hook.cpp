// The profiling hook: per-event work of the tracer (see bind_trace_hook.hpp). Python 3.11 uses
// PyEval_SetProfile, whose C callback receives call/return events for Python frames and for builtin
// (C) functions; threads started while tracing get the hook through threading.setprofile.
// Python 3.12+ would use sys.monitoring (see bind_trace_monitoring.cpp) — this file is the 3.11 path.
#include "bind_trace_hook.hpp"

// The hook reads 3.11's private frame layout (_PyInterpreterFrame, cframe, c_profilefunc), which
// changed in 3.12; the sys.monitoring hook for 3.12+ is not written yet. Fail the build with a
// reason rather than miscompile against another layout. pyproject.toml pins requires-python to match.
#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "CodeDAG's tracer hook supports CPython 3.11 only for now (sys.monitoring for 3.12+ is not written yet)"
#endif

#define Py_BUILD_CORE 1
#include <internal/pycore_code.h>   // _PyLocals_GetKind, CO_FAST_CELL
#include <internal/pycore_frame.h>  // _PyInterpreterFrame: read arguments without materialising locals
#undef Py_BUILD_CORE

#include <unistd.h>

#include <chrono>

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

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

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

// The thread hook threading.setprofile installs in new threads: it swaps itself for the C hook.
PyObject* thread_hook(PyObject*, PyObject* const*, Py_ssize_t) {
  if (Session* s = Session::installed()) PyEval_SetProfile(&Session::profile_callback, s->self_object());
  Py_RETURN_NONE;
}

}  // namespace

Session* Session::installed() { return g_installed; }

Session::Session(SessionConfig config) : config_(std::move(config)) {
  nbytes_name_ = PyUnicode_InternFromString("nbytes");
  pid_ = static_cast<int64_t>(::getpid());
  pinned_.reserve(64);
}

Session::~Session() {
  if (g_installed == this) stop();
  clear();
  Py_XDECREF(nbytes_name_);
  Py_XDECREF(covered_);
  Py_XDECREF(saved_thread_hook_);
}

bool Session::active() const { return g_installed == this; }

void Session::refresh_types() {
  PyObject* modules = PyImport_GetModuleDict();
  auto find_type = [&](const char* module, const char* name) -> PyObject* {
    PyObject* m = PyDict_GetItemString(modules, module);
    if (!m) return nullptr;
    PyObject* t = PyObject_GetAttrString(m, name);
    if (!t) {
      PyErr_Clear();
      return nullptr;
    }
    Py_DECREF(t);  // the module keeps the type alive for the life of the process
    return PyType_Check(t) ? t : nullptr;
  };
  if (!tensor_type_) tensor_type_ = find_type("torch", "Tensor");
  if (!ndarray_type_) ndarray_type_ = find_type("numpy", "ndarray");
  if (!pil_type_) pil_type_ = find_type("PIL.Image", "Image");
}

void Session::start(PyObject* self) {
  if (g_installed == this) throw StateError("this tracer is already tracing; stop() it before start() again");
  if (g_installed)
    throw StateError(
        "another CodeDAG tracer is already active in this process; stop it (or use nested "
        "tracing_context() of the same tracer) before starting a second one");
  PyThreadState* ts = PyThreadState_Get();
  if (ts->c_profilefunc != nullptr && ts->c_profilefunc != &Session::profile_callback)
    throw StateError(
        "another profiler (sys.setprofile / cProfile / a debugger) is installed on this thread; CodeDAG's "
        "tracer cannot run under it — disable it first");
  refresh_types();
  self_ = self;
  generation_ = ++g_generation;
  g_installed = this;
  PyEval_SetProfile(&Session::profile_callback, self_);
  // New threads: threading calls sys.setprofile(hook) in each thread it starts.
  PyObject* threading = PyImport_ImportModule("threading");
  if (threading) {
    Py_XDECREF(saved_thread_hook_);
    saved_thread_hook_ = PyObject_GetAttrString(threading, "_profile_hook");
    if (!saved_thread_hook_) PyErr_Clear();
    static PyMethodDef def = {"_codedag_thread_hook",
                              reinterpret_cast<PyCFunction>(reinterpret_cast<void*>(&thread_hook)), METH_FASTCALL,
                              nullptr};
    PyObject* hook = PyCFunction_New(&def, nullptr);
    if (hook) {
      if (PyObject_SetAttrString(threading, "_profile_hook", hook) < 0) PyErr_Clear();
      Py_DECREF(hook);
    }
    Py_DECREF(threading);
  } else {
    PyErr_Clear();
  }
}

void Session::stop() {
  if (g_installed != this) return;
  const int64_t now = now_ns();
  PyEval_SetProfile(nullptr, nullptr);
  g_installed = nullptr;
  PyObject* threading = PyImport_ImportModule("threading");
  if (threading) {
    PyObject* restore = saved_thread_hook_ ? saved_thread_hook_ : Py_None;
    if (PyObject_SetAttrString(threading, "_profile_hook", restore) < 0) PyErr_Clear();
    Py_DECREF(threading);
  } else {
    PyErr_Clear();
  }
  for (auto& ts : threads_) close(*ts, now);
  if (stream_) flush_stream(false);
  // Values are followed for the life of the traced block only; functions are named now so the
  // session stops holding function objects (and through their globals, possibly its own owner).
  release_producers();
  for (auto& [key, f] : functions_) {
    ensure_named(*f);
    Py_CLEAR(f->callable);
  }
}

void Session::discard_after_fork() {
  // The child inherited the parent's hook and session memory; the parent still owns that session.
  if (g_installed) PyEval_SetProfile(nullptr, nullptr);
  g_installed = nullptr;
  t_state = nullptr;
  t_generation = 0;
}

ThreadState& Session::thread_state() {
  if (t_generation != generation_ || !t_state) {
    threads_.push_back(std::make_unique<ThreadState>());
    t_state = threads_.back().get();
    t_state->tid = static_cast<int64_t>(PyThread_get_thread_native_id());
    t_state->stack.reserve(256);
    t_state->spans.reserve(1 << 16);
    t_generation = generation_;
  }
  return *t_state;
}

int Session::profile_callback(PyObject* obj, PyFrameObject* frame, int what, PyObject* arg) {
  Session* s = g_installed;
  if (!s || obj != s->self_) {  // a hook left behind in another thread by a stopped session
    PyEval_SetProfile(nullptr, nullptr);
    return 0;
  }
  const int64_t now = now_ns();
  ++s->events_;
  switch (what) {
    case PyTrace_CALL:
      s->on_call(frame, now);
      break;
    case PyTrace_RETURN:
      s->on_return(frame, arg, now);
      break;
    case PyTrace_C_CALL:
      s->on_c_call(frame, arg, now);
      break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
      s->on_c_return(arg, now);
      break;
    default:
      break;
  }
  if (PyErr_Occurred()) PyErr_Clear();  // the hook never changes the traced program's exceptions
  return 0;
}

FunctionInfo* Session::python_info(PyFrameObject* frame) {
  PyCodeObject* code = frame->f_frame->f_code;
  if (code == last_key_) return last_info_;
  auto it = functions_.find(code);
  if (it == functions_.end()) {
    auto info = std::make_unique<FunctionInfo>();
    info->id = reinterpret_cast<uint64_t>(code);
    info->code = reinterpret_cast<PyObject*>(code);
    Py_INCREF(info->code);
    PyObject* globals = frame->f_frame->f_globals;
    PyObject* modname = globals ? PyDict_GetItemString(globals, "__name__") : nullptr;
    info->module = modname ? str_of(modname) : std::string();
    info->name = str_of(code->co_qualname);
    info->qualname = info->module.empty() ? info->name : info->module + "." + info->name;
    info->file = str_of(code->co_filename);
    info->line = code->co_firstlineno;
    info->decision = config_.rules.python(info->file, info->module, info->name, str_of(code->co_name));
    info->bookkeeping = str_of(code->co_name) == "__len__";
    info->nargs = code->co_argcount + code->co_kwonlyargcount + ((code->co_flags & CO_VARARGS) ? 1 : 0) +
                  ((code->co_flags & CO_VARKEYWORDS) ? 1 : 0);
    if (code->co_argcount > 0) {
      const std::string first = str_of(PyTuple_GET_ITEM(code->co_localsplusnames, 0));
      info->skip_first = first == "self" || first == "cls";
    }
    if (frame->f_frame->f_func && active()) {
      info->callable = reinterpret_cast<PyObject*>(frame->f_frame->f_func);
      Py_INCREF(info->callable);
    }
    if (!tensor_type_ || !ndarray_type_ || !pil_type_) refresh_types();
    by_id_[info->id] = info.get();
    it = functions_.emplace(code, std::move(info)).first;
  }
  last_key_ = code;
  last_info_ = it->second.get();
  return last_info_;
}

FunctionInfo* Session::builtin_info(PyObject* func) {
  if (!PyCFunction_Check(func)) return nullptr;
  PyMethodDef* ml = reinterpret_cast<PyCFunctionObject*>(func)->m_ml;
  auto it = functions_.find(ml);
  if (it != functions_.end()) return it->second.get();
  auto info = std::make_unique<FunctionInfo>();
  info->id = reinterpret_cast<uint64_t>(ml);
  info->builtin = true;
  PyObject* self = PyCFunction_GET_SELF(func);
  PyObject* module = reinterpret_cast<PyCFunctionObject*>(func)->m_module;
  const std::string method = ml->ml_name ? ml->ml_name : "?";
  if (module && PyUnicode_Check(module)) {
    info->module = str_of(module);
    info->name = method;
  } else if (self && PyModule_Check(self)) {
    info->module = PyModule_GetName(self) ? PyModule_GetName(self) : "";
    PyErr_Clear();
    info->name = method;
  } else if (self) {
    PyObject* type = PyType_Check(self) ? self : reinterpret_cast<PyObject*>(Py_TYPE(self));
    info->module = attr_str(type, "__module__");
    info->name = attr_str(type, "__qualname__") + "." + method;
  } else {
    info->module = "builtins";
    info->name = method;
  }
  info->qualname = info->module.empty() ? info->name : info->module + "." + info->name;
  info->decision = config_.rules.builtin(info->module, info->name);
  info->callable = func;
  Py_INCREF(func);
  by_id_[info->id] = info.get();
  return functions_.emplace(ml, std::move(info)).first->second.get();
}

void Session::push(ThreadState& ts, const void* key, FunctionInfo* info, int32_t ctx, trace::CallSite, int64_t now,
                   bool builtin) {
  Frame f;
  f.key = key;
  f.start = now;
  f.builtin = builtin;
  f.library = info && info->decision.library;
  f.user = info && info->decision.user;
  if (!ts.stack.empty()) {
    const Frame& top = ts.stack.back();
    f.anc = top.anc;
    f.anc_pos = top.anc_pos;
    f.up_pos = top.anc_pos;
    f.beyond = top.beyond;
  }
  if (ctx >= 0) {
    f.ctx = ctx;
    f.anc = ctx;
    f.anc_pos = static_cast<int32_t>(ts.stack.size());
  }
  ts.stack.push_back(f);
}

namespace {
// The frame's caller, as a call site: (its code object, its instruction offset).
trace::CallSite caller_site(_PyInterpreterFrame* caller) {
  if (!caller) return {};
  return {reinterpret_cast<uint64_t>(caller->f_code), _PyInterpreterFrame_LASTI(caller)};
}
}  // namespace

void Session::on_call(PyFrameObject* frame, int64_t now) {
  ThreadState& ts = thread_state();
  FunctionInfo* info = python_info(frame);
  const Frame* top = ts.stack.empty() ? nullptr : &ts.stack.back();
  const int32_t anc = top ? top->anc : -1;
  const bool caller_library = top ? top->library : false;
  const bool caller_user = top ? top->user : true;
  const trace::Decision& d = info->decision;
  if (anc >= 0 && caller_user && d.third_party) tree_.add_lib_call(anc, info->id);
  int32_t ctx = -1;
  const int depth = anc < 0 ? 1 : tree_[anc].depth + 1;
  const bool beyond = (top && top->beyond) || (d.record && depth > config_.max_depth);
  // Library code is a context when user code calls it, or when a recorded library call (a
  // transform container such as Compose) calls a step's __call__/forward.
  const bool in_recorded_library =
      caller_library && top->anc_pos >= 0 && ts.stack[static_cast<size_t>(top->anc_pos)].library;
  const bool caller_machinery = top && !top->library && !top->user;
  bool wanted = !d.library || caller_user || (in_recorded_library && d.transform_step);
  // DataLoader bookkeeping (samplers asking the Dataset for its length) is not the pipeline.
  if (caller_machinery && info->bookkeeping) wanted = false;
  if (d.record && !beyond && wanted) {
    const trace::CallSite site = caller_site(frame->f_frame->previous);
    const size_t before = tree_.size();
    ctx = tree_.child(anc, info->id, site, false);
    if (tree_.size() != before && site.code) {
      site_codes_.push_back(reinterpret_cast<PyObject*>(site.code));
      Py_INCREF(site_codes_.back());
    }
    take_args(frame, *info, ctx, anc);
  }
  push(ts, frame, info, ctx, {}, now, false);
  if (beyond) ts.stack.back().beyond = true;
}

void Session::close(ThreadState& ts, int64_t now) {
  // Calls still open when tracing stops: their time so far is real and is kept.
  while (!ts.stack.empty()) {
    Frame f = ts.stack.back();
    ts.stack.pop_back();
    if (f.ctx < 0) continue;
    const int64_t dur = now - f.start;
    auto& st = tree_[f.ctx].stats;
    st.calls += 1;
    st.total_ns += dur;
    st.child_ns += f.child_ns;
    if (f.up_pos >= 0 && static_cast<size_t>(f.up_pos) < ts.stack.size()) ts.stack[f.up_pos].child_ns += dur;
  }
}

void Session::on_return(PyFrameObject* frame, PyObject* value, int64_t now) {
  ThreadState& ts = thread_state();
  if (ts.stack.empty()) return;  // a frame entered before tracing started
  // Builtin frames left open (should not happen) and mismatches: find this frame near the top.
  size_t pos = ts.stack.size();
  for (size_t k = ts.stack.size(); k-- > 0 && ts.stack.size() - k <= 4;)
    if (ts.stack[k].key == frame) {
      pos = k;
      break;
    }
  if (pos == ts.stack.size()) return;
  while (ts.stack.size() > pos + 1) ts.stack.pop_back();
  const Frame f = ts.stack.back();
  ts.stack.pop_back();
  if (f.ctx < 0) return;
  const int64_t dur = now - f.start;
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
    ts.spans.push_back({f.ctx, f.start, dur});
    ++span_count_;
  } else {
    ++dropped_spans_;
  }
  if (stream_ && tree_[f.ctx].depth == 1) flush_stream(false);
}

void Session::on_c_call(PyFrameObject*, PyObject* func, int64_t now) {
  ThreadState& ts = thread_state();
  FunctionInfo* info = builtin_info(func);
  const Frame* top = ts.stack.empty() ? nullptr : &ts.stack.back();
  const int32_t anc = top ? top->anc : -1;
  if (!info) {
    push(ts, func, nullptr, -1, {}, now, true);
    return;
  }
  const trace::Decision& d = info->decision;
  const bool caller_user = top ? top->user : true;
  if (anc >= 0 && caller_user && d.third_party) tree_.add_lib_call(anc, info->id);
  int32_t ctx = -1;
  const int depth = anc < 0 ? 1 : tree_[anc].depth + 1;
  const bool beyond = (top && top->beyond) || (d.record && depth > config_.max_depth);
  if (d.record && !beyond && (caller_user || d.transform_step)) {
    // The C call is made by the frame on top of the interpreter's stack.
    PyThreadState* tstate = PyThreadState_Get();
    const trace::CallSite site = caller_site(tstate->cframe->current_frame);
    const size_t before = tree_.size();
    ctx = tree_.child(anc, info->id, site, true);
    if (tree_.size() != before && site.code) {
      site_codes_.push_back(reinterpret_cast<PyObject*>(site.code));
      Py_INCREF(site_codes_.back());
    }
  }
  push(ts, reinterpret_cast<PyCFunctionObject*>(func)->m_ml, info, ctx, {}, now, true);
  Frame& pushed = ts.stack.back();
  if (beyond) pushed.beyond = true;
  if (ctx < 0 && top) {  // a folded builtin (len, map, sorted) acts for its caller
    const Frame& caller = ts.stack[ts.stack.size() - 2];
    pushed.library = caller.library;
    pushed.user = caller.user;
  }
}

void Session::on_c_return(PyObject* func, int64_t now) {
  ThreadState& ts = thread_state();
  if (ts.stack.empty() || !ts.stack.back().builtin) return;
  const void* key = PyCFunction_Check(func) ? static_cast<const void*>(reinterpret_cast<PyCFunctionObject*>(func)->m_ml)
                                            : static_cast<const void*>(func);
  if (ts.stack.back().key != key) return;
  const Frame f = ts.stack.back();
  ts.stack.pop_back();
  if (f.ctx < 0) return;
  const int64_t dur = now - f.start;
  auto& st = tree_[f.ctx].stats;
  st.calls += 1;
  st.total_ns += dur;
  if (f.up_pos >= 0) ts.stack[static_cast<size_t>(f.up_pos)].child_ns += dur;
  if (span_count_ < config_.max_spans) {
    ts.spans.push_back({f.ctx, f.start, dur});
    ++span_count_;
  } else {
    ++dropped_spans_;
  }
}

// ---- values: types, bytes, producers ------------------------------------------------------------

namespace {
// Scalars and singletons are shared by unrelated code (small ints, interned strings): following
// them by identity would invent edges, so they are not data for the DAG.
bool trackable(PyObject* v) {
  return !(v == Py_None || PyBool_Check(v) || PyLong_CheckExact(v) || PyFloat_CheckExact(v) ||
           PyUnicode_CheckExact(v) || PyType_Check(v) || PyModule_Check(v) || PyFunction_Check(v) ||
           PyCFunction_Check(v) || PyMethod_Check(v));
}
bool is_container(PyObject* v) { return PyTuple_CheckExact(v) || PyList_CheckExact(v) || PyDict_CheckExact(v); }
constexpr Py_ssize_t kMaxElements = 256;  // one level into containers, bounded

// Calls f(item) for the first kMaxElements values of a tuple, list or dict (dict: its values).
// A template, so the per-event walk inlines like the loops it replaces.
template <class F>
void for_each_element(PyObject* container, F&& f) {
  if (PyDict_CheckExact(container)) {
    Py_ssize_t pos = 0, seen = 0;
    PyObject *k, *item;
    while (PyDict_Next(container, &pos, &k, &item) && seen++ < kMaxElements) f(item);
  } else {
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(container);
    PyObject** items = PySequence_Fast_ITEMS(container);
    for (Py_ssize_t i = 0; i < n && i < kMaxElements; ++i) f(items[i]);
  }
}
}  // namespace

uint32_t Session::classify(PyObject* v) const {
  using namespace trace;
  PyTypeObject* t = Py_TYPE(v);
  if (v == Py_None) return kNone;
  if (t == &PyBool_Type) return kBool;
  if (t == &PyLong_Type) return kInt;
  if (t == &PyFloat_Type) return kFloat;
  if (t == &PyUnicode_Type) return kStr;
  if (t == &PyTuple_Type) return kTuple;
  if (t == &PyList_Type) return kList;
  if (t == &PyDict_Type) return kDict;
  if (t == &PyBytes_Type || t == &PyByteArray_Type) return kBytes;
  if (tensor_type_ && PyObject_TypeCheck(v, reinterpret_cast<PyTypeObject*>(tensor_type_))) return kTensor;
  if (ndarray_type_ && PyObject_TypeCheck(v, reinterpret_cast<PyTypeObject*>(ndarray_type_))) return kNdarray;
  if (pil_type_ && PyObject_TypeCheck(v, reinterpret_cast<PyTypeObject*>(pil_type_))) return kPilImage;
  if (PyLong_Check(v)) return kInt;
  if (PyFloat_Check(v)) return kFloat;
  if (PyUnicode_Check(v)) return kStr;
  return kOther;
}

double Session::value_bytes(PyObject* v) const {
  if (!config_.track_memory) return 0;
  PyTypeObject* t = Py_TYPE(v);
  if (t == &PyBytes_Type) return static_cast<double>(PyBytes_GET_SIZE(v));
  if (t == &PyByteArray_Type) return static_cast<double>(PyByteArray_GET_SIZE(v));
  const bool array = (tensor_type_ && PyObject_TypeCheck(v, reinterpret_cast<PyTypeObject*>(tensor_type_))) ||
                     (ndarray_type_ && PyObject_TypeCheck(v, reinterpret_cast<PyTypeObject*>(ndarray_type_)));
  if (!array) return 0;
  // nbytes is a C getter on both torch.Tensor and numpy.ndarray: no Python frame runs.
  PyObject* n = PyObject_GetAttr(v, nbytes_name_);
  if (!n) {
    PyErr_Clear();
    return 0;
  }
  const double bytes = PyLong_Check(n) ? PyLong_AsDouble(n) : 0;
  Py_DECREF(n);
  if (PyErr_Occurred()) PyErr_Clear();
  return bytes;
}

double Session::edge_bytes(PyObject* v) const {
  if (!config_.track_memory || !is_container(v)) return value_bytes(v);
  double bytes = 0;
  for_each_element(v, [&](PyObject* item) { bytes += value_bytes(item); });
  return bytes;
}

void Session::produce(PyObject* v, int32_t ctx, uint32_t& types, double& bytes, bool nested) {
  types |= classify(v);
  if (!nested && is_container(v)) {
    for_each_element(v, [&](PyObject* item) { produce(item, ctx, types, bytes, true); });
  } else {
    bytes += value_bytes(v);
  }
  if (!trackable(v)) return;
  auto found = producers_.find(v);
  if (found != producers_.end()) {
    Producer& old = found->second;
    if (old.strong || PyWeakref_GET_OBJECT(old.guard) == v) {  // the same live object, passed on
      old.ctx = ctx;
      return;
    }
    Py_DECREF(old.guard);  // a dead object whose address was reused
    producers_.erase(found);
  }
  Producer p;
  p.ctx = ctx;
  if (PyType_SUPPORTS_WEAKREFS(Py_TYPE(v))) {
    p.guard = PyWeakref_NewRef(v, nullptr);
    if (!p.guard) {
      PyErr_Clear();
      return;
    }
  } else {
    // No weakref support (tuples, lists, dicts, bytes): hold the value so its id cannot be reused;
    // a bounded ring forgets the oldest (losing an edge, never inventing one).
    Py_INCREF(v);
    p.guard = v;
    p.strong = true;
    if (pinned_.size() < config_.max_pinned) {
      pinned_.push_back(v);
    } else {
      PyObject* old = pinned_[pinned_head_];
      auto it = producers_.find(old);
      if (it != producers_.end() && it->second.strong && it->second.guard == old) {
        producers_.erase(it);
        Py_DECREF(old);
      }
      pinned_[pinned_head_] = v;
      pinned_head_ = (pinned_head_ + 1) % pinned_.size();
    }
  }
  producers_.emplace(v, p);
}

void Session::take_value(PyObject* v, int32_t ctx, int32_t anc, uint32_t& types, bool nested) {
  types |= classify(v);
  if (!trackable(v)) return;
  auto it = producers_.find(v);
  if (it != producers_.end()) {
    const Producer& p = it->second;
    // A weakref that no longer points at this object means the id was reused: not the producer.
    if (p.strong || PyWeakref_GET_OBJECT(p.guard) == v) {
      tree_.add_flow(p.ctx, ctx, edge_bytes(v));
      return;
    }
  }
  if (!nested && is_container(v)) {
    // An unproduced container (built by the caller): follow what it holds.
    uint32_t inner = 0;
    const int64_t flows_before = tree_.flow_events();
    for_each_element(v, [&](PyObject* item) { take_value(item, ctx, anc, inner, true); });
    types |= inner;
    if (tree_.flow_events() != flows_before) return;
  }
  // Produced by no traced call: attributed to the caller's context.
  if (anc >= 0 && anc != ctx) tree_.add_flow(anc, ctx, edge_bytes(v));
}

void Session::take_args(PyFrameObject* frame, const FunctionInfo& info, int32_t ctx, int32_t anc) {
  _PyInterpreterFrame* f = frame->f_frame;
  PyCodeObject* code = f->f_code;
  uint32_t types = 0;
  for (int i = info.skip_first ? 1 : 0; i < info.nargs; ++i) {
    PyObject* v = f->localsplus[i];
    if (!v) continue;
    // Arguments captured by closures live in cells (after MAKE_CELL): read the cell's content.
    if ((_PyLocals_GetKind(code->co_localspluskinds, i) & CO_FAST_CELL) && PyCell_Check(v)) {
      v = PyCell_GET(v);
      if (!v) continue;
    }
    take_value(v, ctx, anc, types, false);
  }
  tree_[ctx].stats.arg_types |= types;
}

void Session::release_producers() {
  for (auto& [obj, p] : producers_) Py_XDECREF(p.guard);
  producers_.clear();
  pinned_.clear();
  pinned_head_ = 0;
}

void Session::clear() {
  release_producers();
  for (auto& [key, info] : functions_) {
    Py_XDECREF(info->code);
    Py_XDECREF(info->callable);
  }
  functions_.clear();
  by_id_.clear();
  last_key_ = nullptr;
  last_info_ = nullptr;
  for (PyObject* c : site_codes_) Py_DECREF(c);
  site_codes_.clear();
  tree_.clear();
  keys_.clear();
  for (auto& ts : threads_) ts->spans.clear();
  span_count_ = 0;
  dropped_spans_ = 0;
}

}  // namespace codedag::bindings::tracehook
