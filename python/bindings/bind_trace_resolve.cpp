// Flushing the hook's numeric tree into a named ResolvedTree: context keys, public names of library
// calls, registry coverage, spans; and the worker-side stream of deltas. Runs once per flush, never
// per event.
#include <unistd.h>

#include <cstdio>

#include "bind_trace_hook.hpp"
#include "codedag/common/error.hpp"

namespace codedag::bindings::tracehook {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

// Does `candidate` (an attribute found by walking a public path) denote the traced function?
bool same_function(PyObject* candidate, const FunctionInfo& f) {
  if (candidate == f.callable) return true;
  if (f.builtin) {
    if (PyCFunction_Check(candidate))
      return reinterpret_cast<uint64_t>(reinterpret_cast<PyCFunctionObject*>(candidate)->m_ml) == f.id;
    if (PyObject_TypeCheck(candidate, &PyMethodDescr_Type))
      return reinterpret_cast<uint64_t>(reinterpret_cast<PyMethodDescrObject*>(candidate)->d_method) == f.id;
    return false;
  }
  // Wrappers that keep the implementation reachable (functools.wraps, numpy's dispatchers).
  for (const char* attr : {"__wrapped__", "_implementation", "__func__"}) {
    PyObject* inner = PyObject_GetAttrString(candidate, attr);
    if (!inner) {
      PyErr_Clear();
      continue;
    }
    const bool same = inner == f.callable;
    Py_DECREF(inner);
    if (same) return true;
  }
  return false;
}

// "numpy.fft._pocketfft.rfft" -> "numpy.fft.rfft": the shortest module prefix from which the
// qualified name reaches the same function.
std::string public_name(const FunctionInfo& f) {
  // Only library calls are matched against the registry and reported by public name; walking the
  // module path of every user and standard-library function made stop() cost ~0.5 ms a batch.
  if (!f.callable || f.module().empty() || !f.decision.third_party) return f.qualname();
  PyObject* modules = PyImport_GetModuleDict();
  const std::vector<std::string> parts = split(f.module(), '.');
  const std::vector<std::string> names = split(f.name(), '.');
  std::string prefix;
  for (size_t k = 0; k < parts.size(); ++k) {
    prefix += (k ? "." : "") + parts[k];
    PyObject* obj = PyDict_GetItemString(modules, prefix.c_str());
    if (!obj) continue;
    Py_INCREF(obj);
    for (const auto& n : names) {
      PyObject* next = PyObject_GetAttrString(obj, n.c_str());
      Py_DECREF(obj);
      obj = next;
      if (!obj) {
        PyErr_Clear();
        break;
      }
    }
    if (!obj) continue;
    const bool same = same_function(obj, f);
    Py_DECREF(obj);
    if (same) return prefix + "." + f.name();
  }
  return f.qualname();
}

std::string top_level(const std::string& name) { return name.substr(0, name.find('.')); }

// Public names found by walking modules, kept for the process: every tracer (one per batch in the
// benchmark and in `codedag trace --batches`) would otherwise walk the same paths again, and a failed
// attribute look-up costs an exception. Keyed by the function's id and checked against its qualified
// name, so an id reused by another function is not mistaken for it.
struct KnownName {
  std::string qualname, public_name;
};
std::unordered_map<uint64_t, KnownName>& known_names() {
  static std::unordered_map<uint64_t, KnownName> names;
  return names;
}

std::string cached_public_name(const FunctionInfo& f) {
  auto& names = known_names();
  if (auto it = names.find(f.id); it != names.end() && it->second.qualname == f.qualname())
    return it->second.public_name;
  std::string name = public_name(f);
  if (f.callable) names[f.id] = {f.qualname(), name};  // without the callable the walk was skipped
  return name;
}

}  // namespace

