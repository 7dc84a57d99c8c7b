#include "codedag/runner/manifest.hpp"

#include <cctype>
#include <cmath>

#include "codedag/common/error.hpp"
#include "codedag/common/sha256.hpp"

namespace codedag::runner {
namespace {

// Reading helpers that name the file and the element when a value has the wrong type.
const json& field(const json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) throw FormatError(where + ": missing \"" + key + "\"");
  return obj.at(key);
}

std::string string_field(const json& obj, const char* key, const std::string& where) {
  const json& v = field(obj, key, where);
  if (!v.is_string()) throw FormatError(where + ": \"" + key + "\" is a " + json_type_name(v) + ", expected a string");
  return v.get<std::string>();
}

double number_field(const json& obj, const char* key, const std::string& where, double low, double high) {
  const json& v = field(obj, key, where);
  if (!v.is_number()) throw FormatError(where + ": \"" + key + "\" is a " + json_type_name(v) + ", expected a number");
  const double d = v.get<double>();
  if (!(d >= low && d <= high))
    throw FormatError(where + ": \"" + key + "\" = " + dump_json(v) + " is outside [" + dump_json(low) + ", " +
                      dump_json(high) + "]");
  return d;
}

int int_field(const json& obj, const char* key, const std::string& where, int low, int high) {
  const double d = number_field(obj, key, where, low, high);
  if (d != std::floor(d)) throw FormatError(where + ": \"" + key + "\" must be a whole number");
  return static_cast<int>(d);
}

std::vector<std::string> strings_field(const json& obj, const char* key, const std::string& where, size_t max) {
  const json& v = field(obj, key, where);
  if (!v.is_array()) throw FormatError(where + ": \"" + key + "\" is a " + json_type_name(v) + ", expected an array");
  if (v.size() > max)
    throw FormatError(where + ": \"" + key + "\" has " + std::to_string(v.size()) + " entries, at most " +
                      std::to_string(max));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      throw FormatError(where + ": \"" + key + "\"[" + std::to_string(i) + "] is a " + json_type_name(v[i]) +
                        ", expected a string");
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

bool bool_field(const json& obj, const char* key, const std::string& where) {
  const json& v = field(obj, key, where);
  if (!v.is_boolean()) throw FormatError(where + ": \"" + key + "\" must be true or false");
  return v.get<bool>();
}

std::string basename_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

json RunPolicy::to_json() const {
  return json{{"backend", backend},
              {"parallel", parallel},
              {"gpus", gpus},
              {"gpus_per_run", gpus_per_run},
              {"retries", retries},
              {"retry_exceptions", retry_exceptions},
              {"fail_fast", fail_fast},
              {"max_consecutive_failures", max_consecutive_failures},
              {"timeout", timeout},
              {"metric", metric},
              {"slurm_args", slurm_args}};
}

RunPolicy RunPolicy::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": \"policy\" must be an object");
  RunPolicy p;
  p.backend = string_field(j, "backend", where);
  if (p.backend != "local" && p.backend != "slurm")
    throw FormatError(where + ": \"backend\" is '" + p.backend + "', expected local or slurm");
  p.parallel = int_field(j, "parallel", where, 0, 100000);
  if (p.parallel == 0 && p.backend == "local")
    throw FormatError(where + ": \"parallel\" must be 1 or more for the local backend");
  p.gpus = strings_field(j, "gpus", where, 4096);
  p.gpus_per_run = int_field(j, "gpus_per_run", where, 0, 4096);
  p.retries = int_field(j, "retries", where, 0, 1000);
  p.retry_exceptions = bool_field(j, "retry_exceptions", where);
  p.fail_fast = bool_field(j, "fail_fast", where);
  p.max_consecutive_failures = int_field(j, "max_consecutive_failures", where, 0, 1000000);
  p.timeout = number_field(j, "timeout", where, 0, 1e9);
  p.metric = string_field(j, "metric", where);
  p.slurm_args = strings_field(j, "slurm_args", where, 256);
  return p;
}

std::string cell_fingerprint(const std::string& cwd, const std::vector<std::string>& command,
                             const std::vector<ParamValue>& params) {
  // Length-prefixed fields: no choice of strings can make two different cells hash the same text.
  std::string text = "codedag.cell/1\n";
  auto add = [&](const std::string& s) { text += std::to_string(s.size()) + ":" + s + "\n"; };
  add(cwd);
  text += "command " + std::to_string(command.size()) + "\n";
  for (const auto& a : command) add(a);
  text += "params " + std::to_string(params.size()) + "\n";
  for (const auto& p : params) {
    add(p.key);
    add(p.text);
  }
  return codedag::sha256_hex(text);
}

