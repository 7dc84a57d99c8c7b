#include "codedag/graph/model/dot.hpp"

#include <sstream>

#include "codedag/common/terminal.hpp"
#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

const char* fill_for(const std::string& executor) {
  if (executor == "cpu") return "#dbeafe";
  if (executor == "batch:cpu") return "#fde68a";
  if (executor.rfind("cuda", 0) == 0) return "#bbf7d0";
  return "#e5e7eb";
}

}  // namespace

std::string to_dot(const Dag& dag, const std::map<int64_t, std::string>* executor_of) {
  std::ostringstream out;
  out << "digraph codedag {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f3f4f6\", "
         "fontname=\"Helvetica\"];\n";
  for (const Node& n : dag.nodes()) {
    std::string label = n.name + "\n" + term::format_ns(n.cpu_ns) + " × " + std::to_string(n.calls);
    std::string fill = "#f3f4f6";
    if (executor_of) {
      if (const auto it = executor_of->find(n.id); it != executor_of->end()) {
        label += "\n[" + it->second + "]";
        fill = fill_for(it->second);
      }
    }
    out << "  n" << n.id << " [label=" << quoted(label) << ", fillcolor=" << quoted(fill)
        << ", tooltip=" << quoted(n.qualname) << "];\n";
  }
  for (const Edge& e : dag.edges()) {
    out << "  n" << e.src << " -> n" << e.dst;
    if (e.kind == EdgeKind::call)
      out << " [style=dashed, color=\"#9ca3af\"]";
    else
      out << " [label=" << quoted(term::format_bytes(e.bytes)) << "]";
    out << ";\n";
  }
  out << "}\n";
  return out.str();
}

}  // namespace codedag::graph
