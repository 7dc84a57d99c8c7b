// Python 3.11: the hook is a PyEval_SetProfile C callback. It sees Python calls and returns
// (generator resumes and yields included) and builtin (C) calls. 3.11 sets it per thread: on attach
// it goes onto every thread of the interpreter (what 3.12's PyEval_SetProfileAllThreads does, with
// the private _PyEval_SetProfile; the other threads are parked on the GIL we hold), and threads
// started while tracing get it through threading's profile hook.
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
  PyThreadState* py = PyThreadState_Get();  // 3.11: an atomic load, no thread-local
  switch (what) {
    case PyTrace_CALL:
      s->guarded(py, "call", [&] { s->on_call(py, frame->f_frame, now); });
      break;
    case PyTrace_RETURN:
      s->guarded(py, "return", [&] { s->on_return(py, frame->f_frame, arg, now); });
      break;
    case PyTrace_C_CALL:
      s->guarded(py, "builtin call", [&] { s->on_c_call(py, arg, now); });
      break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
      s->guarded(py, "builtin return", [&] { s->on_c_return(py, arg, now); });
      break;
    default:
      break;
  }
  return 0;  // guarded() left no error set: the hook never changes the traced program's exceptions
}

// What threading.setprofile installs in each new thread: it swaps itself for the C hook.
PyObject* thread_hook(PyObject*, PyObject* const*, Py_ssize_t) {
  if (Session* s = Session::installed()) PyEval_SetProfile(&profile_callback, s->self_object());
  Py_RETURN_NONE;
}

template <class F>
void for_each_thread(F&& f) {
  for (PyThreadState* t = PyInterpreterState_ThreadHead(PyThreadState_Get()->interp); t; t = PyThreadState_Next(t))
    f(t);
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
  // Running threads: those with a profiler of their own keep it (and are not traced).
  for_each_thread([&](PyThreadState* t) {
    if (t->c_profilefunc != nullptr && t->c_profilefunc != &profile_callback) return;
    if (_PyEval_SetProfile(t, &profile_callback, s.self_object()) < 0) PyErr_Clear();
  });
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
  for_each_thread([](PyThreadState* t) {
    if (t->c_profilefunc == &profile_callback && _PyEval_SetProfile(t, nullptr, nullptr) < 0) PyErr_Clear();
  });
  set_thread_hook(g_saved_thread_hook ? g_saved_thread_hook : Py_None);
  Py_CLEAR(g_saved_thread_hook);
}

namespace {
int floor_callback(PyObject*, PyFrameObject*, int, PyObject*) { return 0; }
}  // namespace

void attach_floor() { PyEval_SetProfile(&floor_callback, nullptr); }
void detach_floor() { PyEval_SetProfile(nullptr, nullptr); }

void forget_after_fork() {
  PyEval_SetProfile(nullptr, nullptr);
  set_thread_hook(g_saved_thread_hook ? g_saved_thread_hook : Py_None);
  Py_CLEAR(g_saved_thread_hook);
}

}  // namespace codedag::bindings::tracehook::install

#endif  // 3.11