// What needs the function object is a library function's public name (public_name) and the registry
// look-up by identity; stop() names those before dropping the objects (see Session::stop).
void Session::ensure_named(FunctionInfo& f) {
  if (f.named) return;
  f.named = true;
  f.public_name = cached_public_name(f);
  f.covered = top_level(f.module()) == "torch" || top_level(f.public_name) == "torch";
  if (f.covered || !covered_ || !f.callable) return;
  PyObject* registry_name = PyDict_GetItemWithError(covered_, f.callable);
  if (registry_name) {
    f.covered = true;
    f.public_name = str_of(registry_name);
    return;
  }
  PyErr_Clear();
  // The registry may key the public wrapper (np.fft.rfft) while the hook saw the implementation.
  f.covered = covered_names_.count(f.public_name) > 0;
}

void Session::set_covered(PyObject* covered) {
  Py_XDECREF(covered_);
  covered_ = (covered && covered != Py_None && PyDict_Check(covered)) ? covered : nullptr;
  Py_XINCREF(covered_);
  // Names looked up by value for every function not found by identity: a set, not a dict scan.
  covered_names_.clear();
  if (!covered_) return;
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  while (PyDict_Next(covered_, &pos, &k, &v)) covered_names_.insert(str_of(v));
}

namespace {
// Code generated at run time (exec/eval of "<string>" source: dataclasses, namedtuple, numba) has no
// file to tell two functions apart, and its line numbers start at 1 every time. Its text is told
// apart by content instead: a hash of the bytecode and the names it uses, which is the same in every
// process running the same code (a DataLoader worker's keys must equal the parent's).
bool generated(const std::string& file) { return !file.empty() && file.front() == '<'; }

void fnv(uint64_t& h, const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 1099511628211ull;
}

std::string content_tag(PyCodeObject* code) {
  uint64_t h = 14695981039346656037ull;
  if (PyObject* bytes = PyCode_GetCode(code)) {  // the unspecialised bytecode: stable across runs
    char* data = nullptr;
    Py_ssize_t n = 0;
    if (PyBytes_AsStringAndSize(bytes, &data, &n) == 0) fnv(h, data, static_cast<size_t>(n));
    Py_DECREF(bytes);
  }
  PyErr_Clear();
  for (PyObject* names : {code->co_names, code->co_localsplusnames}) {
    if (!names || !PyTuple_Check(names)) continue;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); ++i) {
      const std::string name = str_of(PyTuple_GET_ITEM(names, i));
      fnv(h, name.data(), name.size() + 1);
    }
  }
  char text[20];
  std::snprintf(text, sizeof text, "#%08llx", static_cast<unsigned long long>(h & 0xffffffffull));
  return text;
}
}  // namespace

const std::string& Session::context_key(int32_t ctx) {
  while (keys_.size() <= static_cast<size_t>(ctx)) {
    const auto i = static_cast<int32_t>(keys_.size());
    const trace::Context& c = tree_[i];
    const FunctionInfo* f = &function(c.func);
    std::string key = c.parent >= 0 ? keys_[static_cast<size_t>(c.parent)] + "/" : std::string();
    if (f->builtin) {
      key += "builtin|" + f->qualname();
    } else {
      key += f->qualname() + "|" + f->file() + ":" + std::to_string(f->line());
      if (generated(f->file()) && f->code) key += content_tag(reinterpret_cast<PyCodeObject*>(f->code));
    }
    key += "@" + site_text(c.site);
    keys_.push_back(std::move(key));
  }
  return keys_[static_cast<size_t>(ctx)];
}

std::string Session::site_text(const trace::CallSite& site) {
  if (!site.code) return "?";
  auto* code = reinterpret_cast<PyCodeObject*>(site.code);
  std::string file = str_of(code->co_filename);
  if (generated(file)) file += content_tag(code);
  return str_of(code->co_qualname) + "|" + file + ":" + std::to_string(site.offset);
}

