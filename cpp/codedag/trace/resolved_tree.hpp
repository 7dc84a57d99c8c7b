#pragma once
// A context tree with names: what the hook's numeric tree becomes at flush, what a DataLoader worker
// streams to the parent (as deltas), and what the parent merges. Contexts are identified by a
// string key — the path of (function, call site) pairs from the root — which is the same in every
// process running the same code, so worker trees merge into the parent's by key.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::trace {

struct ResolvedContext {
  std::string key;      // unique path key
  int64_t parent = -1;  // index in ResolvedTree::contexts, -1 for a root
  std::string qualname, name, module, file;
  int64_t line = 0;
  bool builtin = false;
  bool library = false;  // the function itself is library code
  bool covered = false;  // a torch op, or covered by the migration strategy registry
  int64_t depth = 1;
  int64_t calls = 0;
  double total_ns = 0, cpu_ns = 0, out_bytes = 0;
  uint32_t arg_types = 0, ret_types = 0;
  std::vector<std::string> lib_calls;        // public names of library functions called directly
  std::vector<std::string> uncovered_calls;  // those of lib_calls neither torch nor in the registry
};

struct ResolvedFlow {
  int64_t src = 0, dst = 0;  // indices
  double bytes = 0;
  int64_t count = 0;
};

// One recorded call, for the Chrome trace.
struct Span {
  int64_t ctx = 0;  // index
  int64_t start_ns = 0, dur_ns = 0;
  int64_t pid = 0, tid = 0;
};

class ResolvedTree {
 public:
  std::vector<ResolvedContext> contexts;
  std::vector<ResolvedFlow> flows;
  std::vector<Span> spans;
  int64_t dropped_spans = 0;
  // Problems met while tracing (a hook failure in a worker, ...): reported to the user, never lost.
  std::vector<std::string> diagnostics;

  // Index of the context with `key`, or -1.
  int64_t find(const std::string& key) const;
  // Appends a context (its parent must already be here); InputError on a duplicate key.
  int64_t add(ResolvedContext context);
  // The context with `context.key`: its numbers summed into the one already here (name lists
  // united), or appended when new. Two contexts with one key are one context by definition (the
  // same function at the same place, e.g. identical generated code called from identical code).
  int64_t add_or_merge(ResolvedContext context);
  // Adds a flow between two contexts of this tree, summed into an existing one with the same ends.
  void add_flow(int64_t src, int64_t dst, double bytes, int64_t count);
  // Adds `other` into this tree: contexts by key (numbers summed, name lists united), flows by their
  // ends' keys, spans appended (up to `max_spans`; the rest counted as dropped).
  void merge(const ResolvedTree& other, size_t max_spans = 1'000'000);

  // Re-judges coverage by public name: a library context or call is covered when it is a torch op
  // or one of `registry_names` (the strategy registry's names). Workers and the hook know only
  // torch; the registry is consulted once, in the parent, here.
  void apply_coverage(const std::set<std::string>& registry_names);

  json to_json() const;
  // FormatError naming `origin` and the element on malformed input.
  static ResolvedTree from_json(const json& doc, const std::string& origin);

 private:
  std::unordered_map<std::string, int64_t> index_;
  std::map<std::pair<int64_t, int64_t>, size_t> flow_index_;  // (src, dst) -> position in flows
  size_t flows_indexed_ = 0;                                  // flows[0, flows_indexed_) are in it
};

}  // namespace codedag::trace
