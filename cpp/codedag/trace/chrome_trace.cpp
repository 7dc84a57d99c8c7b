#include "codedag/trace/chrome_trace.hpp"

#include <algorithm>
#include <limits>
#include <set>

namespace codedag::trace {

json chrome_trace(const ResolvedTree& tree, const std::map<int64_t, std::string>& process_names) {
  int64_t t0 = std::numeric_limits<int64_t>::max();
  for (const Span& s : tree.spans) t0 = std::min(t0, s.start_ns);
  if (tree.spans.empty()) t0 = 0;
  json events = json::array();
  std::set<int64_t> pids;
  std::set<std::pair<int64_t, int64_t>> threads;
  for (const Span& s : tree.spans) {
    const ResolvedContext& c = tree.contexts.at(static_cast<size_t>(s.ctx));
    events.push_back({{"name", c.name},
                      {"cat", c.builtin ? "builtin" : "python"},
                      {"ph", "X"},
                      {"ts", static_cast<double>(s.start_ns - t0) / 1000.0},
                      {"dur", static_cast<double>(s.dur_ns) / 1000.0},
                      {"pid", s.pid},
                      {"tid", s.tid},
                      {"args", {{"qualname", c.qualname}, {"node", s.ctx + 1}}}});
    pids.insert(s.pid);
    threads.insert({s.pid, s.tid});
  }
  for (int64_t pid : pids) {
    auto it = process_names.find(pid);
    const std::string label = it != process_names.end() ? it->second : "process " + std::to_string(pid);
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"tid", 0}, {"args", {{"name", label}}}});
  }
  for (const auto& [pid, tid] : threads)
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", pid},
                      {"tid", tid},
                      {"args", {{"name", "thread " + std::to_string(tid)}}}});
  return {{"traceEvents", events},
          {"displayTimeUnit", "ns"},
          {"otherData", {{"producer", "codedag"}, {"dropped_spans", tree.dropped_spans}}}};
}

void save_chrome_trace_file(const ResolvedTree& tree, const std::string& path,
                            const std::map<int64_t, std::string>& process_names) {
  save_json_file(path, chrome_trace(tree, process_names), -1);
}

}  // namespace codedag::trace
