#include "codedag/trace/worker_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>

#include "codedag/common/error.hpp"

namespace codedag::trace {

namespace {
// A worker writes one line per traced call at the root of its batch: a few MiB for a long trace.
constexpr size_t kMaxStreamBytes = size_t{1} << 30;
}  // namespace

json encode_stream_record(const StreamRecord& r) {
  return {{"schema", kStreamSchema}, {"worker", r.worker},       {"pid", r.pid}, {"epoch", r.epoch}, {"batch", r.batch},
          {"final", r.final},        {"tree", r.delta.to_json()}};
}

StreamRecord decode_stream_record(const json& line, const std::string& origin) {
  if (!line.is_object() || line.value("schema", std::string()) != kStreamSchema)
    throw FormatError(origin + ": not a " + std::string(kStreamSchema) + " record");
  StreamRecord r;
  try {
    r.worker = line.at("worker").get<int64_t>();
    r.pid = line.at("pid").get<int64_t>();
    r.epoch = line.at("epoch").get<int64_t>();
    r.batch = line.at("batch").get<int64_t>();
    r.final = line.at("final").get<bool>();
  } catch (const json::exception& e) {
    throw FormatError(origin + ": " + e.what());
  }
  r.delta = ResolvedTree::from_json(line.at("tree"), origin);
  return r;
}

StreamWriter::StreamWriter(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_system_error("cannot open trace stream", path);
}

StreamWriter::~StreamWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void StreamWriter::write(const StreamRecord& record) {
  const std::string line = dump_json(encode_stream_record(record)) + "\n";
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_system_error("cannot write trace stream", path_);
    }
    done += static_cast<size_t>(n);
  }
}

StreamReadResult read_stream(const std::string& path) {
  StreamReadResult out;
  std::error_code missing;
  if (!std::filesystem::exists(path, missing)) return out;
  const std::string text = read_bounded_file(path, kMaxStreamBytes);
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const size_t end = text.find('\n', pos);
    if (end == std::string::npos) {  // no newline: the writer died mid-line
      out.torn_tail = true;
      break;
    }
    const std::string origin = path + ":" + std::to_string(line_no);
    std::string why;
    const std::optional<json> doc = try_parse_json(std::string_view(text).substr(pos, end - pos), {}, &why);
    if (!doc) throw FormatError(origin + ": not JSON (" + why + "); the trace stream is damaged");
    out.records.push_back(decode_stream_record(*doc, origin));
    pos = end + 1;
  }
  return out;
}

MergeStats merge_streams(ResolvedTree& tree, const std::vector<std::string>& paths,
                         const std::set<std::pair<int64_t, int64_t>>& batches) {
  MergeStats stats;
  std::map<std::pair<int64_t, int64_t>, bool> finished;
  for (const auto& path : paths) {
    StreamReadResult read = read_stream(path);
    stats.torn_tails += read.torn_tail ? 1 : 0;
    for (const StreamRecord& r : read.records) {
      const std::pair<int64_t, int64_t> id{r.epoch, r.batch};
      if (!batches.count(id)) continue;
      tree.merge(r.delta);
      ++stats.records;
      stats.worker_pids.insert(r.pid);
      finished[id] = finished[id] || r.final;
    }
  }
  for (const auto& [id, done] : finished) stats.partial_batches += done ? 0 : 1;
  stats.batches_found = static_cast<int64_t>(finished.size());
  return stats;
}

}  // namespace codedag::trace
