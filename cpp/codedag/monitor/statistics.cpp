#include "codedag/monitor/statistics.hpp"

#include <algorithm>
#include <cmath>

namespace codedag::monitor {

std::optional<Stats> describe(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  Stats s;
  s.count = values.size();
  // Two passes (mean, then squared deviations): stable for values far from zero.
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  double sq = 0;
  for (double v : values) sq += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(sq / static_cast<double>(values.size()));
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  s.min = *lo;
  s.max = *hi;
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  s.median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return s;
}

std::vector<double> moving_average(const std::vector<double>& values, size_t window) {
  if (window <= 1 || values.size() < 3) return values;
  std::vector<double> prefix(values.size() + 1, 0.0);
  for (size_t i = 0; i < values.size(); ++i) prefix[i + 1] = prefix[i] + values[i];
  const size_t half = window / 2;
  std::vector<double> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const size_t lo = i >= half ? i - half : 0;
    const size_t hi = std::min(values.size(), i + half + 1);
    out[i] = (prefix[hi] - prefix[lo]) / static_cast<double>(hi - lo);
  }
  return out;
}

std::vector<std::array<double, 2>> decimate(const std::vector<std::array<double, 2>>& points, size_t max_points) {
  if (points.size() <= max_points || max_points < 6) return points;
  const size_t buckets = max_points / 3;
  const double per = static_cast<double>(points.size()) / static_cast<double>(buckets);
  std::vector<std::array<double, 2>> out;
  out.reserve(buckets * 3 + 1);
  for (size_t b = 0; b < buckets; ++b) {
    const size_t lo = static_cast<size_t>(static_cast<double>(b) * per);
    const size_t hi = std::min(points.size(), static_cast<size_t>(static_cast<double>(b + 1) * per));
    if (lo >= hi) continue;
    size_t imin = lo, imax = lo;
    for (size_t i = lo; i < hi; ++i) {
      if (points[i][1] < points[imin][1]) imin = i;
      if (points[i][1] > points[imax][1]) imax = i;
    }
    // Keep x order so the polyline does not fold back.
    std::vector<size_t> keep = {lo, imin, imax};
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    for (size_t i : keep) out.push_back(points[i]);
  }
  if (out.back() != points.back()) out.push_back(points.back());
  return out;
}

}  // namespace codedag::monitor
