#include "codedag/report/html_report.hpp"

#include <cmath>
#include <cstdio>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/version.hpp"
#include "codedag/report/report_charts.hpp"
#include "codedag/report/svg_chart.hpp"

namespace codedag::report {

namespace {

std::string esc(const std::string& s) { return xml_escape(s); }

std::string fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The headline numbers: speedup, throughput, CPU and GPU deltas.
struct Headline {
  std::string label, value, note;
  int better = 0;
};

std::vector<Headline> headlines(const Comparison& c) {
  std::vector<Headline> out;
  if (c.speedup) {
    out.push_back({"Batch-time speedup", fixed(*c.speedup, 2) + "×",
                   c.candidate->name + " against " + c.baseline->name + " (mean batch time)",
                   *c.speedup > 1.005   ? 1
                   : *c.speedup < 0.995 ? -1
                                        : 0});
  }
  if (c.total_time_ratio)
    out.push_back({"Total-time speedup", fixed(*c.total_time_ratio, 2) + "×", "start_mode to stop_mode",
                   *c.total_time_ratio > 1.005   ? 1
                   : *c.total_time_ratio < 0.995 ? -1
                                                 : 0});
  for (const ComparisonRow& r : c.rows) {
    if (r.metric == "CPU mean (%)" || r.metric == "GPU utilisation mean (%)" || r.metric == "throughput (batches/s)") {
      std::string value = r.values.size() > 1 && c.candidate ? r.change : r.values.front();
      if (value.empty()) continue;
      out.push_back({r.metric, value, c.candidate ? "" : c.baseline->name, r.better});
    }
  }
  if (out.empty() && c.baseline)
    out.push_back({"Mode", c.baseline->name, std::to_string(c.baseline->batch_times.size()) + " batches", 0});
  return out;
}

std::string info_value(const json& info, const char* key) {
  if (!info.is_object() || !info.contains(key) || info[key].is_null()) return "";
  const json& v = info[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fixed(v.get<double>(), 2);
  return v.dump();
}

std::string environment_rows(const Comparison& c) {
  std::string s;
  for (const ModeResult* m : c.modes) {
    const json& info = m->resource_info;
    std::string cgroup = info.is_object() && info.contains("cgroup") && info["cgroup"].is_object()
                             ? info_value(info["cgroup"], "version")
                             : "";
    std::string limit = info_value(info, "memory_limit_bytes");
    if (!limit.empty()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.0f MiB", std::stod(limit) / (1024.0 * 1024.0));
      limit = buf;
    }
    std::string container = "no";
    if (info.is_object() && info.contains("container") && info["container"].is_object()) {
      const json& ct = info["container"];
      if (ct.value("detected", false) && ct.contains("evidence") && ct["evidence"].is_array()) {
        container = "";
        for (const json& e : ct["evidence"]) container += (container.empty() ? "" : "; ") + e.get<std::string>();
      }
    }
    std::string gpus;
    if (info.is_object() && info.contains("gpus") && info["gpus"].is_array())
      for (const json& g : info["gpus"])
        gpus += (gpus.empty() ? "" : ", ") + (g.is_string() ? g.get<std::string>() : g.dump());
    if (gpus.empty()) gpus = info_value(info, "gpu_note");
    s += "<tr><td>" + esc(m->name) + "</td><td>" + esc(cgroup.empty() ? "–" : cgroup) + "</td><td>" +
         esc(info_value(info, "cpu_capacity").empty() ? "–" : info_value(info, "cpu_capacity")) + "</td><td>" +
         esc(limit.empty() ? "none" : limit) + "</td><td>" + esc(container) + "</td><td>" +
         esc(gpus.empty() ? "–" : gpus) + "</td><td>" +
         (m->resource_interval > 0 ? fixed(m->resource_interval, 2) + " s" : "–") + "</td><td>" +
         std::to_string(m->resources.cpu_usage.size()) + "</td></tr>\n";
  }
  return s;
}

const char* kCss = R"CSS(
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f1f5f9;--good:#15803d;--bad:#b91c1c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
main{max-width:1160px;margin:0 auto;padding:28px 24px 48px}
header h1{font-size:24px;margin:0 0 4px}
header p{margin:0;color:var(--muted)}
.modes{display:flex;gap:14px;margin-top:10px;flex-wrap:wrap}
.mode{display:inline-flex;align-items:center;gap:6px;font-weight:600}
.swatch{width:14px;height:5px;border-radius:3px;display:inline-block}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:14px;margin:22px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:12px;padding:14px 16px}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:28px;font-weight:700;margin-top:2px}
.card .note{color:var(--muted);font-size:12px}
.good{color:var(--good)} .bad{color:var(--bad)}
section{margin-top:26px}
h2{font-size:16px;margin:0 0 10px}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:12px;overflow:hidden}
th,td{padding:8px 12px;border-bottom:1px solid var(--line);text-align:left}
th{background:#f8fafc;font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:none}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:16px}
.charts svg{width:100%;height:auto;display:block}
.dag{overflow:auto;max-height:85vh;border:1px solid #e3e3e3;border-radius:8px;background:#fff}
footer{margin-top:30px;color:var(--muted);font-size:12px}
)CSS";

}  // namespace

