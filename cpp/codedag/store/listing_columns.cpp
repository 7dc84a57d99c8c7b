#include "codedag/store/listing_columns.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace codedag::store {
namespace {

// Records are separated by \x1e, key and value by \x1f: control characters metric names do not
// use (a name that does leaves the column NULL and listing parses the summary instead).
constexpr char kRecord = '\x1e';
constexpr char kField = '\x1f';

// Appends one metric; false if it cannot be held exactly (listing then parses the summary).
bool encode(char kind, const std::string& key, const json& v, std::string& out) {
  if (key.find(kRecord) != std::string::npos || key.find(kField) != std::string::npos) return false;
  if (!v.is_object()) return false;
  const auto it = v.find("value");
  if (it == v.end()) return false;
  std::string text;
  char type;
  if (it->is_null()) {
    type = 'n';
  } else if (it->is_number_float()) {
    const double d = it->get<double>();
    if (!std::isfinite(d)) {
      type = 'n';  // the summary text holds null for these too
    } else {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", d);  // round-trips exactly
      type = 'f';
      text = buf;
    }
  } else if (it->is_number_unsigned()) {
    type = 'u';
    text = it->dump();
  } else if (it->is_number_integer()) {
    type = 'i';
    text = it->dump();
  } else {
    return false;
  }
  if (!out.empty()) out += kRecord;
  out += kind;
  out += type;
  out += key;
  out += kField;
  out += text;
  return true;
}

}  // namespace

ListingColumns listing_columns(const json& s) {
  ListingColumns c;
  if (const auto d = s.find("duration"); d != s.end() && d->is_number()) c.duration = d->get<double>();
  if (const auto t = s.find("tags"); t != s.end()) c.tags = t->dump(-1, ' ', false, json::error_handler_t::replace);
  std::string mv;
  bool ok = true;
  for (const auto& [kind, field] : {std::pair{'b', "metrics"}, std::pair{'l', "last"}}) {
    const auto m = s.find(field);
    if (m == s.end()) continue;
    if (!m->is_object()) {
      ok = false;
      break;
    }
    for (const auto& [k, v] : m->items()) ok = ok && encode(kind, k, v, mv);
  }
  // A "duration" that is not a number is only kept by the summary.
  if (s.contains("duration") && !c.duration) ok = false;
  if (ok) c.metric_values = std::move(mv);
  return c;
}

void decode_metric_values(const std::string& mv, json& best, json& last) {
  size_t pos = 0;
  while (pos < mv.size()) {
    size_t end = mv.find(kRecord, pos);
    if (end == std::string::npos) end = mv.size();
    const size_t sep = mv.find(kField, pos);
    if (sep != std::string::npos && sep < end && end - pos >= 2) {
      const char kind = mv[pos], type = mv[pos + 1];
      std::string key = mv.substr(pos + 2, sep - pos - 2);
      const std::string text = mv.substr(sep + 1, end - sep - 1);
      json value;
      if (type == 'f')
        value = std::strtod(text.c_str(), nullptr);
      else if (type == 'i')
        value = static_cast<std::int64_t>(std::strtoll(text.c_str(), nullptr, 10));
      else if (type == 'u')
        value = static_cast<std::uint64_t>(std::strtoull(text.c_str(), nullptr, 10));
      json& target = kind == 'b' ? best : last;
      target[std::move(key)] = json{{"value", std::move(value)}};
    }
    pos = end + 1;
  }
}

}  // namespace codedag::store
