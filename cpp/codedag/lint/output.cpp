#include "codedag/lint/output.hpp"

#include <cstdio>
#include <map>

#include "codedag/common/error.hpp"
#include "codedag/common/json_file.hpp"
#include "codedag/common/version.hpp"
#include "codedag/lint/rules.hpp"

namespace codedag::lint {
namespace {

json fix_json(const Finding& f) {
  if (!f.fix) return nullptr;
  json edits = json::array();
  for (const Edit& e : f.fix->edits)
    edits.push_back({{"start_byte", e.start}, {"end_byte", e.end}, {"content", e.text}});
  return {{"applicability", f.fix->applicability == Applicability::safe ? "safe" : "unsafe"},
          {"message", f.fix->message},
          {"edits", edits}};
}

json to_json(const Finding& f) {
  json j = {
      {"code", f.code},         {"path", f.path},       {"line", f.line},       {"col", f.col},
      {"end_line", f.end_line}, {"end_col", f.end_col}, {"message", f.message}, {"severity", severity_name(f.severity)},
      {"fix", fix_json(f)}};
  if (const Rule* r = find_rule(f.code)) j["name"] = r->name;
  if (f.ms_per_step) j["ms_per_step"] = *f.ms_per_step;
  if (!f.evidence.empty()) j["evidence"] = f.evidence;
  return j;
}

std::string sarif(const std::vector<Finding>& findings) {
  json rules = json::array();
  for (const Rule& r : codedag::lint::rules())
    rules.push_back({{"id", r.code},
                     {"name", r.name},
                     {"shortDescription", {{"text", r.summary}}},
                     {"properties", {{"tags", json::array({"pytorch", "performance"})}, {"fix", r.fix}}}});
  rules.push_back({{"id", "CDL000"},
                   {"name", "file-not-checked"},
                   {"shortDescription", {{"text", "The file (or a region of it) could not be checked"}}}});
  json results = json::array();
  for (const Finding& f : findings) {
    json region = {{"startLine", f.line}, {"startColumn", f.col}, {"endLine", f.end_line}, {"endColumn", f.end_col}};
    json result = {
        {"ruleId", f.code},
        {"level", f.severity == Severity::error  ? "error"
                  : f.severity == Severity::info ? "note"
                                                 : "warning"},
        {"message", {{"text", f.message}}},
        {"locations",
         json::array({{{"physicalLocation", {{"artifactLocation", {{"uri", f.path}}}, {"region", region}}}}})}};
    if (f.ms_per_step) result["properties"] = {{"ms_per_step", *f.ms_per_step}, {"evidence", f.evidence}};
    results.push_back(result);
  }
  json doc = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       json::array(
           {{{"tool", {{"driver", {{"name", "codedag-lint"}, {"version", codedag::kVersion}, {"rules", rules}}}}},
             {"results", results}}})}};
  return doc.dump(2) + "\n";
}

// GitHub workflow commands: data escapes %, CR, LF; properties also ':' and ','.
std::string gh_escape(std::string_view s, bool property) {
  std::string out;
  for (const char c : s) {
    if (c == '%')
      out += "%25";
    else if (c == '\r')
      out += "%0D";
    else if (c == '\n')
      out += "%0A";
    else if (property && c == ':')
      out += "%3A";
    else if (property && c == ',')
      out += "%2C";
    else
      out += c;
  }
  return out;
}

std::string paint(bool colour, const char* code, const std::string& s) {
  return colour ? std::string("\033[") + code + "m" + s + "\033[0m" : s;
}

}  // namespace

