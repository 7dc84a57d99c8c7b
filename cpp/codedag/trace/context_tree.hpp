#pragma once
// The live context tree the hook fills while tracing (SPEC §1). A context is one function at one
// place in the call tree: (parent context, function, call site). Keying by the call site instead of
// a per-invocation ordinal is what makes the N per-sample calls of a loop aggregate into one context
// while the same function called from two places in a pipeline stays two contexts.
//
// Everything here is numeric (function and call-site ids are opaque addresses the binding keeps
// alive); names are resolved once, when the tree is flushed into a ResolvedTree.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "codedag/common/flat_map.hpp"

namespace codedag::trace {

using FuncId = uint64_t;

// Where a call was made: the calling code object and its instruction offset (-1: unknown).
struct CallSite {
  uint64_t code = 0;
  int32_t offset = -1;
  bool operator==(const CallSite&) const = default;
};

struct ContextStats {
  int64_t calls = 0;
  int64_t total_ns = 0;  // inclusive
  int64_t child_ns = 0;  // inclusive time of recorded children (exclusive = total - child)
  double out_bytes = 0;
  uint32_t arg_types = 0, ret_types = 0;
  std::vector<FuncId> lib_calls;  // distinct library functions this context called directly
};

struct Context {
  int32_t parent = -1;  // -1: a root (called by the frame that entered tracing, or a thread's root)
  int32_t depth = 1;
  FuncId func = 0;
  CallSite site;
  bool builtin = false;
  ContextStats stats;
};

struct Flow {
  int32_t src = 0, dst = 0;
  double bytes = 0;
  int64_t count = 0;
};

class ContextTree {
 public:
  // The context for `func` called at `site` under `parent` (-1 for a root), created on first sight.
  int32_t child(int32_t parent, FuncId func, CallSite site, bool builtin);
  // The context already known for that key, or -1 (no context is created).
  int32_t find(int32_t parent, FuncId func, CallSite site) const;
  // Makes (parent, func, site) a second key of context `ctx`: the hook finds a context by the raw
  // call site the interpreter reports and creates it under the normalised one (the same call
  // reached through a specialised instruction reports another offset).
  void alias(int32_t parent, FuncId func, CallSite site, int32_t ctx);

  Context& operator[](int32_t i) { return contexts_[static_cast<size_t>(i)]; }
  const Context& operator[](int32_t i) const { return contexts_[static_cast<size_t>(i)]; }
  size_t size() const { return contexts_.size(); }
  const std::vector<Context>& contexts() const { return contexts_; }

  // A value produced by `src` reached `dst` as an argument.
  void add_flow(int32_t src, int32_t dst, double bytes);
  void add_lib_call(int32_t ctx, FuncId func);
  // How many add_flow calls so far (cheap "did anything flow" checks in the hook).
  int64_t flow_events() const { return flow_events_; }
  // Data flows sorted by (src, dst), so output does not depend on hash order.
  std::vector<Flow> flows() const;

  // Zeroes every number and flow but keeps the contexts: a worker streams deltas this way.
  void clear_numbers();
  void clear();

 private:
  struct Key {
    int32_t parent;
    FuncId func;
    CallSite site;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  std::vector<Context> contexts_;
  // Flat maps: child() and add_flow() run once per traced call, where node allocations would
  // dominate the hook's cost.
  FlatMap<Key, int32_t, KeyHash> index_;
  FlatMap<uint64_t, Flow> flows_;  // (src << 32 | dst)
  // The entry of the last add_flow (flows_ only grows between clears). A copied or moved tree starts
  // without it: the pointer is into its source's map.
  struct FlowCache {
    Flow* flow = nullptr;
    uint64_t key = 0;
    FlowCache() = default;
    FlowCache(const FlowCache&) {}
    FlowCache& operator=(const FlowCache&) {
      flow = nullptr;
      return *this;
    }
  };
  FlowCache last_;
  int64_t flow_events_ = 0;
};

}  // namespace codedag::trace
