#pragma once
// The comparison report of a result file: a self-contained HTML page (inline CSS and SVG, no
// scripts, no fonts or images fetched from anywhere) and a standalone SVG image of the same
// charts and summary, so a result can be looked at in a browser, an image viewer or a README.
#include <string>

#include "codedag/report/comparison.hpp"

namespace codedag::report {

// `dag_svg` (from render_dag_svg), when not empty, becomes a "Pipeline DAG" section.
std::string render_html(const ExperimentResult& result, const Comparison& comparison, const std::string& dag_svg = "");
std::string render_svg(const ExperimentResult& result, const Comparison& comparison);

struct ReportFiles {
  std::string html;
  std::string svg;
};
// Writes <out_dir>/<stem>_report.html and <stem>_report.svg atomically.
ReportFiles write_report(const ExperimentResult& result, const Comparison& comparison, const std::string& out_dir,
                         const std::string& stem, const std::string& dag_svg = "");

}  // namespace codedag::report
