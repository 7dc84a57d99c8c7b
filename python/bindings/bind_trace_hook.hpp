#pragma once
// The CPython-facing half of the tracer: a profiling hook written against the interpreter's C API
// (PyEval_SetProfile on 3.11, sys.monitoring C callbacks on 3.12+). It turns call/return events
// into the numeric ContextTree of cpp/codedag/trace without running Python-level code and without
// allocating per event (it allocates when something is seen for the first time: a function, a
// context, a produced value), and resolves names only when the tree is flushed.
#include <Python.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bind_trace_clock.hpp"
#include "bind_trace_code_facts.hpp"
#include "bind_trace_spans.hpp"
#include "codedag/common/flat_map.hpp"
#include "codedag/trace/context_tree.hpp"
#include "codedag/trace/filter_rules.hpp"
#include "codedag/trace/memory_ranges.hpp"
#include "codedag/trace/resolved_tree.hpp"
#include "codedag/trace/worker_stream.hpp"

struct _PyInterpreterFrame;  // the interpreter's frame (bind_trace_frame.hpp reads it per version)

namespace codedag::bindings::tracehook {

using timing::now_ns;  // see bind_trace_clock.hpp

// The UTF-8 text of a str object; empty for null, non-str, or text that cannot be encoded
// (never raises: the hook must not leave a Python error set).
std::string str_of(PyObject* o);

struct SessionConfig {
  int max_depth = 10;
  bool track_memory = true;
  size_t max_spans = 1'000'000;  // per session, for the Chrome trace; the DAG never drops anything
  // Strong references kept for values without weakref support that hold nothing followable (a ring).
  // Kept small enough for its table to stay in cache (at 16384, cachegrind counted ~33 more L1 misses
  // per traced call pair).
  size_t max_pinned = 4096;
  trace::FilterRules rules;
};

// What is known about a function once it has been seen (per code object / PyMethodDef).
struct FunctionInfo {
  trace::FuncId id = 0;
  trace::Decision decision;
  bool builtin = false;
  bool skip_first = false;       // the first argument is self/cls: not data
  bool bookkeeping = false;      // __len__: folded when DataLoader machinery calls it
  int nargs = 0;                 // positional + keyword-only + *args + **kwargs slots
  PyObject* code = nullptr;      // strong: the code object (python)
  PyObject* callable = nullptr;  // strong: the function / builtin object first seen
  // Its names: shared with the process-wide code facts (python) or made on first sight (builtin).
  std::shared_ptr<const FunctionNames> names;
  const std::string& module() const { return names->module; }
  const std::string& qualname() const { return names->qualname; }
  const std::string& name() const { return names->name; }
  const std::string& file() const { return names->file; }
  int64_t line() const { return names->line; }
  // Resolved at the first flush (or at stop, which then drops `callable`: a function object holds
  // its module's globals, and through them possibly the tracer — a cycle the GC cannot see).
  bool named = false;
  std::string public_name;
  bool covered = false;
  // A module call's own machinery (nn.Module._wrapped_call_impl / _call_impl): never a context; the
  // function it calls (the class's forward) takes its place, at the call site of the user's code.
  bool transparent = false;
  // A comprehension or generator expression: it calls on behalf of the function containing it.
  bool comprehension = false;
  // The context of the last call (parent, raw call site): a loop hits it every time.
  int32_t last_parent = -2, last_ctx = -1;
  trace::CallSite last_site;
};

struct Frame {
  const void* key = nullptr;  // _PyInterpreterFrame* (python) or PyMethodDef* (builtin)
  int32_t ctx = -1;           // this call's context, -1 when not recorded
  int32_t anc = -1;           // nearest recorded context at or above this frame
  int32_t anc_pos = -1;       // stack index of the frame owning `anc`
  int32_t up_pos = -1;        // stack index of the nearest recorded frame below this one
  int64_t start = 0;
  int64_t child_ns = 0;
  bool library = false, user = false, beyond = false, builtin = false;
  // A transparent frame (see FunctionInfo::transparent) hands on to the function it calls the call
  // site and the caller's kind (user / library) of the code that called it; the builtins it calls
  // itself are its own machinery (folded).
  bool transparent = false;
  bool fwd_user = false, fwd_library = false;
  // A recorded step (library __call__/forward): the __call__/forward it calls directly are steps too
  // (a Compose calling its transforms); fwd_step hands that on through transparent machinery.
  bool step = false, fwd_step = false;
  // One-time warm-up (an import, a JIT compilation): nothing under it is recorded, and its time is
  // taken out of the recorded callers. excluded_ns: warm-up time spent under this frame so far.
  bool warmup = false, in_warmup = false;  // in_warmup: this frame or one below it is warm-up
  int64_t excluded_ns = 0;
  trace::CallSite site;
};

struct ThreadState {
  std::vector<Frame> stack;
  SpanLog spans;
  int64_t tid = 0;
  unsigned long ident = 0;  // PyThreadState::thread_id of the thread that last used it
};

// What the hook needs to know about a value's type. Subtype checks walk the MRO, so they are
// answered once per type (Session::facts) instead of once per value.
struct TypeFacts {
  enum Size : uint8_t { kNoSize, kBytesSize, kByteArraySize, kNbytes, kPilPixels };
  uint32_t kind = 0;       // a trace::ValueType bit
  bool trackable = false;  // followed by identity (not a scalar, singleton, type, module or function)
  bool container = false;  // exact tuple/list/dict: followed one level into its elements
  bool weakref = false;    // identity guarded by a weakref; otherwise by a pinned strong reference
  Size size = kNoSize;     // how its bytes are measured
  // The C getters of `nbytes` and `base` (ndarray), called directly: through PyObject_GetAttr each
  // read walked the generic attribute look-up (instance dict, MRO, descriptor call), ~15 % of a
  // traced batch's hook instructions. Only for immutable types with the generic tp_getattro, where
  // the look-up cannot find anything else; null otherwise (then PyObject_GetAttr is used).
  PyGetSetDescrObject* nbytes_getter = nullptr;  // borrowed: an immutable type keeps its descriptors
  PyGetSetDescrObject* base_getter = nullptr;
};

struct Producer {
  int32_t ctx = -1;
  PyObject* guard = nullptr;  // a weakref to the value, or (strong) the value itself
  bool strong = false;
  double bytes = 0;  // measured when produced (containers: their elements)
  // A container too heavy to pin is "anchored": it is the same value while its element at
  // anchor_index is still `anchor` (borrowed), itself followed through a weakref.
  PyObject* anchor = nullptr;
  Py_ssize_t anchor_index = 0;
};

struct StreamTarget {
  std::unique_ptr<trace::StreamWriter> writer;
  int64_t worker = 0, epoch = 0, batch = 0;
};

class Session {
 public:
  explicit Session(SessionConfig config);
  ~Session();

