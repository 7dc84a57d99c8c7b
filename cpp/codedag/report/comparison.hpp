#pragma once
// Baseline against optimisation, as the summary table of the report and of `codedag report`:
// which two modes are compared, the speedup, and a row per metric with the change in words a
// reader can act on ("1.84x faster", "+12.3 pts", "-5.1%").
#include <optional>
#include <string>
#include <vector>

#include "codedag/monitor/result_model.hpp"

namespace codedag::report {

// The report renders the monitor's result model (codedag/monitor/result_model.hpp).
using monitor::ExperimentResult;
using monitor::MetricPoint;
using monitor::ModeResult;
using monitor::Point;
using monitor::ResourceUsage;
using monitor::Series;

struct ComparisonRow {
  std::string metric;
  std::vector<std::string> values;  // one per mode, formatted
  std::string change;               // candidate against baseline; empty with one mode
  int better = 0;                   // +1 the candidate is better, -1 worse, 0 neutral/unknown
};

struct Comparison {
  std::vector<const ModeResult*> modes;  // baseline first, then the others in run order
  const ModeResult* baseline = nullptr;
  const ModeResult* candidate = nullptr;  // nullptr with a single mode
  std::optional<double> speedup;          // mean batch time of baseline / of candidate
  std::optional<double> total_time_ratio;
  std::vector<ComparisonRow> rows;
};

// Baseline: `baseline` when given, else the mode named "baseline", else the first. Candidate:
// `candidate`, else "optimization"/"optimisation"/"optimized", else the last other mode.
// NotFoundError names the modes that exist when a named one does not.
Comparison compare(const ExperimentResult& result, const std::string& baseline = "", const std::string& candidate = "");

// Mean of a series' values (NaN when empty).
double series_mean(const Series& s);
double series_max(const Series& s);

}  // namespace codedag::report
