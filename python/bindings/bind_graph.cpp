// The DAG model: codedag.Dag, codedag.Node, codedag.Edge.
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bind_optimizer.hpp"
#include "bindings.hpp"
#include "codedag/common/atomic_file.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/graph/model/dot.hpp"
#include "codedag/graph/model/pipeline_check.hpp"
#include "codedag/graph/model/summary.hpp"
#include "codedag/graph/model/topology.hpp"

namespace codedag::bindings {

using graph::Dag;
using graph::Edge;
using graph::EdgeKind;
using graph::Node;

void add_graph(nb::module_& m) {
  nb::enum_<EdgeKind>(m, "EdgeKind").value("data", EdgeKind::data).value("call", EdgeKind::call);

  nb::class_<Node>(m, "Node", "One traced context: a function at one place in the call tree.")
      .def(nb::init<>())
      .def_rw("id", &Node::id)
      .def_rw("name", &Node::name)
      .def_rw("qualname", &Node::qualname)
      .def_rw("module", &Node::module)
      .def_rw("file", &Node::file)
      .def_rw("line", &Node::line)
      .def_rw("kind", &Node::kind)
      .def_rw("parent", &Node::parent, nb::arg().none())
      .def_rw("depth", &Node::depth)
      .def_rw("calls", &Node::calls)
      .def_rw("cpu_ns", &Node::cpu_ns)
      .def_rw("total_ns", &Node::total_ns)
      .def_rw("out_bytes", &Node::out_bytes)
      .def_rw("gpu_eligible", &Node::gpu_eligible)
      .def_rw("library", &Node::library, "Library code (decided by codedag.libraries when traced).")
      .def_rw("distribution", &Node::distribution, nb::arg().none(),
              "The distribution providing the code (\"torch\", \"stdlib\"), None for the user's own.")
      .def_rw("gpu_ns", &Node::gpu_ns, nb::arg().none())
      .def_rw("batch_ns", &Node::batch_ns, nb::arg().none())
      .def_rw("arg_types", &Node::arg_types)
      .def_rw("ret_types", &Node::ret_types)
      .def_rw("lib_calls", &Node::lib_calls)
      .def_rw("blocked_by", &Node::blocked_by)
      .def("__repr__", [](const Node& n) {
        return "<Node " + std::to_string(n.id) + " " + n.qualname + " calls=" + std::to_string(n.calls) + ">";
      });

  nb::class_<Edge>(m, "Edge", "A data edge (producer -> consumer) or a call edge (parent -> child).")
      .def(nb::init<>())
      .def(
          "__init__",
          [](Edge* e, int64_t src, int64_t dst, EdgeKind kind, double bytes, int64_t count) {
            new (e) Edge{src, dst, kind, bytes, count};
          },
          nb::arg("src"), nb::arg("dst"), nb::arg("kind") = EdgeKind::data, nb::arg("bytes") = 0.0,
          nb::arg("count") = 1)
      .def_rw("src", &Edge::src)
      .def_rw("dst", &Edge::dst)
      .def_rw("kind", &Edge::kind)
      .def_rw("bytes", &Edge::bytes)
      .def_rw("count", &Edge::count)
      .def("__repr__", [](const Edge& e) {
        return "<Edge " + std::to_string(e.src) + " -> " + std::to_string(e.dst) + " " + graph::to_string(e.kind) + ">";
      });

  nb::class_<Dag>(m, "Dag", "The pipeline DAG (codedag.dag/1).")
      .def(nb::init<>())
      .def_prop_ro(
          "nodes", [](const Dag& d) { return d.nodes(); }, "A copy of the nodes, in file order.")
      .def(
          "pipeline_problem",
          [](const Dag& d) -> std::optional<std::string> {
            const graph::PipelineVerdict v = graph::check_pipeline(d);
            if (v.usable) return std::nullopt;
            return v.message();
          },
          "None when the DAG holds a pipeline to optimize; else what is wrong with it and the likely cause "
          "(an empty or trivial DAG: 0 contexts, all work in library code, ...).")
      .def_prop_ro(
          "edges", [](const Dag& d) { return d.edges(); }, "A copy of the edges, in file order.")
      .def_prop_rw(
          "meta", [](const Dag& d) { return from_json(d.meta); }, [](Dag& d, nb::handle v) { d.meta = to_json(v); })
      .def(
          "node", [](const Dag& d, int64_t id) { return d.node(id); }, nb::arg("id"))
      .def("__contains__", [](const Dag& d, int64_t id) { return d.contains(id); })
      .def(
          "add_node", [](Dag& d, const Node& n) { d.add_node(n); }, nb::arg("node"))
      .def("add_edge", &Dag::add_edge, nb::arg("edge"))
      .def(
          "validate", [](const Dag& d) { d.validate(); }, "Raise FormatError if parents dangle or data edges cycle.")
      .def("topological_order", [](const Dag& d) { return graph::topological_order(d); })
      .def_static("load", &Dag::load, nb::arg("path"), "Read and validate a codedag.dag/1 file.")
      .def("save", &Dag::save, nb::arg("path"), "Write codedag.dag/1 atomically.")
      .def_static(
          "from_dict", [](nb::handle doc) { return Dag::from_json(to_json(doc), "dict"); }, nb::arg("doc"))
      .def("to_dict", [](const Dag& d) { return from_json(d.to_json()); })
      .def(
          "to_dot",
          [](const Dag& d, std::optional<std::string> path, std::optional<std::map<int64_t, std::string>> placement) {
            const std::string text = graph::to_dot(d, placement ? &*placement : nullptr);
            if (path) write_file_atomic(*path, text);
            return text;
          },
          nb::arg("path") = nb::none(), nb::arg("placement") = nb::none(),
          "DOT text; also written to `path` when given. `placement` maps node id -> executor.")
      .def(
          "summary",
          [](const Dag& d, size_t top) {
            const graph::DagSummary s = graph::summarize(d, top);
            nb::dict out;
            out["nodes"] = s.nodes;
            out["data_edges"] = s.data_edges;
            out["call_edges"] = s.call_edges;
            out["gpu_eligible"] = s.gpu_eligible;
            out["max_depth"] = s.max_depth;
            out["total_cpu_ns"] = s.total_cpu_ns;
            nb::list hottest;
            for (const Node* n : s.hottest) hottest.append(n->id);
            out["hottest"] = hottest;
            return out;
          },
          nb::arg("top") = 10)
      .def("__len__", [](const Dag& d) { return d.nodes().size(); })
      .def("__repr__", [](const Dag& d) {
        return "<Dag nodes=" + std::to_string(d.nodes().size()) + " data_edges=" + std::to_string(d.data_edge_count()) +
               " call_edges=" + std::to_string(d.call_edge_count()) + ">";
      });

  add_optimizer(m);
}

}  // namespace codedag::bindings
