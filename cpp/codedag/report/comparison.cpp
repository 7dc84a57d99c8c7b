#include "codedag/report/comparison.hpp"

#include <cmath>
#include <cstdio>
#include <functional>

#include "codedag/common/error.hpp"
#include "codedag/monitor/statistics.hpp"
#include "codedag/report/number_text.hpp"

namespace codedag::report {

namespace {

const double kNaN = std::nan("");

double mean_batch_time(const ModeResult& m) {
  std::vector<double> v;
  for (const auto& bt : m.batch_times) v.push_back(bt.second);
  const auto s = monitor::describe(v);
  return s ? s->mean : kNaN;
}

double median_batch_time(const ModeResult& m) {
  std::vector<double> v;
  for (const auto& bt : m.batch_times) v.push_back(bt.second);
  const auto s = monitor::describe(v);
  return s ? s->median : kNaN;
}

double metric_final(const std::vector<MetricPoint>& v) { return v.empty() ? kNaN : v.back().value; }
double metric_min(const std::vector<MetricPoint>& v) {
  double m = kNaN;
  for (const auto& p : v)
    if (std::isfinite(p.value) && (!std::isfinite(m) || p.value < m)) m = p.value;
  return m;
}
double metric_max(const std::vector<MetricPoint>& v) {
  double m = kNaN;
  for (const auto& p : v)
    if (std::isfinite(p.value) && (!std::isfinite(m) || p.value > m)) m = p.value;
  return m;
}

double mean_over_gpus(const std::map<std::string, Series>& m, bool peak) {
  double sum = 0;
  int n = 0;
  for (const auto& [gpu, s] : m) {
    const double v = peak ? series_max(s) : series_mean(s);
    if (std::isfinite(v)) {
      sum += v;
      ++n;
    }
  }
  return n ? sum / n : kNaN;
}

enum class Change { ratio_time, ratio_rate, points, percent, none };

std::string describe_change(double base, double cand, Change kind, int lower_is_better, int& better) {
  better = 0;
  if (!std::isfinite(base) || !std::isfinite(cand)) return "";
  char buf[64];
  switch (kind) {
    case Change::ratio_time:  // a time: base/cand > 1 means faster
      if (cand <= 0) return "";
      std::snprintf(buf, sizeof buf, "%.2fx %s", base / cand >= 1 ? base / cand : cand / base,
                    base / cand >= 1 ? "faster" : "slower");
      better = base / cand > 1.005 ? 1 : base / cand < 0.995 ? -1 : 0;
      return buf;
    case Change::ratio_rate:
      if (base <= 0) return "";
      std::snprintf(buf, sizeof buf, "%.2fx", cand / base);
      better = cand / base > 1.005 ? 1 : cand / base < 0.995 ? -1 : 0;
      return buf;
    case Change::points:
      std::snprintf(buf, sizeof buf, "%+.1f pts", cand - base);
      // Half a point is noise for a sampled percentage.
      if (lower_is_better != 0 && std::fabs(cand - base) >= 0.5)
        better = ((cand < base) == (lower_is_better > 0)) ? 1 : -1;
      return buf;
    case Change::percent:
      if (base == 0) return "";
      std::snprintf(buf, sizeof buf, "%+.1f%%", (cand - base) / std::fabs(base) * 100);
      // Below 1 % relative the colour would only show noise.
      if (lower_is_better != 0 && std::fabs(cand - base) > 0.01 * std::fabs(base))
        better = ((cand < base) == (lower_is_better > 0)) ? 1 : -1;
      return buf;
    case Change::none:
      break;
  }
  return "";
}

}  // namespace

double series_mean(const Series& s) {
  double sum = 0;
  size_t n = 0;
  for (const Point& p : s)
    if (std::isfinite(p[1])) {
      sum += p[1];
      ++n;
    }
  return n ? sum / static_cast<double>(n) : kNaN;
}

double series_max(const Series& s) {
  double m = kNaN;
  for (const Point& p : s)
    if (std::isfinite(p[1]) && (!std::isfinite(m) || p[1] > m)) m = p[1];
  return m;
}

Comparison compare(const ExperimentResult& result, const std::string& baseline, const std::string& candidate) {
  Comparison c;
  if (result.modes.empty()) return c;
  auto names = [&] {
    std::string all;
    for (const ModeResult& m : result.modes) all += (all.empty() ? "" : ", ") + m.name;
    return all;
  };
  auto named = [&](const std::string& n, const char* role) {
    const ModeResult* m = result.find(n);
    if (!m)
      throw NotFoundError(std::string("no mode '") + n + "' to use as the " + role + "; the file has: " + names());
    return m;
  };
  c.baseline = !baseline.empty() ? named(baseline, "baseline") : result.find("baseline");
  if (!c.baseline) c.baseline = &result.modes.front();
  if (!candidate.empty()) {
    c.candidate = named(candidate, "candidate");
  } else {
    for (const char* n : {"optimization", "optimisation", "optimized", "optimised"})
      if (const ModeResult* m = result.find(n); m && m != c.baseline) {
        c.candidate = m;
        break;
      }
    if (!c.candidate)
      for (auto it = result.modes.rbegin(); it != result.modes.rend(); ++it)
        if (&*it != c.baseline) {
          c.candidate = &*it;
          break;
        }
  }
  c.modes.push_back(c.baseline);
  for (const ModeResult& m : result.modes)
    if (&m != c.baseline) c.modes.push_back(&m);

  using Get = std::function<double(const ModeResult&)>;
  auto add = [&](const std::string& metric, Get get, int digits, Change kind, int lower_is_better) {
    ComparisonRow row;
    row.metric = metric;
    bool any = false;
    for (const ModeResult* m : c.modes) {
      const double v = get(*m);
      any = any || std::isfinite(v);
      row.values.push_back(fixed(v, digits));
    }
    if (!any) return;  // a metric no mode recorded (accuracy never logged, no GPU) is left out
    if (c.candidate)
      row.change = describe_change(get(*c.baseline), get(*c.candidate), kind, lower_is_better, row.better);
    c.rows.push_back(std::move(row));
  };
  add(
      "batches", [](const ModeResult& m) { return m.batch_times.empty() ? kNaN : double(m.batch_times.size()); }, 0,
      Change::none, 0);
  add(
      "total time (s)", [](const ModeResult& m) { return m.total_time > 0 ? m.total_time : kNaN; }, 2,
      Change::ratio_time, 1);
  add(
      "mean batch time (ms)", [](const ModeResult& m) { return mean_batch_time(m) * 1e3; }, 2, Change::ratio_time, 1);
  add(
      "median batch time (ms)", [](const ModeResult& m) { return median_batch_time(m) * 1e3; }, 2, Change::ratio_time,
      1);
  add(
      "throughput (batches/s)",
      [](const ModeResult& m) {
        return m.total_time > 0 && !m.batch_times.empty() ? double(m.batch_times.size()) / m.total_time : kNaN;
      },
      2, Change::ratio_rate, -1);
  add(
      "final loss", [](const ModeResult& m) { return metric_final(m.losses); }, 4, Change::percent, 1);
  add(
      "min loss", [](const ModeResult& m) { return metric_min(m.losses); }, 4, Change::percent, 1);
  add(
      "final accuracy", [](const ModeResult& m) { return metric_final(m.accuracies); }, 4, Change::percent, -1);
  add(
      "best accuracy", [](const ModeResult& m) { return metric_max(m.accuracies); }, 4, Change::percent, -1);
  add(
      "CPU mean (%)", [](const ModeResult& m) { return series_mean(m.resources.cpu_usage); }, 1, Change::points, 0);
  add(
      "CPU of the process tree (%)", [](const ModeResult& m) { return series_mean(m.resources.process_cpu_usage); }, 1,
      Change::points, 0);
  add(
      "memory mean (%)", [](const ModeResult& m) { return series_mean(m.resources.memory_usage); }, 1, Change::points,
      1);
  add(
      "process memory peak (MB)", [](const ModeResult& m) { return series_max(m.resources.process_memory); }, 0,
      Change::percent, 1);
  add(
      "GPU utilisation mean (%)", [](const ModeResult& m) { return mean_over_gpus(m.resources.gpu_usage, false); }, 1,
      Change::points, -1);
  add(
      "GPU memory peak (MB)", [](const ModeResult& m) { return mean_over_gpus(m.resources.gpu_memory, true); }, 0,
      Change::percent, 0);

  if (c.candidate) {
    const double b = mean_batch_time(*c.baseline), o = mean_batch_time(*c.candidate);
    if (std::isfinite(b) && std::isfinite(o) && o > 0) c.speedup = b / o;
    if (c.baseline->total_time > 0 && c.candidate->total_time > 0)
      c.total_time_ratio = c.baseline->total_time / c.candidate->total_time;
  }
  return c;
}

}  // namespace codedag::report
