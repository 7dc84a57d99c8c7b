// NB_MODULE for codedag._core: each area binds itself in its own add_<area> function.
#include "bindings.hpp"

NB_MODULE(_core, m) {
  m.doc() = "CodeDAG engine (C++): tracer core, DAG, optimizer, sampler, store.";
  codedag::bindings::add_errors(m);
  codedag::bindings::add_common(m);
  codedag::bindings::add_graph(m);
  codedag::bindings::add_trace(m);
  codedag::bindings::add_monitor(m);
  codedag::bindings::add_store(m);
  codedag::bindings::add_runner(m);
  codedag::bindings::add_pipeline(m);
}
