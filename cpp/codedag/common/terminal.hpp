#pragma once
// Terminal output in the seeds' habits: colour with a plain fallback (no colour when the stream is
// not a TTY, when NO_COLOR is set, or TERM=dumb; FORCE_COLOR forces it), a configuration header,
// ✓/✗ status lines, a closing summary, progress bars on long work, and silence on every
// distributed rank but 0 (process_rank.hpp: RANK, srun's SLURM_PROCID, MPI ranks, torch.distributed;
// a LOCAL_RANK other than 0).
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace codedag::term {

struct Style {
  bool colour = false;
  bool tty = false;
  bool silent = false;  // a non-zero distributed rank
};

// What `stream` supports, read from the environment once per call.
Style detect_style(std::FILE* stream);
// The same decision for a stream known only by whether it is a TTY (e.g. Python's sys.stdout).
Style detect_style(bool is_tty);

class Printer {
 public:
  explicit Printer(std::FILE* out = stdout);
  Printer(std::FILE* out, Style style);
  // Appends to `sink` instead of writing: for callers that own the stream (Python's sys.stdout).
  Printer(std::string* sink, Style style);

  const Style& style() const { return style_; }

  // "== title ==" followed by aligned "key: value" lines.
  void header(std::string_view title, const std::vector<std::pair<std::string, std::string>>& fields);
  void ok(std::string_view message);    // ✓ green
  void fail(std::string_view message);  // ✗ red
  void warn(std::string_view message);  // ! yellow
  void info(std::string_view message);  // · dim
  void line(std::string_view text = "");
  void raw(std::string_view text);  // as is: no newline (progress redraws)
  // The closing line: "summary: N passed, M failed" (and elapsed seconds when given).
  void summary(std::string_view what, int passed, int failed, double seconds = -1);
  // A left-aligned table; numeric-looking cells are right-aligned.
  void table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);

  std::string bold(std::string_view s) const { return paint("1", s); }
  std::string dim(std::string_view s) const { return paint("2", s); }
  std::string green(std::string_view s) const { return paint("32", s); }
  std::string red(std::string_view s) const { return paint("31", s); }
  std::string yellow(std::string_view s) const { return paint("33", s); }
  std::string cyan(std::string_view s) const { return paint("36", s); }

  std::FILE* stream() const { return out_; }

 private:
  std::string paint(const char* code, std::string_view s) const;
  void emit(const std::string& text);

  std::FILE* out_ = nullptr;
  std::string* sink_ = nullptr;
  Style style_;
};

// A bar redrawn in place on a TTY ("label [#####.....] 50% 5/10"); on a pipe it prints a line at
// each quarter so logs stay short. finish() ends the line.
class ProgressBar {
 public:
  ProgressBar(Printer& printer, std::string label, size_t total);
  ~ProgressBar();
  void update(size_t done);
  void finish();

 private:
  Printer& printer_;
  std::string label_;
  size_t total_;
  size_t done_ = 0;
  int last_quarter_ = -1;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// User-supplied text (tags, notes, params, argv, names, paths, messages quoting them) made safe to
// print: control characters (ESC, CR, BS, BEL, C1 controls), bidirectional overrides and bytes that
// are not UTF-8 become visible escapes (\x1b, \u009b, \u202e, \xff), so no string read from a run
// can move the cursor, clear the screen, retitle the terminal or hide text. Newlines are kept when
// `keep_newlines` (tracebacks, multi-line notes) and escaped otherwise (table cells, one-line fields).
std::string printable(std::string_view text, bool keep_newlines = false);

// Human units: 1.23 ms, 4.5 MiB.
std::string format_ns(double ns);
std::string format_bytes(double bytes);

}  // namespace codedag::term
