#pragma once
// The summary statistics of a result file and the smoothing of its charts. Population standard
// deviation (ddof = 0), as numpy.std computes it, so summaries match what the seed's tools gave.
#include <array>
#include <optional>
#include <vector>

namespace codedag::monitor {

struct Stats {
  size_t count = 0;
  double mean = 0, std = 0, min = 0, max = 0, median = 0;
};
// nullopt for an empty input.
std::optional<Stats> describe(const std::vector<double>& values);

// Centred moving average with a window of `window` points (shrinking at the ends), so a
// smoothed line is not shifted right as an exponential average would be.
std::vector<double> moving_average(const std::vector<double>& values, size_t window);

// At most `max_points` points that keep each bucket's first, min and max, so spikes survive the
// thinning of a 100 000-point series into a chart.
std::vector<std::array<double, 2>> decimate(const std::vector<std::array<double, 2>>& points, size_t max_points);

}  // namespace codedag::monitor
