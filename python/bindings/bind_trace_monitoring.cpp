// Python 3.12+: the hook is a set of sys.monitoring callbacks (PEP 669) that are C functions
// (METH_FASTCALL builtins), so no Python-level code runs per event. sys.monitoring is
// interpreter-wide: every thread is traced, including threads already running when tracing starts.
// The tool slot is sys.monitoring.PROFILER_ID, and event numbers are read from sys.monitoring.events
// at attach time rather than compiled in.
//
// Events map onto the session's call/return model the way CPython's own sys.setprofile emulation
// (Python/legacy_tracing.c) maps them: PY_START, PY_RESUME and PY_THROW enter a frame; PY_RETURN,
// PY_YIELD and PY_UNWIND leave it; CALL on a builtin opens a C call that C_RETURN or C_RAISE closes.
#include "bind_trace_frame.hpp"
#include "bind_trace_hook.hpp"

#if PY_VERSION_HEX >= 0x030C0000

#include <array>
#include <string>

#include "codedag/common/error.hpp"

namespace codedag::bindings::tracehook::install {
namespace {

long g_tool = -1;  // the sys.monitoring tool id we hold, -1 when none

// A callback's frame: the one executing now, provided it runs the code the event names (anything
// else means the event is not about a frame we can read, and it is ignored). `py`: the thread's
// state, read once per event (a thread-local read through __tls_get_addr) and handed on.
frames::IFrame* event_frame(PyThreadState* py, PyObject* code) {
  frames::IFrame* f = frames::current(py);
  return f && reinterpret_cast<PyObject*>(frames::code(f)) == code ? f : nullptr;
}

bool is_builtin(PyObject* callable) { return PyCFunction_Check(callable) || Py_IS_TYPE(callable, &PyMethodDescr_Type); }

// Every callback receives (code, instruction_offset, ...). They never raise: an exception from a
// monitoring callback would disable the tool for the rest of the run.
PyObject* enter(PyObject*, PyObject* const* args, Py_ssize_t n) {
  if (Session* s = Session::installed(); s && n >= 2) {
    const int64_t now = now_ns();
    s->count_event();
    PyThreadState* py = PyThreadState_Get();
    if (frames::IFrame* f = event_frame(py, args[0])) s->guarded(py, "call", [&] { s->on_call(py, f, now); });
  }
  Py_RETURN_NONE;
}

PyObject* leave_with_value(PyObject*, PyObject* const* args, Py_ssize_t n) {  // PY_RETURN, PY_YIELD
  if (Session* s = Session::installed(); s && n >= 3) {
    const int64_t now = now_ns();
    s->count_event();
    PyThreadState* py = PyThreadState_Get();
    if (frames::IFrame* f = event_frame(py, args[0]))
      s->guarded(py, "return", [&] { s->on_return(py, f, args[2], now); });
  }
  Py_RETURN_NONE;
}

PyObject* unwind(PyObject*, PyObject* const* args, Py_ssize_t n) {  // PY_UNWIND: no value returned
  if (Session* s = Session::installed(); s && n >= 2) {
    const int64_t now = now_ns();
    s->count_event();
    PyThreadState* py = PyThreadState_Get();
    if (frames::IFrame* f = event_frame(py, args[0]))
      s->guarded(py, "unwind", [&] { s->on_return(py, f, nullptr, now); });
  }
  Py_RETURN_NONE;
}

PyObject* call(PyObject*, PyObject* const* args, Py_ssize_t n) {  // CALL: (code, offset, callable, arg0)
  if (n < 3 || !is_builtin(args[2])) Py_RETURN_NONE;              // Python callees arrive as PY_START
  if (Session* s = Session::installed()) {
    const int64_t now = now_ns();
    s->count_event();
    PyThreadState* py = PyThreadState_Get();
    s->guarded(py, "builtin call", [&] { s->on_c_call(py, args[2], now); });
  }
  Py_RETURN_NONE;
}

PyObject* c_exit(PyObject*, PyObject* const* args, Py_ssize_t n) {  // C_RETURN, C_RAISE
  if (n < 3 || !is_builtin(args[2])) Py_RETURN_NONE;
  if (Session* s = Session::installed()) {
    const int64_t now = now_ns();
    s->count_event();
    PyThreadState* py = PyThreadState_Get();
    s->guarded(py, "builtin return", [&] { s->on_c_return(py, args[2], now); });
  }
  Py_RETURN_NONE;
}

template <PyObject* (*F)(PyObject*, PyObject* const*, Py_ssize_t)>
PyMethodDef method(const char* name) {
  return {name, reinterpret_cast<PyCFunction>(reinterpret_cast<void*>(F)), METH_FASTCALL, nullptr};
}

struct Hook {
  const char* event;  // attribute of sys.monitoring.events
  PyMethodDef def;
};

std::array<Hook, 9>& hooks() {
  static std::array<Hook, 9> h = {{
      {"PY_START", method<enter>("_codedag_py_start")},
      {"PY_RESUME", method<enter>("_codedag_py_resume")},
      {"PY_THROW", method<enter>("_codedag_py_throw")},
      {"PY_RETURN", method<leave_with_value>("_codedag_py_return")},
      {"PY_YIELD", method<leave_with_value>("_codedag_py_yield")},
      {"PY_UNWIND", method<unwind>("_codedag_py_unwind")},
      {"CALL", method<call>("_codedag_call")},
      {"C_RETURN", method<c_exit>("_codedag_c_return")},
      {"C_RAISE", method<c_exit>("_codedag_c_raise")},
  }};
  return h;
}

// sys.monitoring, or a SystemCallError naming what is missing (a Python built without it).
PyObject* monitoring() {
  PyObject* m = PySys_GetObject("monitoring");  // borrowed
  if (!m) throw SystemCallError("sys.monitoring is missing from this Python; the tracer needs it on 3.12+");
  return m;
}

long event_number(PyObject* events, const char* name) {
  PyObject* v = PyObject_GetAttrString(events, name);
  const long n = v ? PyLong_AsLong(v) : -1;
  Py_XDECREF(v);
  if (n <= 0) {
    PyErr_Clear();
    throw SystemCallError(std::string("sys.monitoring.events.") + name +
                          " is missing or not a positive number; this Python's sys.monitoring differs from PEP 669");
  }
  return n;
}

// Calls sys.monitoring.<name>(args...); false (error cleared) when it raised.
template <class... A>
bool call_monitoring(const char* name, const char* format, A... args) {
  PyObject* r = PyObject_CallMethod(monitoring(), name, format, args...);
  if (!r) {
    PyErr_Clear();
    return false;
  }
  Py_DECREF(r);
  return true;
}

// Unregisters everything and frees the tool slot (also used when attaching fails half way).
void release_tool() {
  if (g_tool < 0) return;
  PyObject* m = PySys_GetObject("monitoring");
  if (m) {
    call_monitoring("set_events", "li", g_tool, 0);
    if (PyObject* events = PyObject_GetAttrString(m, "events")) {
      for (const Hook& h : hooks()) {
        PyObject* v = PyObject_GetAttrString(events, h.event);
        const long ev = v ? PyLong_AsLong(v) : -1;
        Py_XDECREF(v);
        if (ev > 0) call_monitoring("register_callback", "llO", g_tool, ev, Py_None);
      }
      Py_DECREF(events);
    }
    call_monitoring("free_tool_id", "l", g_tool);
  }
  PyErr_Clear();
  g_tool = -1;
}

std::string holder_of(long tool) {
  PyObject* name = PyObject_CallMethod(monitoring(), "get_tool", "l", tool);
  std::string s = name ? str_of(name) : std::string();
  Py_XDECREF(name);
  PyErr_Clear();
  return s.empty() ? "another tool" : "'" + s + "'";
}

}  // namespace

const char* mechanism() { return "sys.monitoring"; }

// Registers every callback and turns the events on; StateError when the profiler slot is taken.
static void attach_callbacks() {
  PyThreadState* ts = PyThreadState_Get();
  if (ts->c_profilefunc != nullptr)
    throw StateError(
        "another profiler (sys.setprofile / a debugger) is installed on this thread; CodeDAG's tracer cannot "
        "run under it — disable it first");
  PyObject* m = monitoring();
  PyObject* id = PyObject_GetAttrString(m, "PROFILER_ID");
  const long tool = id ? PyLong_AsLong(id) : 2;
  Py_XDECREF(id);
  PyErr_Clear();
  if (!call_monitoring("use_tool_id", "ls", tool, "codedag"))
    throw StateError("sys.monitoring's profiler slot (tool " + std::to_string(tool) + ") is held by " +
                     holder_of(tool) +
                     " (cProfile, a debugger or another profiler); CodeDAG's tracer cannot run under it — "
                     "disable it first");
  g_tool = tool;
  PyObject* events = PyObject_GetAttrString(m, "events");
  if (!events) {
    PyErr_Clear();
    release_tool();
    throw SystemCallError("sys.monitoring.events is missing; this Python's sys.monitoring differs from PEP 669");
  }
  long mask = 0;
  try {
    for (Hook& h : hooks()) {
      const long ev = event_number(events, h.event);
      PyObject* fn = PyCFunction_New(&h.def, nullptr);
      const bool ok = fn && call_monitoring("register_callback", "llO", g_tool, ev, fn);
      Py_XDECREF(fn);
      if (!ok) throw SystemCallError(std::string("sys.monitoring refused a callback for ") + h.event);
      mask |= ev;
    }
    if (!call_monitoring("set_events", "ll", g_tool, mask))
      throw SystemCallError("sys.monitoring.set_events refused the tracer's events");
  } catch (...) {
    Py_DECREF(events);
    release_tool();
    throw;
  }
  Py_DECREF(events);
}

void attach(Session&) { attach_callbacks(); }
void attach_floor() { attach_callbacks(); }  // no session installed: every callback returns at once
void detach_floor() { release_tool(); }

void detach() { release_tool(); }

// The child inherited the interpreter's monitoring state, callbacks and all: release the slot so
// the worker can start its own session (the parent's session object is never called).
void forget_after_fork() { release_tool(); }

}  // namespace codedag::bindings::tracehook::install

#endif  // 3.12+