std::vector<ManifestCell> make_cells(const std::vector<std::string>& command, const std::string& cwd,
                                     const std::vector<CellParams>& expanded) {
  if (command.empty()) throw InputError("no command to sweep: write `codedag sweep run [options] -- CMD ARGS...`");
  std::vector<ManifestCell> cells;
  cells.reserve(expanded.size());
  for (size_t i = 0; i < expanded.size(); ++i) {
    ManifestCell c;
    c.index = static_cast<int>(i);
    c.params = expanded[i].params;
    c.argv = command;
    for (const auto& p : c.params) c.argv.push_back("--" + p.key + "=" + p.text);
    c.fingerprint = cell_fingerprint(cwd, command, c.params);
    cells.push_back(std::move(c));
  }
  return cells;
}

std::string params_text(const std::vector<ParamValue>& params) {
  std::string out;
  for (const auto& p : params) out += (out.empty() ? "" : " ") + p.key + "=" + p.text;
  return out.empty() ? "-" : out;
}

std::string default_sweep_name(const std::vector<std::string>& command) {
  std::string name;
  if (!command.empty()) {
    name = basename_of(command[0]);
    const bool python = name.rfind("python", 0) == 0;
    for (size_t i = 1; python && i < command.size(); ++i) {
      const std::string& a = command[i];
      if (a == "-c") break;  // inline code: the interpreter's name it is
      if ((a == "-W" || a == "-X") && i + 1 < command.size()) {
        ++i;  // an option with a value
        continue;
      }
      if (a == "-m" && i + 1 < command.size()) {
        name =
            command[i + 1].substr(command[i + 1].rfind('.') == std::string::npos ? 0 : command[i + 1].rfind('.') + 1);
        break;
      }
      if (!a.empty() && a[0] != '-') {
        name = basename_of(a);
        if (const size_t dot = name.rfind('.'); dot != std::string::npos && dot > 0) name = name.substr(0, dot);
        break;
      }
    }
  }
  std::string clean;
  for (const char c : name)
    clean += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ? c : '_';
  while (!clean.empty() && clean[0] == '.') clean.erase(0, 1);
  if (clean.size() > 100) clean.resize(100);
  return clean.empty() ? "sweep" : clean;
}

json Manifest::to_json() const {
  json cs = json::array();
  for (const auto& c : cells) {
    json params = json::array();
    for (const auto& p : c.params) params.push_back(json::array({p.key, p.text}));
    cs.push_back(json{{"cell", c.index}, {"params", params}, {"argv", c.argv}, {"fingerprint", c.fingerprint}});
  }
  return json{{"schema", kManifestSchema},
              {"id", id},
              {"name", name},
              {"created_at", created_at},
              {"cwd", cwd},
              {"home", home},
              {"command", command},
              {"spec", spec},
              {"policy", policy.to_json()},
              {"cells", cs}};
}

Manifest Manifest::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": a sweep manifest must be a JSON object");
  const std::string schema = string_field(j, "schema", where);
  if (schema != kManifestSchema)
    throw FormatError(where + ": schema '" + schema + "' is not " + kManifestSchema +
                      " (written by another codedag version?)");
  Manifest m;
  m.id = string_field(j, "id", where);
  m.name = string_field(j, "name", where);
  m.created_at = number_field(j, "created_at", where, 0, 1e12);
  m.cwd = string_field(j, "cwd", where);
  m.home = string_field(j, "home", where);
  m.command = strings_field(j, "command", where, 4096);
  if (m.command.empty()) throw FormatError(where + ": \"command\" is empty");
  m.spec = j.value("spec", json::object());
  m.policy = RunPolicy::from_json(field(j, "policy", where), where + " policy");
  const json& cs = field(j, "cells", where);
  if (!cs.is_array()) throw FormatError(where + ": \"cells\" must be an array");
  if (cs.size() > kMaxCells) throw FormatError(where + ": more than " + std::to_string(kMaxCells) + " cells");
  for (size_t i = 0; i < cs.size(); ++i) {
    const std::string at = where + " cells[" + std::to_string(i) + "]";
    ManifestCell c;
    c.index = int_field(cs[i], "cell", at, 0, static_cast<int>(kMaxCells));
    if (c.index != static_cast<int>(i))
      throw FormatError(at + ": \"cell\" is " + std::to_string(c.index) + ", expected " + std::to_string(i));
    const json& ps = field(cs[i], "params", at);
    if (!ps.is_array()) throw FormatError(at + ": \"params\" must be an array of [key, value] pairs");
    for (const auto& p : ps) {
      if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_string())
        throw FormatError(at + ": a parameter is not a [key, value] pair of strings: " + dump_json(p).substr(0, 80));
      const std::string key = p[0].get<std::string>(), text = p[1].get<std::string>();
      try {
        validate_param_key(key, "parameter");
      } catch (const InputError& e) {
        throw FormatError(at + ": " + e.what());
      }
      c.params.push_back({key, text, typed_value(text)});
    }
    c.argv = strings_field(cs[i], "argv", at, 8192);
    if (c.argv.empty()) throw FormatError(at + ": \"argv\" is empty");
    c.fingerprint = string_field(cs[i], "fingerprint", at);
    if (c.fingerprint.size() != 64) throw FormatError(at + ": \"fingerprint\" is not a sha256 hex digest");
    m.cells.push_back(std::move(c));
  }
  return m;
}

}  // namespace codedag::runner