std::string printable(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t' && !(keep_newlines && c == '\n')) || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

OutputFormat parse_output_format(const std::string& name) {
  static const std::map<std::string, OutputFormat> formats = {
      {"concise", OutputFormat::concise},       {"full", OutputFormat::full},   {"json", OutputFormat::json},
      {"json-lines", OutputFormat::json_lines}, {"sarif", OutputFormat::sarif}, {"github", OutputFormat::github},
      {"pylint", OutputFormat::pylint}};
  const auto it = formats.find(name);
  if (it == formats.end())
    throw InputError("--output-format '" + name +
                     "' is not one of concise, full, json, json-lines, sarif, github, pylint");
  return it->second;
}

std::string finding_json(const Finding& f, int indent) { return to_json(f).dump(indent); }

std::string render_findings(const std::vector<Finding>& findings, OutputFormat format, const OutputOptions& o) {
  std::string out;
  switch (format) {
    case OutputFormat::json: {
      json arr = json::array();
      for (const Finding& f : findings) arr.push_back(to_json(f));
      return arr.dump(2) + "\n";
    }
    case OutputFormat::json_lines:
      for (const Finding& f : findings) out += to_json(f).dump() + "\n";
      return out;
    case OutputFormat::sarif:
      return sarif(findings);
    case OutputFormat::github:
      for (const Finding& f : findings) {
        const char* level = f.severity == Severity::error  ? "error"
                            : f.severity == Severity::info ? "notice"
                                                           : "warning";
        out +=
            std::string("::") + level + " title=" + gh_escape("codedag (" + f.code + ")", true) +
            ",file=" + gh_escape(f.path, true) + ",line=" + std::to_string(f.line) + ",col=" + std::to_string(f.col) +
            ",endLine=" + std::to_string(f.end_line) + ",endColumn=" + std::to_string(f.end_col) + "::" +
            gh_escape(
                f.path + ":" + std::to_string(f.line) + ":" + std::to_string(f.col) + ": " + f.code + " " + f.message,
                false) +
            "\n";
      }
      return out;
    case OutputFormat::pylint:
      for (const Finding& f : findings)
        out += printable(f.path) + ":" + std::to_string(f.line) + ": [" + f.code + "] " + printable(f.message) + "\n";
      return out;
    case OutputFormat::concise:
    case OutputFormat::full:
      break;
  }
  std::map<std::string, const std::string*> sources;
  if (o.sources)
    for (const auto& [p, text] : *o.sources) sources[p] = &text;
  for (const Finding& f : findings) {
    const bool fixable =
        f.fix && !f.fix->edits.empty() && (f.fix->applicability == Applicability::safe || o.unsafe_fixes);
    std::string cost;
    if (f.ms_per_step) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " (%.1f ms/step)", *f.ms_per_step);
      cost = paint(o.colour, "35", buf);
    }
    out += paint(o.colour, "1", printable(f.path)) + paint(o.colour, "36", ":") + std::to_string(f.line) +
           paint(o.colour, "36", ":") + std::to_string(f.col) + paint(o.colour, "36", ":") + " " +
           paint(o.colour, f.severity == Severity::error ? "1;31" : "1;33", f.code) + " " +
           (fixable ? paint(o.colour, "36", "[*] ") : "") + printable(f.message) + cost + "\n";
    if (!f.evidence.empty()) out += "  " + paint(o.colour, "2", "run: " + printable(f.evidence)) + "\n";
    if (format != OutputFormat::full) continue;
    const auto it = sources.find(f.path);
    if (it != sources.end() && f.line > 0) {
      // The line, and a caret under the finding's start.
      const std::string& text = *it->second;
      size_t start = 0;
      for (uint32_t l = 1; l < f.line && start != std::string::npos; ++l) {
        start = text.find('\n', start);
        if (start != std::string::npos) ++start;
      }
      if (start != std::string::npos) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const std::string line = printable(std::string_view(text).substr(start, end - start));
        const std::string num = std::to_string(f.line);
        out += "  " + std::string(num.size(), ' ') + " |\n";
        out += "  " + num + " | " + line + "\n";
        uint32_t width = f.end_line == f.line && f.end_col > f.col ? f.end_col - f.col : 1;
        out += "  " + std::string(num.size(), ' ') + " | " + std::string(f.col > 0 ? f.col - 1 : 0, ' ') +
               paint(o.colour, "31", std::string(std::min<uint32_t>(width, 120), '^')) + "\n";
      }
    }
    if (f.fix) {
      out += "  = " + paint(o.colour, "36", "help") + ": " + printable(f.fix->message) +
             (f.fix->applicability == Applicability::unsafe ? " (unsafe fix: --unsafe-fixes)" : "") + "\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace codedag::lint
