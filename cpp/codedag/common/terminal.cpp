#include "codedag/common/terminal.hpp"

#include "codedag/common/process_rank.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace codedag::term {
namespace {

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

// Display width of UTF-8 text without escape sequences: counts code points, skips ESC[...m.
size_t visible_width(std::string_view s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b) {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

bool looks_numeric(std::string_view s) {
  if (s.empty()) return false;
  const unsigned char c = static_cast<unsigned char>(s[0]);
  return std::isdigit(c) || ((c == '-' || c == '+' || c == '.') && s.size() > 1);
}

void append_escape(std::string& out, const char* format, unsigned value) {
  char buf[12];
  std::snprintf(buf, sizeof buf, format, value);
  out += buf;
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF), 0 when the bytes there are not one; `cp` receives the code point.
size_t utf8_sequence(std::string_view s, size_t i, unsigned& cp) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  unsigned min;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

std::string printable(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned cp = 0;
    const size_t n = utf8_sequence(s, i, cp);
    if (n == 0) {
      append_escape(out, "\\x%02x", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (cp == '\n' && keep_newlines) {
      out += '\n';
    } else if (cp == '\t' && keep_newlines) {
      out += '\t';
    } else if (cp < 0x20 || cp == 0x7F) {
      append_escape(out, "\\x%02x", cp);
    } else if ((cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
               cp == 0x200E || cp == 0x200F || cp == 0x061C) {
      // C1 controls (0x9b is a one-byte CSI on some terminals) and the bidirectional controls that
      // reorder what is displayed ("Trojan Source").
      append_escape(out, "\\u%04x", cp);
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

Style detect_style(std::FILE* stream) { return detect_style(::isatty(::fileno(stream)) == 1); }

Style detect_style(bool is_tty) {
  Style style;
  style.tty = is_tty;
  style.colour = style.tty && !env_set("NO_COLOR");
  if (const char* term = std::getenv("TERM"); term != nullptr && std::strcmp(term, "dumb") == 0) style.colour = false;
  if (env_set("FORCE_COLOR") && !env_set("NO_COLOR")) style.colour = true;
  style.silent = is_nonzero_rank();  // under a launcher only rank 0 speaks (process_rank.hpp)
  return style;
}

Printer::Printer(std::FILE* out) : Printer(out, detect_style(out)) {}
Printer::Printer(std::FILE* out, Style style) : out_(out), style_(style) {}
Printer::Printer(std::string* sink, Style style) : sink_(sink), style_(style) {}

std::string Printer::paint(const char* code, std::string_view s) const {
  if (!style_.colour) return std::string(s);
  return std::string("\x1b[") + code + "m" + std::string(s) + "\x1b[0m";
}

void Printer::emit(const std::string& text) {
  if (style_.silent) return;
  if (sink_) {
    *sink_ += text;
    return;
  }
  std::fputs(text.c_str(), out_);
  std::fflush(out_);
}

void Printer::header(std::string_view title, const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t key_width = 0;
  for (const auto& [k, v] : fields) key_width = std::max(key_width, visible_width(k));
  std::string text = bold("== " + std::string(title) + " ==") + "\n";
  for (const auto& [k, v] : fields)
    text += "  " + cyan(k) + ":" + std::string(key_width - visible_width(k) + 1, ' ') + v + "\n";
  emit(text);
}

void Printer::ok(std::string_view message) { emit(green("✓") + " " + std::string(message) + "\n"); }
void Printer::fail(std::string_view message) { emit(red("✗") + " " + std::string(message) + "\n"); }
void Printer::warn(std::string_view message) { emit(yellow("!") + " " + std::string(message) + "\n"); }
void Printer::info(std::string_view message) { emit(dim("·") + " " + std::string(message) + "\n"); }
void Printer::line(std::string_view text) { emit(std::string(text) + "\n"); }
void Printer::raw(std::string_view text) { emit(std::string(text)); }

void Printer::summary(std::string_view what, int passed, int failed, double seconds) {
  std::string text = bold(std::string(what) + ":") + " " + green(std::to_string(passed) + " passed") + ", " +
                     (failed ? red(std::to_string(failed) + " failed") : std::to_string(failed) + " failed");
  if (seconds >= 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " in %.2f s", seconds);
    text += buf;
  }
  emit(text + "\n");
}

void Printer::table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size(), 0);
  for (size_t c = 0; c < headers.size(); ++c) width[c] = visible_width(headers[c]);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], visible_width(row[c]));
  auto render = [&](const std::vector<std::string>& cells, bool is_header) {
    std::string text;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const std::string pad(width[c] - visible_width(cell), ' ');
      const bool right = !is_header && looks_numeric(cell);
      text += (c ? "  " : "") + (right ? pad + cell : (c + 1 < width.size() ? cell + pad : cell));
    }
    return (is_header ? bold(text) : text) + "\n";
  };
  std::string text = render(headers, true);
  for (const auto& row : rows) text += render(row, false);
  emit(text);
}

ProgressBar::ProgressBar(Printer& printer, std::string label, size_t total)
    : printer_(printer), label_(std::move(label)), total_(std::max<size_t>(total, 1)) {}

ProgressBar::~ProgressBar() {
  if (!finished_) finish();
}

void ProgressBar::update(size_t done) {
  done_ = std::min(done, total_);
  if (printer_.style().silent) return;
  const double frac = static_cast<double>(done_) / static_cast<double>(total_);
  if (printer_.style().tty) {
    // Redraw at most ~20 times a second: a bar must never cost more than the work it shows.
    const auto now = std::chrono::steady_clock::now();
    if (done_ < total_ && now - last_draw_ < std::chrono::milliseconds(50)) return;
    last_draw_ = now;
    const int cells = 30, filled = static_cast<int>(frac * cells);
    char counts[64];
    std::snprintf(counts, sizeof counts, "] %3d%% %zu/%zu", static_cast<int>(frac * 100), done_, total_);
    printer_.raw("\r" + label_ + " [" + printer_.green(std::string(filled, '#')) + std::string(cells - filled, '.') +
                 counts);
  } else {
    const int quarter = static_cast<int>(frac * 4);
    if (quarter != last_quarter_) {
      last_quarter_ = quarter;
      printer_.line(label_ + " " + std::to_string(quarter * 25) + "% " + std::to_string(done_) + "/" +
                    std::to_string(total_));
    }
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  // A drawn bar leaves the cursor mid-line; end it so the next message starts cleanly.
  if (!printer_.style().silent && printer_.style().tty && last_draw_ != std::chrono::steady_clock::time_point{})
    printer_.line();
}

std::string format_ns(double ns) {
  char buf[32];
  const double a = std::fabs(ns);
  if (a >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2f s", ns / 1e9);
  else if (a >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f ms", ns / 1e6);
  else if (a >= 1e3)
    std::snprintf(buf, sizeof buf, "%.2f us", ns / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f ns", ns);
  return buf;
}

std::string format_bytes(double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (std::fabs(bytes) >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%.0f %s", bytes, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

}  // namespace codedag::term
