#pragma once
// Findings written in the formats ruff users know: concise, full (with the source line), json,
// json-lines, sarif (2.1.0, for code scanning), github (workflow annotations), pylint.
#include <string>
#include <vector>

#include "codedag/lint/finding.hpp"

namespace codedag::lint {

enum class OutputFormat { concise, full, json, json_lines, sarif, github, pylint };

// Parses a --output-format value; InputError listing the formats otherwise.
OutputFormat parse_output_format(const std::string& name);

struct OutputOptions {
  bool colour = false;
  bool unsafe_fixes = false;  // whether [*] marks unsafe fixes too
  // For `full`: the file texts by path (the line under a finding is shown when present).
  const std::vector<std::pair<std::string, std::string>>* sources = nullptr;
};

// The findings in `format` (a whole document for json/sarif; lines otherwise).
std::string render_findings(const std::vector<Finding>& findings, OutputFormat format, const OutputOptions& options);

// The JSON object of one finding: code, path, line, col, end_line, end_col, message, severity, fix
// (null or {applicability, message, edits: [{start:{line,col}, end:{line,col}, content}]}), and,
// after --with-run, ms_per_step and evidence.
std::string finding_json(const Finding& f, int indent = -1);

// Control characters of user text made visible (a file name or source line must not move the
// cursor or recolour the terminal): ESC becomes \x1b, and so on. Tabs stay, and newlines when asked.
std::string printable(std::string_view text, bool keep_newlines = false);

}  // namespace codedag::lint
