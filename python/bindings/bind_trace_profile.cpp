// Python 3.11: the hook is a PyEval_SetProfile C callback. It sees Python calls and returns
// (generator resumes and yields included) and builtin (C) calls, on the thread that installed it;
// threads started while tracing get it through threading's profile hook. Threads already running
// when tracing starts are not seen: 3.11 has no interpreter-wide hook.
#include "bind_trace_frame.hpp"
#include "bind_trace_hook.hpp"

#if PY_VERSION_HEX < 0x030C0000

#include "codedag/common/error.hpp"

namespace codedag::bindings::tracehook::install {
namespace {

PyObject* g_saved_thread_hook = nullptr;  // threading._profile_hook before we replaced it (strong)

int profile_callback(PyObject* obj, PyFrameObject* frame, int what, PyObject* arg) {
  Session* s = Session::installed();
  if (!s || obj != s->self_object()) {  // a hook left behind in another thread by a stopped session
    PyEval_SetProfile(nullptr, nullptr);
    return 0;
  }
  const int64_t now = now_ns();
  s->count_event();
  switch (what) {
    case PyTrace_CALL:
      s->on_call(frame->f_frame, now);
      break;
    case PyTrace_RETURN:
      s->on_return(frame->f_frame, arg, now);
      break;
    case PyTrace_C_CALL:
      s->on_c_call(arg, now);
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

// What threading.setprofile installs in each new thread: it swaps itself for the C hook.
PyObject* thread_hook(PyObject*, PyObject* const*, Py_ssize_t) {
  if (Session* s = Session::installed()) PyEval_SetProfile(&profile_callback, s->self_object());
  Py_RETURN_NONE;
}

void set_thread_hook(PyObject* hook) {
  PyObject* threading = PyImport_ImportModule("threading");
  if (!threading) {
    PyErr_Clear();
    return;
  }
  if (PyObject_SetAttrString(threading, "_profile_hook", hook) < 0) PyErr_Clear();
  Py_DECREF(threading);
}

}  // namespace

const char* mechanism() { return "PyEval_SetProfile"; }

void attach(Session& s) {
  PyThreadState* ts = PyThreadState_Get();
  if (ts->c_profilefunc != nullptr && ts->c_profilefunc != &profile_callback)
    throw StateError(
        "another profiler (sys.setprofile / cProfile / a debugger) is installed on this thread; CodeDAG's "
        "tracer cannot run under it — disable it first");
  PyEval_SetProfile(&profile_callback, s.self_object());
  // New threads: threading calls sys.setprofile(hook) in each thread it starts.
  if (PyObject* threading = PyImport_ImportModule("threading")) {
    Py_XDECREF(g_saved_thread_hook);
    g_saved_thread_hook = PyObject_GetAttrString(threading, "_profile_hook");
    if (!g_saved_thread_hook) PyErr_Clear();
    Py_DECREF(threading);
  } else {
    PyErr_Clear();
  }
  static PyMethodDef def = {"_codedag_thread_hook",
                            reinterpret_cast<PyCFunction>(reinterpret_cast<void*>(&thread_hook)), METH_FASTCALL,
                            nullptr};
  if (PyObject* hook = PyCFunction_New(&def, nullptr)) {
    set_thread_hook(hook);
    Py_DECREF(hook);
  } else {
    PyErr_Clear();
  }
}

void detach() {
  PyEval_SetProfile(nullptr, nullptr);
  set_thread_hook(g_saved_thread_hook ? g_saved_thread_hook : Py_None);
  Py_CLEAR(g_saved_thread_hook);
}

void forget_after_fork() {
  PyEval_SetProfile(nullptr, nullptr);
  set_thread_hook(g_saved_thread_hook ? g_saved_thread_hook : Py_None);
  Py_CLEAR(g_saved_thread_hook);
}

}  // namespace codedag::bindings::tracehook::install

#endif  // 3.11
