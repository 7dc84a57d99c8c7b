#pragma once
// Reading the end of a cell's log as a person would see it on a terminal: progress bars redraw a
// line with '\r', so only what follows a line's last '\r' is kept.
#include <string>
#include <string_view>

namespace codedag::runner {

// The last `max_bytes` of the file (starting at a line boundary when possible), with '\r' redraws
// collapsed. Empty when the file is missing or unreadable.
std::string read_log_tail(const std::string& path, size_t max_bytes = 64 * 1024);

// `text` with each line reduced to what follows its last '\r' (a trailing "\r\n" ends a line).
std::string collapse_redraws(std::string_view text);

// The last non-empty line of `text` (after collapsing), for one line of a status board.
std::string last_visible_line(std::string_view text);

}  // namespace codedag::runner