  // Installs the hook on this thread and on threads started from now on (threading.setprofile).
  // StateError when another CodeDAG session or another profiler is installed.
  void start(PyObject* self);
  // Removes the hook; open calls are closed with the time so far. Safe to call twice.
  void stop();
  bool active() const;
  // The worker side of a DataLoader: every root-level call that returns flushes a delta line.
  void stream_to(const std::string& path, int64_t worker, int64_t epoch, int64_t batch);
  void set_batch(int64_t epoch, int64_t batch);
  // Writes what is not streamed yet as a final record for the current batch.
  void finish_batch();
  // Named tree of everything recorded so far (a copy; the session keeps recording).
  trace::ResolvedTree resolve(PyObject* covered);
  void set_covered(PyObject* covered);  // dict {callable: registry name} or None
  void clear();

  const SessionConfig& config() const { return config_; }
  int64_t events() const { return events_; }

  // In a forked child: forget the inherited hook without touching what the parent owns.
  static void discard_after_fork();
  static Session* installed();
  PyObject* self_object() const { return self_; }

  // The events, as the version's installer (see namespace install) delivers them. A Python frame
  // starts or resumes / returns, yields or unwinds (value: what it returned, or null); a builtin
  // (PyCFunction or method descriptor) is called / returns or raises.
  // `py` is the calling thread's state: the installer has it at hand, and on 3.12+ every
  // PyThreadState_Get() is a thread-local read through __tls_get_addr (~25 instructions).
  void on_call(PyThreadState* py, _PyInterpreterFrame* frame, int64_t now);
  void on_return(PyThreadState* py, _PyInterpreterFrame* frame, PyObject* value, int64_t now);
  void on_c_call(PyThreadState* py, PyObject* callable, int64_t now);
  void on_c_return(PyThreadState* py, PyObject* callable, int64_t now);
  void count_event() { ++events_; }
  bool followable(PyObject* v);  // followed by identity (see TypeFacts::trackable)

