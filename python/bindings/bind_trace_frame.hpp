#pragma once
// The tracer reads the interpreter's own frames (_PyInterpreterFrame) to get a call's arguments and
// its call site without materialising a frame object or a locals dict: that is what keeps the hook
// free of allocation. The layout is private and changes between minor versions, so every access
// goes through the few accessors below, one definition per supported version. A version not listed
// fails the build with the reason instead of miscompiling against an unknown layout.
#include <Python.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#error \
    "CodeDAG's tracer reads CPython's private frame layout and supports 3.11, 3.12 and 3.13; add the new layout to bind_trace_frame.hpp before building for another version"
#endif
#ifdef Py_GIL_DISABLED
#error \
    "CodeDAG's tracer assumes the GIL (its per-session state is not locked); the free-threaded build is not supported"
#endif

#define Py_BUILD_CORE 1
#include <internal/pycore_code.h>   // _PyLocals_GetKind, CO_FAST_CELL
#include <internal/pycore_frame.h>  // _PyInterpreterFrame
#undef Py_BUILD_CORE

namespace codedag::bindings::tracehook::frames {

using IFrame = _PyInterpreterFrame;

inline PyCodeObject* code(IFrame* f) {
#if PY_VERSION_HEX >= 0x030D0000
  return reinterpret_cast<PyCodeObject*>(f->f_executable);
#else
  return f->f_code;
#endif
}

// The function object running in the frame (null for module-level code run by exec).
inline PyObject* function(IFrame* f) {
#if PY_VERSION_HEX >= 0x030C0000
  return f->f_funcobj;
#else
  return reinterpret_cast<PyObject*>(f->f_func);
#endif
}

// From 3.12 the interpreter puts "shim" frames owned by the C stack between a Python frame and a
// caller that entered through C; they are not code anybody wrote, so a call site skips them.
inline bool is_shim(IFrame* f) {
#if PY_VERSION_HEX >= 0x030C0000
  return f->owner == FRAME_OWNED_BY_CSTACK;
#else
  (void)f;
  return false;
#endif
}

inline IFrame* caller(IFrame* f) {
  IFrame* p = f ? f->previous : nullptr;
  while (p && is_shim(p)) p = p->previous;
  return p;
}

// The frame executing on this thread right now (during a call event: the callee's own frame; during
// a C call: the frame making it).
inline IFrame* current(PyThreadState* ts) {
#if PY_VERSION_HEX >= 0x030D0000
  IFrame* f = ts->current_frame;
#else
  IFrame* f = ts->cframe->current_frame;
#endif
  while (f && is_shim(f)) f = f->previous;
  return f;
}

inline int last_instruction(IFrame* f) { return _PyInterpreterFrame_LASTI(f); }

// Argument slot i (positional, keyword-only, *args, **kwargs come first in localsplus), with a
// closure cell unwrapped to its content. Null when unset.
inline PyObject* argument(IFrame* f, int i) {
  PyObject* v = f->localsplus[i];
  if (v && (_PyLocals_GetKind(code(f)->co_localspluskinds, i) & CO_FAST_CELL) && PyCell_Check(v)) v = PyCell_GET(v);
  return v;
}

}  // namespace codedag::bindings::tracehook::frames
