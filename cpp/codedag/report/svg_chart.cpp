#include "codedag/report/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "codedag/monitor/statistics.hpp"
#include "codedag/report/number_text.hpp"

namespace codedag::report {

namespace {

constexpr double kLeft = 58, kRight = 18, kTop = 52, kBottom = 40;
constexpr const char* kFont = "font-family=\"-apple-system,Segoe UI,Helvetica,Arial,sans-serif\"";

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string short_number(double v) {
  if (!std::isfinite(v)) return "–";
  char buf[32];
  const double a = std::fabs(v);
  if (a >= 1e6)
    std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
  else if (a >= 1e4)
    std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
  else if (a >= 100 || a == 0)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::floor(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
    if (ticks.size() > 50) break;
  }
  if (ticks.empty() || ticks.front() > lo) ticks.insert(ticks.begin(), ticks.empty() ? lo : ticks.front() - step);
  if (ticks.back() < hi) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string render_chart(const ChartSpec& spec, double x, double y) {
  const double w = spec.width, h = spec.height;
  const double pw = w - kLeft - kRight, ph = h - kTop - kBottom;
  std::string s;
  s += "<svg x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" width=\"" + fmt(w) + "\" height=\"" + fmt(h) +
       "\" viewBox=\"0 0 " + fmt(w) + " " + fmt(h) + "\" " + kFont + " role=\"img\" aria-label=\"" +
       xml_escape(spec.title) + "\">\n";
  s += "<rect x=\"0.5\" y=\"0.5\" width=\"" + fmt(w - 1) + "\" height=\"" + fmt(h - 1) +
       "\" rx=\"10\" fill=\"#ffffff\" stroke=\"#e2e8f0\"/>\n";
  s += "<text x=\"16\" y=\"24\" font-size=\"14\" font-weight=\"600\" fill=\"#0f172a\">" + xml_escape(spec.title) +
       "</text>\n";
  if (!spec.y_label.empty())
    s += "<text x=\"16\" y=\"41\" font-size=\"11\" fill=\"#64748b\">" + xml_escape(spec.y_label) + "</text>\n";

  // Data range over every series.
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  size_t points = 0;
  for (const ChartSeries& se : spec.series)
    for (const auto& p : se.points) {
      if (!std::isfinite(p[0]) || !std::isfinite(p[1])) continue;
      xmin = std::min(xmin, p[0]);
      xmax = std::max(xmax, p[0]);
      ymin = std::min(ymin, p[1]);
      ymax = std::max(ymax, p[1]);
      ++points;
    }

  // Legend, right-aligned in the title row.
  double lx = w - kRight;
  for (auto it = spec.series.rbegin(); it != spec.series.rend(); ++it) {
    if (!it->in_legend) continue;
    const double tw = 7.0 * static_cast<double>(it->label.size()) + 22;
    lx -= tw;
    s += "<rect x=\"" + fmt(lx) + "\" y=\"15\" width=\"12\" height=\"4\" rx=\"2\" fill=\"" + it->colour + "\"/>";
    s += "<text x=\"" + fmt(lx + 16) + "\" y=\"21\" font-size=\"11\" fill=\"#334155\">" + xml_escape(it->label) +
         "</text>\n";
  }

  if (points == 0) {
    s += "<rect x=\"" + fmt(kLeft) + "\" y=\"" + fmt(kTop) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(ph) +
         "\" rx=\"6\" fill=\"#f8fafc\" stroke=\"#e2e8f0\" stroke-dasharray=\"4 4\"/>\n";
    // "what: why" on two lines, so a long reason fits the box.
    const size_t colon = spec.empty_note.find(": ");
    const std::string what = colon == std::string::npos ? spec.empty_note : spec.empty_note.substr(0, colon);
    const std::string why = colon == std::string::npos ? "" : spec.empty_note.substr(colon + 2);
    const double mid = kTop + ph / 2 + (why.empty() ? 4 : -4);
    s += "<text x=\"" + fmt(kLeft + pw / 2) + "\" y=\"" + fmt(mid) +
         "\" font-size=\"12\" font-weight=\"600\" fill=\"#94a3b8\" text-anchor=\"middle\">" + xml_escape(what) +
         "</text>\n";
    if (!why.empty())
      s += "<text x=\"" + fmt(kLeft + pw / 2) + "\" y=\"" + fmt(mid + 17) +
           "\" font-size=\"11\" fill=\"#94a3b8\" text-anchor=\"middle\">" + xml_escape(why) + "</text>\n";
    s += "</svg>\n";
    return s;
  }
  if (spec.x_min) xmin = std::min(xmin, *spec.x_min);
  if (spec.y_min) ymin = std::min(ymin, *spec.y_min);
  if (spec.y_max) ymax = std::max(ymax, *spec.y_max);
  const std::vector<double> yt = nice_ticks(ymin, ymax, 5);
  const double y0 = spec.y_min ? std::max(yt.front(), *spec.y_min) : yt.front();
  const double y1 = yt.back();
  if (!(xmax > xmin)) {
    xmin -= 0.5;
    xmax += 0.5;
  }
  const std::vector<double> xt = nice_ticks(xmin, xmax, 6);
  auto sx = [&](double v) { return kLeft + (v - xmin) / (xmax - xmin) * pw; };
  auto sy = [&](double v) { return kTop + ph - (v - y0) / (y1 - y0) * ph; };

  for (double t : yt) {
    if (t < y0 - 1e-12 || t > y1 + 1e-12) continue;
    const double py = sy(t);
    s += "<line x1=\"" + fmt(kLeft) + "\" x2=\"" + fmt(kLeft + pw) + "\" y1=\"" + fmt(py) + "\" y2=\"" + fmt(py) +
         "\" stroke=\"" + (t == y0 ? "#cbd5e1" : "#eef2f7") + "\"/>";
    s += "<text x=\"" + fmt(kLeft - 8) + "\" y=\"" + fmt(py + 4) +
         "\" font-size=\"11\" fill=\"#64748b\" text-anchor=\"end\">" + short_number(t) + "</text>\n";
  }
  for (double t : xt) {
    if (t < xmin - 1e-12 || t > xmax + 1e-12) continue;
    const double px = sx(t);
    s += "<line x1=\"" + fmt(px) + "\" x2=\"" + fmt(px) + "\" y1=\"" + fmt(kTop + ph) + "\" y2=\"" +
         fmt(kTop + ph + 4) + "\" stroke=\"#cbd5e1\"/>";
    s += "<text x=\"" + fmt(px) + "\" y=\"" + fmt(kTop + ph + 17) +
         "\" font-size=\"11\" fill=\"#64748b\" text-anchor=\"middle\">" + short_number(t) + "</text>\n";
  }
  if (!spec.x_label.empty())
    s += "<text x=\"" + fmt(kLeft + pw) + "\" y=\"" + fmt(h - 8) +
         "\" font-size=\"11\" fill=\"#94a3b8\" text-anchor=\"end\">" + xml_escape(spec.x_label) + "</text>\n";

  for (const ChartSeries& se : spec.series) {
    const auto pts = monitor::decimate(se.points, static_cast<size_t>(pw * 2));
    std::string path;
    path.reserve(pts.size() * 14);
    bool pen_down = false;
    for (const auto& p : pts) {
      if (!std::isfinite(p[0]) || !std::isfinite(p[1])) {
        pen_down = false;  // a gap in the data is a gap in the line
        continue;
      }
      path += pen_down ? " L" : " M";
      path += fmt(sx(p[0])) + "," + fmt(sy(std::clamp(p[1], y0, y1)));
      pen_down = true;
    }
    if (path.empty()) continue;
    s += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + se.colour + "\" stroke-width=\"" + fmt(se.width) +
         "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"";
    if (se.opacity < 1) s += " stroke-opacity=\"" + fmt(se.opacity) + "\"";
    if (se.dashed) s += " stroke-dasharray=\"5 4\"";
    s += "/>\n";
    if (pts.size() == 1) {  // a single reading is a dot, not an invisible zero-length line
      s += "<circle cx=\"" + fmt(sx(pts[0][0])) + "\" cy=\"" + fmt(sy(std::clamp(pts[0][1], y0, y1))) +
           "\" r=\"3\" fill=\"" + se.colour + "\"/>\n";
    }
  }
  s += "</svg>\n";
  return s;
}

}  // namespace codedag::report
