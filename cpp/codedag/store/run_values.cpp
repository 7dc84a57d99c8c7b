#include "codedag/store/run_values.hpp"

#include <cmath>
#include <set>
#include <utility>

namespace codedag::store {
namespace {

// Nesting deeper than this is not flattened further (the subtree is kept as one JSON text):
// a bound for summaries read from disk.
constexpr int kMaxDepth = 32;

TypedValue leaf(char kind, std::string key, const json& v) {
  TypedValue t{kind, std::move(key), std::nullopt, std::nullopt};
  if (v.is_boolean()) {
    t.num = v.get<bool>() ? 1.0 : 0.0;
    t.txt = v.get<bool>() ? "true" : "false";
  } else if (v.is_number()) {
    const double d = v.get<double>();
    if (std::isfinite(d)) t.num = d;
  } else if (v.is_string()) {
    t.txt = v.get<std::string>();
  } else if (!v.is_null()) {
    t.txt = dump_json(v);  // an array (or an object past the depth bound)
  }
  return t;
}

void flatten(char kind, const std::string& prefix, const json& object, int depth, std::set<std::string>& seen,
             std::vector<TypedValue>& out) {
  for (const auto& [name, v] : object.items()) {
    std::string key = prefix.empty() ? name : prefix + "." + name;
    if (v.is_object() && depth < kMaxDepth) {
      flatten(kind, key, v, depth + 1, seen, out);
    } else if (seen.insert(key).second) {
      out.push_back(leaf(kind, std::move(key), v));
    }
  }
}

void metric_values(char kind, const json& metrics, std::vector<TypedValue>& out) {
  if (!metrics.is_object()) return;
  for (const auto& [name, m] : metrics.items()) {
    if (!m.is_object()) continue;
    TypedValue t{kind, name, std::nullopt, std::nullopt};
    const auto v = m.find("value");
    if (v != m.end() && v->is_number() && std::isfinite(v->get<double>())) t.num = v->get<double>();
    out.push_back(std::move(t));
  }
}

}  // namespace

std::vector<TypedValue> typed_values(const json& summary) {
  std::vector<TypedValue> out;
  if (!summary.is_object()) return out;
  if (const auto info = summary.find("info"); info != summary.end() && info->is_object()) {
    std::set<std::string> seen;
    flatten('p', "", *info, 0, seen, out);
  }
  if (const auto props = summary.find("properties"); props != summary.end() && props->is_object())
    if (const auto sweep = props->find("sweep"); sweep != props->end() && sweep->is_object()) {
      std::set<std::string> seen;
      flatten('s', "sweep", *sweep, 0, seen, out);
    }
  if (const auto m = summary.find("metrics"); m != summary.end()) metric_values('b', *m, out);
  if (const auto l = summary.find("last"); l != summary.end()) metric_values('l', *l, out);
  return out;
}

}  // namespace codedag::store
