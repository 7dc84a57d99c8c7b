#include "codedag/report/report_charts.hpp"

#include <cmath>

#include "codedag/monitor/statistics.hpp"

namespace codedag::report {

namespace {

using Points = std::vector<std::array<double, 2>>;

// A window about 1/30 of the series, odd, at least 1: enough to see the trend through batch
// jitter without flattening a warm-up phase.
size_t smoothing_window(size_t n) {
  size_t w = n / 30;
  if (w % 2 == 0) ++w;
  return std::max<size_t>(1, w);
}

void add_raw_and_smoothed(ChartSpec& spec, const std::string& label, const std::string& colour, const Points& raw) {
  if (raw.empty()) return;
  const size_t window = smoothing_window(raw.size());
  if (window <= 1) {
    spec.series.push_back({label, colour, raw, 1.0, 2.0});
    return;
  }
  std::vector<double> ys;
  ys.reserve(raw.size());
  for (const auto& p : raw) ys.push_back(p[1]);
  const std::vector<double> smooth = monitor::moving_average(ys, window);
  Points sm(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) sm[i] = {raw[i][0], smooth[i]};
  spec.series.push_back({label + " (raw)", colour, raw, 0.22, 1.0, false, false});
  spec.series.push_back({label, colour, std::move(sm), 1.0, 2.2});
}

Points since_start(const Series& s, double start) {
  Points out;
  out.reserve(s.size());
  const double t0 = start > 0 ? start : (s.empty() ? 0 : s.front()[0]);
  for (const Point& p : s) out.push_back({p[0] - t0, p[1]});
  return out;
}

Points metric_by_step(const std::vector<MetricPoint>& v) {
  Points out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back({static_cast<double>(i), v[i].value});
  return out;
}

std::string gpu_note(const Comparison& c) {
  for (const ModeResult* m : c.modes)
    if (m->resource_info.is_object() && m->resource_info.contains("gpu_note") &&
        m->resource_info["gpu_note"].is_string()) {
      const std::string note = m->resource_info["gpu_note"].get<std::string>();
      if (!note.empty()) return "no GPU samples: " + note;
    }
  return "no GPU samples recorded";
}

}  // namespace

std::string mode_colour(size_t position) {
  static const char* palette[] = {"#f59e0b", "#2563eb", "#10b981", "#8b5cf6", "#ef4444", "#0ea5e9", "#64748b"};
  return palette[position % (sizeof palette / sizeof palette[0])];
}

std::vector<ChartSpec> build_charts(const Comparison& c, double width, double height) {
  auto make = [&](std::string title, std::string unit, std::string x_label) {
    ChartSpec s;
    s.title = std::move(title);
    s.y_label = std::move(unit);
    s.x_label = std::move(x_label);
    s.width = width;
    s.height = height;
    return s;
  };
  ChartSpec batch = make("Batch time", "milliseconds per batch · bold: moving average", "batch");
  batch.y_min = 0;
  ChartSpec loss = make("Loss", "training loss · bold: moving average", "logged step");
  ChartSpec acc = make("Accuracy", "as logged · bold: moving average", "logged step");
  ChartSpec cpu = make("CPU", "% of the CPU quota, or of the host", "seconds since mode start");
  cpu.y_min = 0;
  cpu.y_max = 100;
  ChartSpec pcpu = make("CPU of the training process tree", "% of the CPUs it may use (process + workers)",
                        "seconds since mode start");
  pcpu.y_min = 0;
  ChartSpec mem = make("Memory", "% of the memory limit, or of the host", "seconds since mode start");
  mem.y_min = 0;
  ChartSpec pmem =
      make("Memory of the training process tree", "resident MB (process + workers)", "seconds since mode start");
  pmem.y_min = 0;
  ChartSpec gpu = make("GPU utilisation", "% per GPU", "seconds since mode start");
  gpu.y_min = 0;
  gpu.y_max = 100;
  ChartSpec gmem = make("GPU memory", "MB used per GPU", "seconds since mode start");
  gmem.y_min = 0;
  for (ChartSpec* spec : {&cpu, &pcpu, &mem, &pmem, &gpu, &gmem}) spec->x_min = 0;
  gpu.empty_note = gmem.empty_note = gpu_note(c);
  batch.empty_note = "no batches timed (start_batch / end_batch)";
  loss.empty_note = "no loss logged (log_loss)";
  acc.empty_note = "no accuracy logged (log_accuracy)";

  for (size_t i = 0; i < c.modes.size(); ++i) {
    const ModeResult& m = *c.modes[i];
    const std::string colour = mode_colour(i);
    Points bt;
    bt.reserve(m.batch_times.size());
    for (const auto& [index, seconds] : m.batch_times) bt.push_back({static_cast<double>(index), seconds * 1e3});
    add_raw_and_smoothed(batch, m.name, colour, bt);
    add_raw_and_smoothed(loss, m.name, colour, metric_by_step(m.losses));
    add_raw_and_smoothed(acc, m.name, colour, metric_by_step(m.accuracies));
    cpu.series.push_back({m.name, colour, since_start(m.resources.cpu_usage, m.start_time)});
    pcpu.series.push_back({m.name, colour, since_start(m.resources.process_cpu_usage, m.start_time)});
    mem.series.push_back({m.name, colour, since_start(m.resources.memory_usage, m.start_time)});
    pmem.series.push_back({m.name, colour, since_start(m.resources.process_memory, m.start_time)});
    const bool many = m.resources.gpu_usage.size() > 1;
    size_t g = 0;
    for (const auto& [id, s] : m.resources.gpu_usage)
      gpu.series.push_back(
          {many ? m.name + " · GPU " + id : m.name, colour, since_start(s, m.start_time), 1.0, 1.8, g++ % 2 == 1});
    g = 0;
    for (const auto& [id, s] : m.resources.gpu_memory)
      gmem.series.push_back(
          {many ? m.name + " · GPU " + id : m.name, colour, since_start(s, m.start_time), 1.0, 1.8, g++ % 2 == 1});
  }
  return {batch, loss, acc, cpu, pcpu, mem, pmem, gpu, gmem};
}

}  // namespace codedag::report