std::string render_html(const ExperimentResult& result, const Comparison& c, const std::string& dag_svg) {
  std::string h;
  h.reserve(1 << 16);
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n";
  // No network: everything is inline, and the policy forbids fetching anything else.
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src "
       "data:\">\n";
  h += "<title>" + esc(result.experiment_name) + " · CodeDAG report</title>\n<style>" + std::string(kCss) +
       "</style></head>\n";
  h += "<body><main>\n<header><h1>" + esc(result.experiment_name) + "</h1>\n<p>Recorded " + esc(result.datetime) +
       " · " + std::to_string(result.modes.size()) + (result.modes.size() == 1 ? " mode" : " modes") + "</p>\n";
  h += "<div class=\"modes\">";
  for (size_t i = 0; i < c.modes.size(); ++i)
    h += "<span class=\"mode\"><span class=\"swatch\" style=\"background:" + mode_colour(i) + "\"></span>" +
         esc(c.modes[i]->name) +
         (c.modes[i] == c.baseline && c.candidate && c.baseline->name != "baseline" ? " (baseline)" : "") + "</span>";
  h += "</div></header>\n";

  h += "<div class=\"cards\">\n";
  for (const Headline& hl : headlines(c)) {
    const char* cls = hl.better > 0 ? " good" : hl.better < 0 ? " bad" : "";
    h += "<div class=\"card\"><div class=\"label\">" + esc(hl.label) + "</div><div class=\"value" + cls + "\">" +
         esc(hl.value) + "</div><div class=\"note\">" + esc(hl.note) + "</div></div>\n";
  }
  h += "</div>\n";

  h += "<section><h2>Summary</h2><table><thead><tr><th>metric</th>";
  for (const ModeResult* m : c.modes) h += "<th>" + esc(m->name) + "</th>";
  if (c.candidate) h += "<th>" + esc(c.candidate->name) + " vs " + esc(c.baseline->name) + "</th>";
  h += "</tr></thead><tbody>\n";
  for (const ComparisonRow& r : c.rows) {
    h += "<tr><td>" + esc(r.metric) + "</td>";
    for (const std::string& v : r.values) h += "<td class=\"num\">" + esc(v) + "</td>";
    if (c.candidate) {
      const char* cls = r.better > 0 ? "num good" : r.better < 0 ? "num bad" : "num";
      h += std::string("<td class=\"") + cls + "\">" + esc(r.change) + "</td>";
    }
    h += "</tr>\n";
  }
  h += "</tbody></table></section>\n";

  h += "<section><h2>Charts</h2><div class=\"charts\">\n";
  for (const ChartSpec& spec : build_charts(c, 560, 280)) h += render_chart(spec);
  h += "</div></section>\n";

  if (!dag_svg.empty())  // drawn by render_dag_svg: inline SVG, no script
    h += "<section><h2>Pipeline DAG</h2><div class=\"dag\">" + dag_svg + "</div></section>\n";

  h +=
      "<section><h2>Where the numbers come from</h2><table><thead><tr><th>mode</th><th>cgroup</th><th>CPUs (100 %)</th>"
      "<th>memory limit</th><th>container "
      "evidence</th><th>GPUs</th><th>interval</th><th>samples</th></tr></thead><tbody>\n";
  h += environment_rows(c);
  h += "</tbody></table></section>\n";
  h += std::string("<footer>Generated by CodeDAG ") + kVersion +
       " · self-contained: no scripts, no network · CPU % is relative to the container's quota when one is "
       "set.</footer>\n";
  h += "</main></body></html>\n";
  return h;
}

