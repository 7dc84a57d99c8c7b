#pragma once
// The charts of a comparison report, one ChartSpec each: batch time (raw and smoothed), loss,
// accuracy, CPU, process-tree CPU, memory, process memory, GPU utilisation and GPU memory.
// Resource series are plotted against seconds since their mode started, so the modes overlay.
#include <string>
#include <vector>

#include "codedag/report/comparison.hpp"
#include "codedag/report/svg_chart.hpp"

namespace codedag::report {

// A colour per mode, baseline first (amber), candidate second (blue).
std::string mode_colour(size_t position);
std::vector<ChartSpec> build_charts(const Comparison& comparison, double width, double height);

}  // namespace codedag::report
