#include "codedag/runner/failure.hpp"

#include <string.h>

#include <cctype>
#include <csignal>

namespace codedag::runner {
namespace {

bool contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    lines.emplace_back(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return lines;
}

// A dotted Python name: "ValueError", "torch.cuda.OutOfMemoryError".
bool looks_like_exception_type(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (const char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

// '  File "/home/u/train.py", line 12, in step' -> "train.py:12 in step".
std::string frame_of(const std::string& line) {
  const size_t q1 = line.find('"');
  const size_t q2 = q1 == std::string::npos ? q1 : line.find('"', q1 + 1);
  if (q2 == std::string::npos) return trim(line);
  std::string file = line.substr(q1 + 1, q2 - q1 - 1);
  if (const size_t slash = file.rfind('/'); slash != std::string::npos) file = file.substr(slash + 1);
  std::string out = file;
  const size_t at_line = line.find("line ", q2);
  if (at_line != std::string::npos) {
    size_t e = at_line + 5;
    while (e < line.size() && std::isdigit(static_cast<unsigned char>(line[e]))) ++e;
    out += ':';
    out.append(line, at_line + 5, e - at_line - 5);
  }
  const size_t in = line.find(", in ", q2);
  if (in != std::string::npos) {
    out += " in ";
    out += trim(line.substr(in + 5));
  }
  return out;
}

struct Traceback {
  std::string type, message, frame;
};

// The last Python traceback in `text`: its innermost frame and its exception line.
Traceback parse_traceback(std::string_view text) {
  Traceback t;
  const size_t start = text.rfind("Traceback (most recent call last):");
  if (start == std::string_view::npos) return t;
  const std::vector<std::string> lines = split_lines(text.substr(start));
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.rfind("  File \"", 0) == 0) {
      t.frame = frame_of(l);
      continue;
    }
    if (l.empty() || std::isspace(static_cast<unsigned char>(l[0]))) continue;  // source lines, ^^^^ markers
    const size_t colon = l.find(':');
    const std::string type = trim(l.substr(0, colon));
    if (!looks_like_exception_type(type)) continue;
    t.type = type;
    t.message = colon == std::string::npos ? "" : trim(l.substr(colon + 1));
    break;
  }
  return t;
}

std::string last_frame_of(const std::string& traceback) {
  std::string frame;
  for (const std::string& l : split_lines(traceback))
    if (l.rfind("  File \"", 0) == 0) frame = frame_of(l);
  return frame;
}

std::string clip(std::string s, size_t n) {
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}

}  // namespace

json FailureCause::to_json() const {
  json j{{"kind", kind}, {"cause", cause}, {"signature", signature}, {"retryable", retryable}};
  if (!exception_type.empty()) j["exception_type"] = exception_type;
  if (!last_frame.empty()) j["last_frame"] = last_frame;
  return j;
}

std::string signal_name(int signal) {
  if (const char* abbrev = ::sigabbrev_np(signal)) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(signal);
}

std::vector<std::string> last_lines(std::string_view text, size_t n) {
  std::vector<std::string> all;
  for (std::string& l : split_lines(text))
    if (!trim(l).empty()) all.push_back(std::move(l));
  if (all.size() > n) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(n));
  return all;
}

FailureCause classify_failure(const ExitFacts& facts, std::string_view log_tail, const json& exception) {
  FailureCause f;
  Traceback tb = parse_traceback(log_tail);
  if (exception.is_object() && exception.contains("type") && exception["type"].is_string()) {
    // The script's own record is exact; the log may be cut or hold several tracebacks.
    const std::string module = exception.value("module", std::string());
    tb.type = exception["type"].get<std::string>();
    if (!module.empty() && module != "builtins" && module != "__main__") tb.type = module + "." + tb.type;
    tb.message = exception.value("message", std::string());
    const std::string frame = last_frame_of(exception.value("traceback", std::string()));
    if (!frame.empty()) tb.frame = frame;
  }
  f.exception_type = tb.type;
  f.last_frame = tb.frame;
  const std::string where = tb.frame.empty() ? "" : " at " + tb.frame;
  const bool cuda_oom = contains(tb.type, "OutOfMemoryError") || contains(log_tail, "CUDA out of memory") ||
                        contains(log_tail, "CUBLAS_STATUS_ALLOC_FAILED");
  if (facts.interrupted) {
    f.kind = "interrupted";
    f.cause = facts.signal ? "stopped (" + signal_name(facts.signal) + ")" : "stopped";
  } else if (facts.timed_out) {
    f.kind = "timeout";
    f.cause = "timed out (stopped at --timeout)";
    f.retryable = true;
  } else if (facts.preempted) {
    f.kind = "preempted";
    f.cause = "preempted by the scheduler";
    f.retryable = true;
  } else if (facts.oom_kill || (facts.signal == SIGKILL && contains(log_tail, "Out of memory"))) {
    f.kind = "oom_killed";
    f.cause = "OOM-killed (the kernel's out-of-memory killer sent SIGKILL)";
    f.retryable = true;
  } else if (cuda_oom) {
    f.kind = "cuda_oom";
    f.cause = "CUDA out of memory" + where;
  } else if (contains(tb.type, "DistBackendError") || contains(log_tail, "NCCL error") ||
             contains(log_tail, "NCCL timeout") || contains(log_tail, "Watchdog caught collective operation timeout")) {
    f.kind = "nccl";
    f.cause = "NCCL communication failure" + where;
    f.retryable = true;
  } else if (!tb.type.empty() && tb.type != "KeyboardInterrupt") {
    f.kind = "exception";
    f.cause = clip(tb.type + (tb.message.empty() ? "" : ": " + tb.message), 160) + where;
  } else if (facts.signal) {
    f.kind = "signal";
    f.cause = "killed by " + signal_name(facts.signal);
    f.retryable = true;
  } else {
    f.kind = "exit_code";
    f.cause = "exit code " + std::to_string(facts.exit_code);
  }
  f.signature = f.kind;
  if (!tb.type.empty()) f.signature += ":" + tb.type;
  if (!tb.frame.empty()) f.signature += "@" + tb.frame;
  if (f.kind == "signal") f.signature += ":" + signal_name(facts.signal);
  if (f.kind == "exit_code") f.signature += ":" + std::to_string(facts.exit_code);
  return f;
}

}  // namespace codedag::runner