std::string render_svg(const ExperimentResult& result, const Comparison& c) {
  const double cw = 540, ch = 270, gap = 16, pad = 24;
  const int columns = 3;
  const std::vector<ChartSpec> charts = build_charts(c, cw, ch);
  const int rows = static_cast<int>((charts.size() + columns - 1) / columns);
  const double table_top = 96;
  const double table_rows = static_cast<double>(c.rows.size());
  const double table_h = 30 + 22 * table_rows;
  const double charts_top = table_top + table_h + 24;
  const double width = pad * 2 + columns * cw + (columns - 1) * gap;
  const double height = charts_top + rows * ch + (rows - 1) * gap + pad;

  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fixed(width, 0) + "\" height=\"" + fixed(height, 0) +
       "\" viewBox=\"0 0 " + fixed(width, 0) + " " + fixed(height, 0) +
       "\" font-family=\"-apple-system,Segoe UI,Helvetica,Arial,sans-serif\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"#f1f5f9\"/>\n";
  s += "<text x=\"" + fixed(pad, 0) + "\" y=\"44\" font-size=\"24\" font-weight=\"700\" fill=\"#0f172a\">" +
       esc(result.experiment_name) + "</text>\n";
  std::string sub = "Recorded " + result.datetime;
  if (c.speedup)
    sub +=
        " · batch-time speedup " + fixed(*c.speedup, 2) + "× (" + c.candidate->name + " vs " + c.baseline->name + ")";
  s += "<text x=\"" + fixed(pad, 0) + "\" y=\"70\" font-size=\"14\" fill=\"#64748b\">" + esc(sub) + "</text>\n";

  // The summary table as text rows.
  const double col0 = pad + 12, colw = 190;
  s += "<rect x=\"" + fixed(pad, 0) + "\" y=\"" + fixed(table_top - 4, 0) + "\" width=\"" + fixed(width - 2 * pad, 0) +
       "\" height=\"" + fixed(table_h, 0) + "\" rx=\"10\" fill=\"#ffffff\" stroke=\"#e2e8f0\"/>\n";
  double y = table_top + 16;
  s += "<text x=\"" + fixed(col0, 0) + "\" y=\"" + fixed(y, 0) + "\" font-size=\"11\" fill=\"#64748b\">METRIC</text>";
  for (size_t i = 0; i < c.modes.size(); ++i)
    s += "<text x=\"" + fixed(col0 + 260 + colw * static_cast<double>(i + 1), 0) + "\" y=\"" + fixed(y, 0) +
         "\" font-size=\"11\" font-weight=\"600\" fill=\"" + mode_colour(i) + "\" text-anchor=\"end\">" +
         esc(c.modes[i]->name) + "</text>";
  const double change_x = col0 + 260 + colw * static_cast<double>(c.modes.size() + 1);
  if (c.candidate)
    s += "<text x=\"" + fixed(change_x, 0) + "\" y=\"" + fixed(y, 0) +
         "\" font-size=\"11\" fill=\"#64748b\" text-anchor=\"end\">CHANGE</text>";
  s += "\n";
  for (const ComparisonRow& r : c.rows) {
    y += 22;
    s += "<text x=\"" + fixed(col0, 0) + "\" y=\"" + fixed(y, 0) + "\" font-size=\"13\" fill=\"#0f172a\">" +
         esc(r.metric) + "</text>";
    for (size_t i = 0; i < r.values.size(); ++i)
      s += "<text x=\"" + fixed(col0 + 260 + colw * static_cast<double>(i + 1), 0) + "\" y=\"" + fixed(y, 0) +
           "\" font-size=\"13\" fill=\"#0f172a\" text-anchor=\"end\">" + esc(r.values[i]) + "</text>";
    if (c.candidate) {
      const char* colour = r.better > 0 ? "#15803d" : r.better < 0 ? "#b91c1c" : "#334155";
      s += "<text x=\"" + fixed(change_x, 0) + "\" y=\"" + fixed(y, 0) +
           "\" font-size=\"13\" font-weight=\"600\" fill=\"" + colour + "\" text-anchor=\"end\">" + esc(r.change) +
           "</text>";
    }
    s += "\n";
  }

  for (size_t i = 0; i < charts.size(); ++i) {
    const double x = pad + static_cast<double>(i % columns) * (cw + gap);
    const double cy = charts_top + static_cast<double>(i / columns) * (ch + gap);
    s += render_chart(charts[i], x, cy);
  }
  s += "</svg>\n";
  return s;
}

ReportFiles write_report(const ExperimentResult& result, const Comparison& comparison, const std::string& out_dir,
                         const std::string& stem, const std::string& dag_svg) {
  ReportFiles files;
  const std::string dir = out_dir.empty() ? "." : out_dir;
  files.html = dir + "/" + stem + "_report.html";
  files.svg = dir + "/" + stem + "_report.svg";
  write_file_atomic(files.html, render_html(result, comparison, dag_svg));
  write_file_atomic(files.svg, render_svg(result, comparison));
  return files;
}

}  // namespace codedag::report