  // No C++ exception may cross a hook callback (it would reach the interpreter's C stack and
  // std::terminate the process). The installers call the on_* events through guarded(), which
  // turns an exception into a recorded failure: from then on this session ignores events, stop()
  // still detaches, and the owner reads failure() (the parent raises it, a worker streams it).
  // `py` is the event's thread: its error indicator is read directly (PyErr_Occurred would look the
  // thread up again, a thread-local read on 3.12+).
  template <class F>
  void guarded(PyThreadState* py, const char* event, F&& f) noexcept {
    if (failed_) return;
    try {
      f();
      if (error_set(py)) PyErr_Clear();  // the hook never changes the traced program's exceptions
    } catch (const std::exception& e) {
      fail(event, e.what());
    } catch (...) {
      fail(event, "an unknown C++ exception");
    }
  }
  static bool error_set(PyThreadState* py) {
#if PY_VERSION_HEX >= 0x030C0000
    return py->current_exception != nullptr;
#else
    return py->curexc_type != nullptr;
#endif
  }
  bool failed() const { return failed_; }
  // The first failure since start(), empty when none.
  const std::string& failure() const { return failure_; }
  // Every failure this session recorded (also carried in resolved trees as diagnostics).
  const std::vector<std::string>& diagnostics() const { return diagnostics_; }
  // A problem met outside the hook (a worker that could not start tracing): streamed like a failure.
  void add_diagnostic(std::string message) {
    if (diagnostics_.size() < 16) diagnostics_.push_back(std::move(message));
  }
  // Tests only: creating context number `n` (and later ones) throws inside the hook, as a bug in the
  // hook would; -1 turns it off.
  void fail_after_contexts(int64_t n) { fail_after_contexts_ = n; }

