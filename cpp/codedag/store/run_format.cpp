#include "codedag/store/run_format.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "codedag/common/error.hpp"

namespace codedag::store {

std::string format_time(double t) {
  if (t <= 0) return "-";
  const std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  ::localtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string format_duration(double s) {
  if (s < 0 || !std::isfinite(s)) return "-";
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return buf;
}

std::string format_value(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
    return buf;
  }
  if (v.is_object() && v.contains("value")) return format_value(v["value"]);
  return v.dump();
}

double parse_date(const std::string& text, const std::string& option) {
  static const char* const formats[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                                        "%Y-%m-%d %H:%M",    "%Y-%m-%d",          "%y%m%d"};
  for (const char* f : formats) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), f, &tm);
    if (end && *end == '\0') {
      tm.tm_isdst = -1;
      return static_cast<double>(std::mktime(&tm));
    }
  }
  throw InputError(option + " '" + text + "' is not a date: use 2026-03-06, 2026-03-06T12:30 or 260306");
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty();
    for (char c : a)
      plain = plain &&
              (std::isalnum(static_cast<unsigned char>(c)) || std::string("-_./=:,+@%").find(c) != std::string::npos);
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) out += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
    out += '\'';
  }
  return out;
}

namespace {

// Re-indents one compact JSON value (no whitespace outside strings) at nesting `level`. Strings and
// scalars are copied in runs, not a character at a time: `ls --json` re-indents every run's summary
// (5 MB at 10k runs), and per-character appends were the largest part of its time.
bool structural(char c) { return c == ',' || c == ':' || c == '{' || c == '}' || c == '[' || c == ']' || c == '"'; }

void append_indented(std::string& out, const std::string& s, int indent, int level) {
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const char c = s[i];
    if (c == '"') {  // a string: up to its closing quote, escapes skipped over
      size_t j = i + 1;
      while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1;  // a backslash skips what it escapes
      const size_t end = std::min(j + 1, n);
      out.append(s, i, end - i);
      i = end;
      continue;
    }
    switch (c) {
      case '{':
      case '[':
        if (i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {  // {} and [] stay on one line
          out.append(s, i, 2);
          i += 2;
          continue;
        }
        ++level;
        out += c;
        out += '\n';
        out.append(static_cast<size_t>(level * indent), ' ');
        break;
      case '}':
      case ']':
        --level;
        out += '\n';
        out.append(static_cast<size_t>(level * indent), ' ');
        out += c;
        break;
      case ',':
        out += ",\n";
        out.append(static_cast<size_t>(level * indent), ' ');
        break;
      case ':':
        out += ": ";
        break;
      default: {  // a number, true, false or null: up to the next structural character
        size_t j = i + 1;
        while (j < n && !structural(s[j])) ++j;
        out.append(s, i, j - i);
        i = j;
        continue;
      }
    }
    ++i;
  }
}

}  // namespace

void append_indented_array_item(std::string& out, const std::string& item, size_t index, int indent) {
  out += index ? ",\n" : "[\n";
  out.append(static_cast<size_t>(indent), ' ');
  append_indented(out, item, indent, 1);
}

std::string close_indented_array(size_t count) { return count ? "\n]" : "[]"; }

std::string indented_json_array(const std::vector<std::string>& items, int indent) {
  std::string out;
  size_t total = 4;
  for (const auto& it : items) total += it.size() * 2 + 4;
  out.reserve(total);
  for (size_t i = 0; i < items.size(); ++i) append_indented_array_item(out, items[i], i, indent);
  return out + close_indented_array(items.size());
}

json flatten(const json& object, const std::string& prefix) {
  json out = json::object();
  if (!object.is_object()) {
    if (!prefix.empty()) out[prefix] = object;
    return out;
  }
  for (const auto& [k, v] : object.items()) {
    const std::string key = prefix.empty() ? k : prefix + "." + k;
    if (v.is_object() && !v.empty()) {
      const json inner = flatten(v, key);
      for (const auto& [fk, fv] : inner.items()) out[fk] = fv;
    } else {
      out[key] = v;
    }
  }
  return out;
}

}  // namespace codedag::store
