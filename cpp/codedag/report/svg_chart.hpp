#pragma once
// Line charts as SVG text: axes with round tick values, grid lines, a legend, optional smoothing
// overlay. No scripts and no external resources, so the same markup works inline in the HTML
// report, in the standalone .svg image, and in any viewer.
#include <array>
#include <optional>
#include <string>
#include <vector>

namespace codedag::report {

struct ChartSeries {
  std::string label;
  std::string colour;  // CSS colour
  std::vector<std::array<double, 2>> points;
  double opacity = 1.0;
  double width = 1.8;
  bool dashed = false;
  bool in_legend = true;
};

struct ChartSpec {
  std::string title;
  std::string x_label;
  std::string y_label;  // the unit, shown under the title
  std::vector<ChartSeries> series;
  double width = 540;
  double height = 270;
  std::optional<double> x_min;  // e.g. 0 for "seconds since start"
  std::optional<double> y_min;  // e.g. 0 for percentages
  std::optional<double> y_max;
  std::string empty_note = "no data recorded";
};

// An <svg> element with its own viewBox, placed at (x, y) when nested in a larger SVG.
std::string render_chart(const ChartSpec& spec, double x = 0, double y = 0);

// Round tick values covering [lo, hi] (about `target` of them), 1/2/5 x 10^k apart.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// A short label for a tick or a table cell: 3 significant digits, k/M suffixes for large values.
std::string short_number(double v);
// Escapes &, <, >, " and ' for XML text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace codedag::report
