#pragma once
// Numbers as the reports print them (HTML, SVG charts, DAG pictures, comparisons): one place, so
// every report writes a value the same way.
#include <cmath>
#include <cstdio>
#include <string>

namespace codedag::report {

// `digits` decimals; "–" for NaN or infinity (a missing measurement, never "nan" in a report).
inline std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "–";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A coordinate or length in an SVG: one decimal.
inline std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace codedag::report
