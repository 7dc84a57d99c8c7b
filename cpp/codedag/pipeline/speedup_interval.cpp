#include "codedag/pipeline/speedup_interval.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "codedag/common/error.hpp"

namespace codedag::pipeline {
namespace {

// Continued fraction of the regularized incomplete beta function (modified Lentz).
double beta_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double step = d * c;
    h *= step;
    if (std::fabs(step - 1) < 1e-14) break;
  }
  return h;
}

double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_fraction(a, b, x) / a;
  return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

double student_t_cdf(double t, double dof) {
  const double tail = 0.5 * incomplete_beta(dof / 2, 0.5, dof / (dof + t * t));
  return t >= 0 ? 1 - tail : tail;
}

// Linear interpolation between order statistics (numpy's default percentile).
double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double student_t_quantile(double p, double dof) {
  if (!(p > 0 && p < 1)) throw InputError("a quantile's probability must be in (0, 1), got " + std::to_string(p));
  if (!(dof >= 1)) throw InputError("degrees of freedom must be at least 1, got " + std::to_string(dof));
  if (p < 0.5) return -student_t_quantile(1 - p, dof);
  double lo = 0, hi = 1;
  while (student_t_cdf(hi, dof) < p && hi < 1e12) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * std::max(1.0, hi); ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, dof) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

SpeedupInterval speedup_interval(const std::vector<double>& baseline, const std::vector<double>& candidate,
                                 double level, int resamples, uint64_t seed) {
  if (baseline.empty()) throw InputError("a speedup needs at least one measured round");
  if (baseline.size() != candidate.size())
    throw InputError("a speedup needs the same number of rounds for both settings (" + std::to_string(baseline.size()) +
                     " and " + std::to_string(candidate.size()) + ")");
  if (!(level > 0 && level < 1))
    throw InputError("the interval's level must be in (0, 1), got " + std::to_string(level));
  if (resamples < 100) throw InputError("at least 100 bootstrap resamples, got " + std::to_string(resamples));
  const size_t n = baseline.size();
  std::vector<double> logs(n);
  for (size_t r = 0; r < n; ++r) {
    const double b = baseline[r], c = candidate[r];
    if (!std::isfinite(b) || !std::isfinite(c) || b <= 0 || c <= 0)
      throw InputError("round " + std::to_string(r) + " has a throughput that is not a positive number (" +
                       std::to_string(b) + ", " + std::to_string(c) + ")");
    logs[r] = std::log(c / b);
  }
  SpeedupInterval out;
  out.rounds = n;
  out.level = level;
  double mean = 0;
  for (const double x : logs) mean += x;
  mean /= static_cast<double>(n);
  out.speedup = out.lower = out.upper = std::exp(mean);
  if (n < 2) return out;

  const double alpha = 1 - level;
  const double widened = std::sqrt(static_cast<double>(n) / static_cast<double>(n - 1)) *
                         student_t_quantile(1 - alpha / 2, static_cast<double>(n - 1));
  const double tail = normal_cdf(-widened);  // the percentile interval's expanded tail
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (double& m : means) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += logs[pick(rng)];
    m = sum / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  out.lower = std::exp(quantile_sorted(means, tail));
  out.upper = std::exp(quantile_sorted(means, 1 - tail));
  out.has_interval = true;
  return out;
}

json SpeedupInterval::to_json() const {
  return {{"rounds", rounds},
          {"speedup", speedup},
          {"lower", lower},
          {"upper", upper},
          {"level", level},
          {"has_interval", has_interval},
          {"method", "expanded percentile bootstrap over interleaved rounds (geometric mean of per-round ratios)"}};
}

}  // namespace codedag::pipeline
