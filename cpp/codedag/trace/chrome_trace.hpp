#pragma once
// Chrome trace event format (the JSON Perfetto and chrome://tracing open): one complete ("X")
// event per recorded call, with process/thread name metadata so DataLoader workers show as their
// own processes.
#include <map>
#include <string>

#include "codedag/common/json_file.hpp"
#include "codedag/trace/resolved_tree.hpp"

namespace codedag::trace {

// `process_names` maps pid -> label ("main", "worker 0"). Timestamps are microseconds from the
// earliest span.
json chrome_trace(const ResolvedTree& tree, const std::map<int64_t, std::string>& process_names);
void save_chrome_trace_file(const ResolvedTree& tree, const std::string& path,
                            const std::map<int64_t, std::string>& process_names);

}  // namespace codedag::trace
