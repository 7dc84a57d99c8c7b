#pragma once
// How runs are shown to people (CLI tables, show, diff): times, durations, metric cells, shell
// quoting, and parsing the dates people type.
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

std::string format_time(double unix_seconds);  // "2026-11-22 08:40:05" local time; "-" for 0
std::string format_duration(double seconds);   // "1h02m", "3m05s", "4.2s"; "-" for < 0
std::string format_value(const json& v);       // numbers to 6 significant digits, strings bare
// "2026-03-06", "2026-03-06T12:30", "2026-03-06 12:30:00" or "260306" (local time) -> unix seconds.
// InputError names the option and the accepted forms.
double parse_date(const std::string& text, const std::string& option);
// Quoted so a POSIX shell reads back exactly `argv` (for display and copy-paste only; we never run a shell).
std::string shell_join(const std::vector<std::string>& argv);
// Compact JSON texts (as nlohmann dumps them) as one array, laid out exactly as
// json::array(...).dump(indent) would, without building the values: listing prints 10k runs.
std::string indented_json_array(const std::vector<std::string>& compact_items, int indent);
// The same layout one item at a time, for output too large to hold twice: item `index` (0 opens the
// array) appended to `out`; close_indented_array(count) ends an array of `count` items.
void append_indented_array_item(std::string& out, const std::string& compact_item, size_t index, int indent);
std::string close_indented_array(size_t count);
// {"a": {"b": 1}} -> {"a.b": 1}
json flatten(const json& object, const std::string& prefix = "");

}  // namespace codedag::store