 private:
  // The per-event look-ups: their common case (the thread and the function of the previous event)
  // is inlined into the events; the rest is out of line (a call's prologue and epilogue were a
  // third of their cost).
  ThreadState& thread_state(PyThreadState* py) {
    // Most events come from the thread of the previous one: compare the interpreter's thread state
    // before the thread_local, which in a dlopen'ed module costs a __tls_get_addr call per access.
    if (py == last_pythread_ && last_thread_ && last_thread_->ident == py->thread_id) [[likely]]
      return *last_thread_;
    return thread_state_slow(py);
  }
  ThreadState& thread_state_slow(PyThreadState* py);
  FunctionInfo* python_info(_PyInterpreterFrame* frame, PyCodeObject* code) {
    // A direct-mapped cache in front of the map: a loop alternates between a few functions
    // (`consume(produce(i))`), where a one-entry cache missed on every call and the map probe cost
    // ~65 instructions.
    const RecentFunction& slot = recent_functions_[function_slot(code)];
    if (slot.key == code) [[likely]]
      return slot.info;
    return python_info_slow(frame, code);
  }
  FunctionInfo* python_info_slow(_PyInterpreterFrame* frame, PyCodeObject* code);
  FunctionInfo* builtin_info(PyObject* callable);
  // A builtin's names, from its owner (the defining type, its module, or the module holding it).
  static std::shared_ptr<FunctionNames> builtin_names(PyObject* callable, const PyMethodDef* ml);
  static const void* builtin_key(PyObject* callable);  // a builtin frame's key: its PyMethodDef
  void refresh_types();
  Py_ssize_t modules_seen_ = -1;  // len(sys.modules) at the last refresh_types()
  uint64_t rules_id_ = 0;         // see rules_id(): the key of this session's decisions in the code facts
  // The context of `info` called at `raw` under `anc`, created on first sight under the canonical site.
  int32_t context_for(int32_t anc, FunctionInfo& info, trace::CallSite raw, bool builtin);
  int32_t new_context(int32_t anc, const FunctionInfo& info, trace::CallSite raw, bool builtin);
  void push(ThreadState& ts, const void* key, FunctionInfo* info, int32_t ctx_or_neg, trace::CallSite site, int64_t now,
            bool builtin);
  void close(ThreadState& ts, int64_t now);
  // What on_return needs of a popped frame. dur: its duration without warm-up (what its context is
  // charged).
  struct Left {
    int32_t ctx, up_pos;
    int64_t dur, child_ns, start;
  };
  // Pops the top frame and hands its warm-up time to the frame below.
  Left pop(ThreadState& ts, int64_t now);
  void take_args(_PyInterpreterFrame* frame, const FunctionInfo& info, int32_t ctx, int32_t anc);
  void take_value(PyObject* v, int32_t ctx, int32_t anc, uint32_t& types);
  // Records `v` as produced by ctx; returns whether it is followable (so a container's walk also
  // tells whether it holds anything followable, without a second walk).
  bool produce(PyObject* v, int32_t ctx, uint32_t& types, double& bytes, bool nested);
  // A direct-mapped cache in front of the map: a pipeline passes a handful of types around, and
  // this keeps the common case to one index and one compare, inlined into the per-value code.
  TypeFacts facts(PyTypeObject* t) {
    const FactsSlot& slot = recent_facts_[(reinterpret_cast<uintptr_t>(t) >> 4) % recent_facts_.size()];
    return slot.type == t ? slot.facts : facts_slow(t);
  }
  TypeFacts facts_slow(PyTypeObject* t);
  bool alive(const Producer& p, PyObject* v);  // is p still about the object at v?
  // Adds the flow from v's producer into ctx; false when v has no live producer.
  bool flow_from_producer(PyObject* v, const TypeFacts& f, int32_t ctx);
  // Adds the flow from the producer of the array `v` views; false when it has none.
  bool flow_from_view_base(PyObject* v, const TypeFacts& f, int32_t ctx);
  // The producer of the newest produced array view whose memory contains `v`'s (memory_ranges.hpp).
  const Producer* producer_by_range(PyObject* v);
  // The address range an ndarray's elements span (buffer protocol, no Python code); false if none.
  static bool data_range(PyObject* v, uint64_t& begin, uint64_t& end);
  TypeFacts compute_facts(PyTypeObject* t) const;
  void forget_type_facts();
  // Bytes a value holds. A view (numpy/torch) counts at most its base's bytes, and a base seen
  // already in the same measurement (a container of views of one array) counts once.
  double value_bytes(PyObject* v, const TypeFacts& f);
  double nbytes(PyObject* v, const TypeFacts& f) const;
  // v.<name>, through the type's C getter when compute_facts found one (see TypeFacts); new reference.
  PyObject* c_attribute(PyObject* v, PyGetSetDescrObject* getter, PyObject* name) const;
  // The array or tensor owning the memory `v` views (`v` itself when it owns it).
  PyObject* view_root(PyObject* v, const TypeFacts& f);
  double pil_bytes(PyObject* v) const;
  double edge_bytes(PyObject* v, const TypeFacts& f);  // containers: their elements summed (one level)
  void flush_stream(bool final);
  void resolve_into(trace::ResolvedTree& out, bool delta);
  const std::string& context_key(int32_t ctx);
  std::string site_text(const trace::CallSite& site);
  void release_producers();
  void ensure_named(FunctionInfo& f);
  void fail(const char* event, const char* what) noexcept;
  // Which module a builtin with no module of its own belongs to: the module holding it under its
  // name (OpenCV 5's functions report __module__ None). Empty when none does.
  static std::string owner_module(PyObject* callable, const char* name);
  // Is this code object the getter/setter/deleter of a property of the class its qualname names?
  static bool is_property_accessor(PyObject* globals, PyCodeObject* code);

