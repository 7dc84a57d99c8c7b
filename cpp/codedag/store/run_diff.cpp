#include "codedag/store/run_diff.hpp"

#include <set>

#include "codedag/store/git_snapshot.hpp"
#include "codedag/store/run_format.hpp"

namespace codedag::store {

json differing(const json& a, const json& b) {
  const json fa = flatten(a), fb = flatten(b);
  std::set<std::string> keys;
  for (const auto& [k, v] : fa.items()) keys.insert(k);
  for (const auto& [k, v] : fb.items()) keys.insert(k);
  json out = json::object();
  for (const auto& k : keys) {
    const json va = fa.contains(k) ? fa[k] : json(nullptr), vb = fb.contains(k) ? fb[k] : json(nullptr);
    if (va != vb) out[k] = json::array({va, vb});
  }
  return out;
}

json metric_values(const json& run) {
  json m = json::object();
  const json last = run.value("last", json::object()), best = run.value("metrics", json::object());
  for (const auto& [k, v] : last.items()) m["last." + k] = v.is_object() ? v.value("value", json(nullptr)) : json();
  for (const auto& [k, v] : best.items()) m["best." + k] = v.is_object() ? v.value("value", json(nullptr)) : json();
  return m;
}

json diff_runs(const RunRef& ra, const json& a, const RunRef& rb, const json& b, const RunDiffOptions& o) {
  auto object_at = [](const json& run, const char* key) {
    const auto it = run.find(key);
    return it != run.end() && it->is_object() ? *it : json::object();
  };
  json report = json::object();
  report["a"] = ra.test_name;
  report["b"] = rb.test_name;
  report["status"] = differing(json{{"status", a.value("status", "")}}, json{{"status", b.value("status", "")}});
  const json argv_a = a.value("argv", json::array()), argv_b = b.value("argv", json::array());
  report["argv"] = argv_a == argv_b ? json::object() : json{{"argv", json::array({argv_a, argv_b})}};
  report["params"] = differing(object_at(a, "info"), object_at(b, "info"));
  report["versions"] = differing(object_at(a, "versions"), object_at(b, "versions"));
  report["env"] = differing(object_at(a, "env"), object_at(b, "env"));
  report["metrics"] = differing(metric_values(a), metric_values(b));
  const json ga = object_at(a, "git"), gb = object_at(b, "git");
  std::string code, code_note;
  if (!ga.value("present", false) || !gb.value("present", false)) {
    code_note = "no code snapshot for " + std::string(!ga.value("present", false) ? ra.test_name : rb.test_name);
  } else if (ga.value("commit", "") == gb.value("commit", "")) {
    code_note = "identical code (snapshot " + ga.value("commit", std::string()).substr(0, 12) + ")";
  } else if (ga.value("toplevel", "") != gb.value("toplevel", "")) {
    code_note = "the runs come from different repositories";
  } else if (o.code) {
    code = snapshot_diff(ga.value("toplevel", std::string()), ga.value("commit", std::string()),
                         gb.value("commit", std::string()), o.code_stat);
    code_note = code.empty() ? "identical code" : "";
  }
  if (o.max_code_bytes > 0 && code.size() > o.max_code_bytes) {
    code.resize(o.max_code_bytes);
    report["code_truncated"] = true;
  }
  report["code"] = code;
  if (!code_note.empty()) report["code_note"] = code_note;
  return report;
}

}  // namespace codedag::store
