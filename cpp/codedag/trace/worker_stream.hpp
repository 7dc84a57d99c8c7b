#pragma once
// How DataLoader workers hand what they traced to the parent: each worker appends one JSON line
// per flush to its own file ("codedag.trace_stream/1"), a delta of its context tree tagged with
// (epoch, batch index). Lines are written with a single write(2) on an O_APPEND descriptor, so a
// worker killed at any moment leaves every earlier line intact and at worst one torn last line,
// which the reader skips. The parent merges the lines of the batches it consumed, by context key.
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "codedag/trace/resolved_tree.hpp"

namespace codedag::trace {

inline constexpr const char* kStreamSchema = "codedag.trace_stream/1";

struct StreamRecord {
  int64_t worker = 0, pid = 0, epoch = 0, batch = 0;
  bool final = false;  // the worker finished this batch (false: a partial flush)
  ResolvedTree delta;
};

json encode_stream_record(const StreamRecord& record);
StreamRecord decode_stream_record(const json& line, const std::string& origin);

class StreamWriter {
 public:
  // Opens (creating) `path` for appending; SystemCallError when it cannot.
  explicit StreamWriter(const std::string& path);
  ~StreamWriter();
  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;
  void write(const StreamRecord& record);

 private:
  std::string path_;
  int fd_ = -1;
};

struct StreamReadResult {
  std::vector<StreamRecord> records;
  bool torn_tail = false;  // the last line was cut short (the worker died while writing it)
};

// Every complete line of `path` (a missing file reads as empty). A malformed line that is not the
// last is a FormatError naming file:line.
StreamReadResult read_stream(const std::string& path);

struct MergeStats {
  int64_t records = 0, partial_batches = 0, torn_tails = 0;
  int64_t batches_found = 0;  // requested batches with at least one record
  std::set<int64_t> worker_pids;
};

// Merges into `tree` the records of `paths` whose (epoch, batch) is in `batches`.
MergeStats merge_streams(ResolvedTree& tree, const std::vector<std::string>& paths,
                         const std::set<std::pair<int64_t, int64_t>>& batches);

}  // namespace codedag::trace