  SessionConfig config_;
  PyObject* self_ = nullptr;  // borrowed: the Python object owning this session while installed
  uint64_t generation_ = 0;
  trace::ContextTree tree_;
  std::vector<std::unique_ptr<ThreadState>> threads_;
  PyThreadState* last_pythread_ = nullptr;  // the thread of the last event, and its state
  ThreadState* last_thread_ = nullptr;
  // Functions seen by this session, keyed by code object / PyMethodDef (which is also their id, so
  // the same map answers id look-ups at flush). The infos live in a deque: stable addresses, and one
  // allocation per 16 functions instead of one per function plus a node of a second (id) map.
  FlatMap<const void*, FunctionInfo*> functions_;
  std::deque<FunctionInfo> function_store_;
  FunctionInfo& function(trace::FuncId id) const;  // the info behind a context's func id
  struct RecentFunction {
    const void* key = nullptr;
    FunctionInfo* info = nullptr;
  };
  std::array<RecentFunction, 64> recent_functions_{};  // see python_info(); emptied by clear()
  static size_t function_slot(const void* code) { return (reinterpret_cast<uintptr_t>(code) >> 4) % 64; }
  std::vector<PyObject*> site_codes_;  // strong: callers' code objects named by call sites
  FlatMap<PyObject*, Producer> producers_;
  trace::MemoryRanges view_ranges_;  // produced ndarray views by memory range: owner = the view
  std::vector<PyObject*> pinned_;    // ring order of strong producers
  size_t pinned_head_ = 0;
  std::vector<std::string> keys_;
  FlatMap<PyTypeObject*, TypeFacts> type_facts_;  // strong references to the types
  struct FactsSlot {
    PyTypeObject* type = nullptr;
    TypeFacts facts;
  };
  std::array<FactsSlot, 64> recent_facts_{};
  PyObject* tensor_type_ = nullptr;  // borrowed from loaded modules (kept alive by them)
  PyObject* ndarray_type_ = nullptr;
  PyObject* pil_type_ = nullptr;
  PyObject* nbytes_name_ = nullptr;
  PyObject* base_name_ = nullptr;   // ndarray.base (a C getter)
  PyObject* tbase_name_ = nullptr;  // Tensor._base (a C getter)
  struct SeenRoot {
    PyObject* root = nullptr;  // borrowed
    double left = 0;           // its bytes not yet counted in the current measurement
  };
  std::array<SeenRoot, 16> seen_roots_{};  // memory owners met in the current measurement
  size_t seen_root_count_ = 0;
  PyObject* pil_size_name_ = nullptr;  // PIL.Image.Image's plain instance attributes _size, _mode
  PyObject* pil_mode_name_ = nullptr;
  PyObject* dunder_name_ = nullptr;                // "__name__", looked up in a function's globals
  PyObject* covered_ = nullptr;                    // strong: {callable: registry name}
  std::unordered_set<std::string> covered_names_;  // its values
  std::optional<StreamTarget> stream_;
  size_t span_count_ = 0;
  int64_t dropped_spans_ = 0;
  int64_t events_ = 0;
  int64_t pid_ = 0;
  bool failed_ = false;
  int64_t fail_after_contexts_ = -1;
  std::string failure_;
  std::vector<std::string> diagnostics_;
};

// How the hook is attached to the interpreter, one implementation per version:
// bind_trace_profile.cpp (3.11, PyEval_SetProfile) and bind_trace_monitoring.cpp (3.12+,
// sys.monitoring). Both deliver the same Session::on_* events.
namespace install {
// Attaches `s` (already marked installed). StateError when another profiler holds the slot.
void attach(Session& s);
void detach();
// In a forked child: the inherited attachment is dropped without calling back into the session.
void forget_after_fork();
// Which interpreter mechanism this build uses (for messages and docs).
const char* mechanism();
// For the benchmark: the same mechanism and events with no session behind them (every callback
// returns at once), so the hook's own floor can be told apart from the tracer's work.
void attach_floor();
void detach_floor();
}  // namespace install

}  // namespace codedag::bindings::tracehook
