#include "codedag/report/dag_svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "codedag/common/terminal.hpp"
#include "codedag/report/svg_chart.hpp"

namespace codedag::report {
namespace {

constexpr double kCharWidth = 6.6;  // of the 11px label font, about
constexpr double kMinNodeWidth = 56;
constexpr size_t kMaxLabelChars = 34;
constexpr double kHeaderHeight = 46;  // title and legend above the drawing

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string label_of(const graph::Node& n) {
  std::string s = n.name.empty() ? n.qualname : n.name;
  if (s.size() > kMaxLabelChars) s = s.substr(0, kMaxLabelChars - 1) + "…";
  return s;
}

// Bytes in a label count once per character shown, not per UTF-8 byte.
size_t display_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A polyline through the layout's points as smooth vertical curves.
std::string path_of(const std::vector<graph::layout::Point>& p) {
  std::string d = "M" + fmt(p[0].x) + " " + fmt(p[0].y);
  for (size_t i = 1; i < p.size(); ++i) {
    const auto& a = p[i - 1];
    const auto& b = p[i];
    if (std::abs(a.x - b.x) < 0.5) {
      d += " L" + fmt(b.x) + " " + fmt(b.y);
      continue;
    }
    const double my = (a.y + b.y) / 2;
    d += " C" + fmt(a.x) + " " + fmt(my) + " " + fmt(b.x) + " " + fmt(my) + " " + fmt(b.x) + " " + fmt(b.y);
  }
  return d;
}

std::string tooltip(const graph::Node& n, const std::string& executor, bool inherited) {
  std::string t = n.qualname.empty() ? n.name : n.qualname;
  t += "\nexecutor: " + executor + (inherited ? " (with its caller)" : "");
  t += "\ncalls: " + std::to_string(n.calls) + ", cpu " + term::format_ns(n.cpu_ns) + ", total " +
       term::format_ns(n.total_ns);
  if (n.out_bytes > 0) t += "\nreturns " + term::format_bytes(n.out_bytes) + " per batch";
  t += n.gpu_eligible ? "\nGPU-eligible" : "\nnot GPU-eligible";
  if (!n.blocked_by.empty()) {
    t += " (blocked by";
    for (size_t i = 0; i < n.blocked_by.size() && i < 4; ++i) t += " " + n.blocked_by[i];
    t += ")";
  }
  if (!n.file.empty()) t += "\n" + n.file + ":" + std::to_string(n.line);
  return t;
}

// The edges drawn, in the order the layout gets them: data edges, then call edges (self loops,
// which no valid DAG has, are left out so the layout's routes stay aligned with this list).
std::vector<const graph::Edge*> drawn_edges(const graph::Dag& dag, const DagSvgOptions& options) {
  std::vector<const graph::Edge*> edges;
  for (const graph::EdgeKind kind : {graph::EdgeKind::data, graph::EdgeKind::call}) {
    if (kind == graph::EdgeKind::call && !options.call_edges) break;
    for (const graph::Edge& e : dag.edges())
      if (e.kind == kind && e.src != e.dst) edges.push_back(&e);
  }
  return edges;
}

}  // namespace

NodePlacementInfo node_executors(const graph::Dag& dag, const graph::MigrationPlan* plan) {
  const size_t n = dag.nodes().size();
  NodePlacementInfo info{std::vector<std::string>(n, "cpu"), std::vector<bool>(n, false)};
  if (!plan) return info;
  for (size_t i = 0; i < n; ++i) {
    const graph::Node* cur = &dag.nodes()[i];
    // Parents form a tree (validated on load); the bound guards a hand-made Dag all the same.
    for (size_t hops = 0; cur && hops <= n; ++hops) {
      const auto it = plan->context_device_map.find(cur->qualname);
      if (it != plan->context_device_map.end()) {
        info.executor[i] = it->second;
        info.inherited[i] = hops > 0;
        break;
      }
      cur = cur->parent && dag.contains(*cur->parent) ? &dag.node(*cur->parent) : nullptr;
    }
  }
  return info;
}

std::string executor_colour(const std::string& executor) {
  if (executor == "cpu") return "#5b7fa6";
  if (executor == "batch:cpu") return "#d9822b";
  if (executor.rfind("cuda:", 0) == 0) {
    static const char* const greens[] = {"#2e9e5b", "#1f7a8c", "#6a9e2e", "#0f766e"};
    const int i = std::atoi(executor.c_str() + 5);
    return greens[static_cast<size_t>(std::max(0, i)) % 4];
  }
  return "#8a63a6";
}

graph::layout::Layout layout_dag(const graph::Dag& dag, const DagSvgOptions& options) {
  graph::layout::LayoutGraph g;
  g.widths.reserve(dag.nodes().size());
  for (const graph::Node& n : dag.nodes())
    g.widths.push_back(std::max(kMinNodeWidth, 16 + kCharWidth * static_cast<double>(display_length(label_of(n)))));
  for (const graph::Edge* e : drawn_edges(dag, options))
    g.edges.emplace_back(dag.index_of(e->src), dag.index_of(e->dst));
  return graph::layout::layered_layout(g);
}

std::string render_dag_svg(const graph::Dag& dag, const graph::MigrationPlan* plan, const DagSvgOptions& options) {
  const graph::layout::Layout layout = layout_dag(dag, options);
  const NodePlacementInfo where = node_executors(dag, plan);
  const std::vector<const graph::Edge*> edges = drawn_edges(dag, options);

  double max_bytes = 0;
  for (const graph::Edge* e : edges) max_bytes = std::max(max_bytes, e->bytes);
  // The legend: the executors present, with how many contexts each runs; the drawing is at least
  // as wide as its line.
  std::map<std::string, size_t> per_executor;
  for (const std::string& e : where.executor) ++per_executor[e];
  static const std::string kEdgeNote = "edge width: bytes per batch · dashed: calls · red: moves between executors";
  double legend_width = 12 + 6 + 5.6 * static_cast<double>(kEdgeNote.size());
  for (const auto& [executor, count] : per_executor)
    legend_width += 24 + kCharWidth * static_cast<double>((executor + " (" + std::to_string(count) + ")").size());
  const double width = std::max({layout.width, legend_width, 420.0});
  const double height = layout.height + kHeaderHeight;

  std::string s;
  s.reserve(512 + dag.nodes().size() * 700);
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"codedag-dag\"";
  if (!options.element_id.empty()) s += " id=\"" + xml_escape(options.element_id) + "\"";
  s += " width=\"" + fmt(width) + "\" height=\"" + fmt(height) + "\" viewBox=\"0 0 " + fmt(width) + " " + fmt(height) +
       "\" font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\">\n";
  // Arrow heads in user units: the same size on a 1 px call edge and a 7 px data edge.
  s += "<defs><marker id=\"dag-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" "
       "markerWidth=\"9\" markerHeight=\"9\" orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" "
       "fill=\"#666\"/></marker></defs>\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";

  double lx = 12;
  if (!options.title.empty()) {
    s += "<text x=\"12\" y=\"18\" font-size=\"13\" font-weight=\"600\" fill=\"#222\">" + xml_escape(options.title) +
         "</text>\n";
  }
  const double ly = 36;
  for (const auto& [executor, count] : per_executor) {
    const std::string label = executor + " (" + std::to_string(count) + ")";
    s += "<rect x=\"" + fmt(lx) + "\" y=\"" + fmt(ly - 9) + "\" width=\"10\" height=\"10\" rx=\"2\" fill=\"" +
         executor_colour(executor) + "\"/><text x=\"" + fmt(lx + 14) + "\" y=\"" + fmt(ly) +
         "\" font-size=\"11\" fill=\"#333\">" + xml_escape(label) + "</text>\n";
    lx += 24 + kCharWidth * static_cast<double>(label.size());
  }
  s +=
      "<text x=\"" + fmt(lx + 6) + "\" y=\"" + fmt(ly) + "\" font-size=\"10\" fill=\"#777\">" + kEdgeNote + "</text>\n";
  if (dag.nodes().empty())
    s += "<text x=\"12\" y=\"" + fmt(kHeaderHeight + 20) +
         "\" font-size=\"12\" fill=\"#a33\">empty DAG: the trace recorded no context</text>\n";

  s += "<g transform=\"translate(0," + fmt(kHeaderHeight) + ")\">\n<g class=\"edges\" fill=\"none\">\n";
  for (size_t i = 0; i < layout.edges.size() && i < edges.size(); ++i) {
    const graph::layout::EdgeRoute& r = layout.edges[i];
    const graph::Edge& e = *edges[i];
    const bool call = e.kind == graph::EdgeKind::call;
    const bool transfer = !call && where.executor[r.from] != where.executor[r.to];
    double w = 1;
    if (!call && max_bytes > 0) w = 1 + 6 * std::log1p(e.bytes) / std::log1p(max_bytes);
    s += "<path class=\"" +
         std::string(call       ? "call"
                     : transfer ? "data transfer"
                                : "data") +
         "\" d=\"" + path_of(r.points) + "\" stroke=\"" +
         (call       ? "#b8b8b8"
          : transfer ? "#c0392b"
                     : "#555") +
         "\" stroke-opacity=\"" + (call ? "0.9" : "0.65") + "\" stroke-width=\"" + fmt(w) + "\"" +
         (call ? " stroke-dasharray=\"4 3\"" : "") + " marker-end=\"url(#dag-arrow)\"><title>" +
         xml_escape(dag.node(e.src).name + " → " + dag.node(e.dst).name + (call ? " (call)" : "") +
                    (e.bytes > 0 ? ": " + term::format_bytes(e.bytes) : std::string()) + ", " +
                    std::to_string(e.count) + "×") +
         "</title></path>\n";
  }
  s += "</g>\n<g class=\"nodes\">\n";
  for (size_t i = 0; i < dag.nodes().size(); ++i) {
    const graph::Node& n = dag.nodes()[i];
    const graph::layout::NodePlacement& p = layout.nodes[i];
    const std::string colour = executor_colour(where.executor[i]);
    const double left = p.x - p.width / 2, top = p.y - p.height / 2;
    s += "<g class=\"node\" data-id=\"" + std::to_string(n.id) + "\" data-executor=\"" + xml_escape(where.executor[i]) +
         "\"><title>" + xml_escape(tooltip(n, where.executor[i], where.inherited[i])) + "</title>";
    s += "<rect x=\"" + fmt(left) + "\" y=\"" + fmt(top) + "\" width=\"" + fmt(p.width) + "\" height=\"" +
         fmt(p.height) + "\" rx=\"5\" fill=\"" + colour + "\" fill-opacity=\"" +
         (where.inherited[i] ? "0.14" : "0.24") + "\" stroke=\"" + colour + "\" stroke-width=\"1.4\"" +
         (where.inherited[i] ? " stroke-dasharray=\"3 2\"" : "") + "/>";
    s += "<text x=\"" + fmt(p.x) + "\" y=\"" + fmt(p.y - 2) +
         "\" font-size=\"11\" text-anchor=\"middle\" fill=\"#1d1d1d\">" + xml_escape(label_of(n)) + "</text>";
    s += "<text x=\"" + fmt(p.x) + "\" y=\"" + fmt(p.y + 11) +
         "\" font-size=\"9\" text-anchor=\"middle\" fill=\"#555\">" +
         xml_escape(term::format_ns(n.cpu_ns) + " · " + std::to_string(n.calls) + "×") + "</text></g>\n";
  }
  s += "</g>\n</g>\n</svg>\n";
  return s;
}

}  // namespace codedag::report