void Session::resolve_into(trace::ResolvedTree& out, bool delta) {
  auto lookup = [&](uint64_t id) -> std::pair<const std::string&, bool> {
    FunctionInfo* f = &function(id);
    ensure_named(*f);
    return {f->public_name, f->covered};
  };
  // Numeric contexts whose keys coincide become one named context (see add_or_merge).
  std::vector<int64_t> at(tree_.size(), -1);
  for (size_t i = 0; i < tree_.size(); ++i) {
    const trace::Context& c = tree_[static_cast<int32_t>(i)];
    const FunctionInfo* f = &function(c.func);
    trace::ResolvedContext rc;
    rc.key = context_key(static_cast<int32_t>(i));
    rc.parent = c.parent < 0 ? -1 : at[static_cast<size_t>(c.parent)];
    rc.qualname = f->qualname();
    rc.name = f->name();
    rc.module = f->module();
    rc.file = f->builtin ? std::string() : f->file();
    rc.line = f->line();
    rc.builtin = f->builtin;
    rc.library = f->decision.third_party;
    const auto self_name = lookup(c.func);
    rc.covered = rc.library && self_name.second;
    if (rc.library) rc.qualname = self_name.first;  // builtins/library contexts carry their public name
    rc.depth = c.depth;
    rc.calls = c.stats.calls;
    rc.total_ns = static_cast<double>(c.stats.total_ns);
    rc.cpu_ns = static_cast<double>(std::max<int64_t>(0, c.stats.total_ns - c.stats.child_ns));
    rc.out_bytes = c.stats.out_bytes;
    rc.arg_types = c.stats.arg_types;
    rc.ret_types = c.stats.ret_types;
    for (trace::FuncId lib : c.stats.lib_calls) {
      const auto [name, covered] = lookup(lib);
      rc.lib_calls.push_back(name);
      if (!covered) rc.uncovered_calls.push_back(name);
    }
    at[i] = out.add_or_merge(std::move(rc));
  }
  for (const trace::Flow& fl : tree_.flows())
    out.add_flow(at[static_cast<size_t>(fl.src)], at[static_cast<size_t>(fl.dst)], fl.bytes, fl.count);
  for (auto& ts : threads_) {
    out.spans.reserve(out.spans.size() + ts->spans.size());
    ts->spans.for_each([&](const RawSpan& s) {
      out.spans.push_back({at[static_cast<size_t>(s.ctx)], s.start, s.dur, pid_, ts->tid});
    });
    if (delta) ts->spans.clear();
  }
  out.dropped_spans = dropped_spans_;
  out.diagnostics = diagnostics_;
  if (delta) {
    tree_.clear_numbers();
    span_count_ = 0;
    dropped_spans_ = 0;
  }
}

trace::ResolvedTree Session::resolve(PyObject* covered) {
  if (covered && covered != Py_None) {
    set_covered(covered);
    for (FunctionInfo& f : function_store_)
      if (f.callable) f.named = false;  // coverage changed: name again where still possible
  }
  trace::ResolvedTree out;
  resolve_into(out, false);
  return out;
}

void Session::stream_to(const std::string& path, int64_t worker, int64_t epoch, int64_t batch) {
  StreamTarget target;
  target.writer = std::make_unique<trace::StreamWriter>(path);
  target.worker = worker;
  target.epoch = epoch;
  target.batch = batch;
  stream_ = std::move(target);
}

void Session::set_batch(int64_t epoch, int64_t batch) {
  if (!stream_) throw StateError("set_batch: this tracer session does not stream (call stream_to first)");
  stream_->epoch = epoch;
  stream_->batch = batch;
}

void Session::flush_stream(bool final) {
  if (!stream_) return;
  trace::StreamRecord r;
  r.worker = stream_->worker;
  r.pid = pid_;
  r.epoch = stream_->epoch;
  r.batch = stream_->batch;
  r.final = final;
  try {
    resolve_into(r.delta, true);
  } catch (const std::exception& e) {
    // Never lost silently: the record still goes out, carrying the problem for the parent to report.
    fail("stream flush", e.what());
    r.delta = trace::ResolvedTree();
    r.delta.diagnostics = diagnostics_;
  }
  try {
    stream_->writer->write(r);
  } catch (const Error&) {
    // The parent went away (its temporary directory with it): nothing left to report to.
  }
}

void Session::finish_batch() {
  if (active()) throw StateError("finish_batch() while tracing: stop() first");
  flush_stream(true);
  // The next batch starts with no producers: values do not flow between batches.
  release_producers();
}

}  // namespace codedag::bindings::tracehook
