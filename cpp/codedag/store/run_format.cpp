#include "codedag/store/run_format.hpp"

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
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
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
                                        "%Y-%m-%d %H:%M", "%Y-%m-%d", "%y%m%d"};
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
      plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || std::string("-_./=:,+@%").find(c) != std::string::npos);
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
