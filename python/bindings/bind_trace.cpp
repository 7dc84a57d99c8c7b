// Bindings of the trace area: codedag._core.TraceSession (the hook, see bind_trace_hook.hpp) and
// codedag._core.TraceTree (a named context tree: merge worker streams, build the DAG, write the
// Chrome trace). The Python face is codedag.core.tracer.EnhancedTracer.
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "bind_trace_hook.hpp"
#include "bindings.hpp"
#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"
#include "codedag/trace/chrome_trace.hpp"
#include "codedag/trace/dag_builder.hpp"
#include "codedag/trace/worker_stream.hpp"

namespace codedag::bindings {

using tracehook::Session;
using tracehook::SessionConfig;

void add_trace(nb::module_& m) {
  nb::class_<Session>(m, "TraceSession", "The C++ profiling hook of one EnhancedTracer (internal).")
      .def(
          "__init__",
          [](Session* s, int max_depth, bool track_memory, std::vector<std::string> own_prefixes,
             std::vector<std::string> machinery_prefixes, std::vector<std::string> stdlib_prefixes,
             std::vector<std::string> stdlib_modules, std::vector<std::string> include,
             std::vector<std::string> exclude, size_t max_spans, std::vector<std::string> library_prefixes,
             std::vector<std::string> user_prefixes) {
            if (max_depth < 1) throw InputError("max_depth must be at least 1 (got " + std::to_string(max_depth) + ")");
            SessionConfig c;
            c.max_depth = max_depth;
            c.track_memory = track_memory;
            c.max_spans = max_spans;
            c.rules.own_prefixes = std::move(own_prefixes);
            c.rules.machinery_prefixes = std::move(machinery_prefixes);
            c.rules.stdlib_prefixes = std::move(stdlib_prefixes);
            c.rules.stdlib_modules = std::move(stdlib_modules);
            c.rules.library_prefixes = std::move(library_prefixes);
            c.rules.user_prefixes = std::move(user_prefixes);
            c.rules.include = std::move(include);
            c.rules.exclude = std::move(exclude);
            new (s) Session(std::move(c));
          },
          nb::arg("max_depth") = 10, nb::arg("track_memory") = true, nb::arg("own_prefixes"),
          nb::arg("machinery_prefixes"), nb::arg("stdlib_prefixes"), nb::arg("stdlib_modules"), nb::arg("include"),
          nb::arg("exclude"), nb::arg("max_spans") = 1'000'000,
          nb::arg("library_prefixes") = std::vector<std::string>(),
          nb::arg("user_prefixes") = std::vector<std::string>())
      .def("start", [](Session& s) { s.start(nb::find(&s).ptr()); })
      .def("stop", &Session::stop)
      .def_prop_ro("active", &Session::active)
      .def_prop_ro("events", &Session::events)
      .def(
          "resolve", [](Session& s, nb::handle covered) { return s.resolve(covered.ptr()); },
          nb::arg("covered") = nb::none(), "The named context tree recorded so far.")
      .def("stream_to", &Session::stream_to, nb::arg("path"), nb::arg("worker"), nb::arg("epoch"), nb::arg("batch"))
      .def("set_covered", [](Session& s, nb::handle covered) { s.set_covered(covered.ptr()); })
      .def("set_batch", &Session::set_batch, nb::arg("epoch"), nb::arg("batch"))
      .def("finish_batch", &Session::finish_batch)
      .def("clear", &Session::clear)
      .def_prop_ro(
          "failure",
          [](const Session& s) -> std::optional<std::string> {
            if (s.failure().empty()) return std::nullopt;
            return s.failure();
          },
          "The hook's failure since start() (it then stopped recording), or None.")
      .def_prop_ro("diagnostics", &Session::diagnostics)
      .def("add_diagnostic", &Session::add_diagnostic, nb::arg("message"))
      .def("_fail_after_contexts", &Session::fail_after_contexts, nb::arg("n"),
           "Tests only: the hook throws when it creates context n (and later ones); -1: never.");

  m.def("_trace_after_fork", &Session::discard_after_fork,
        "In a forked child: drop the hook inherited from the parent (os.register_at_fork).");
  m.def("_trace_installed", [] { return Session::installed() != nullptr; });
  m.def("_trace_mechanism", [] { return std::string(tracehook::install::mechanism()); });
  m.def(
      "_trace_floor",
      [](bool on) {
        if (Session::installed()) throw StateError("a tracer is active; the floor hook is for the benchmark alone");
        on ? tracehook::install::attach_floor() : tracehook::install::detach_floor();
      },
      nb::arg("on"), "Benchmark only: the hook's mechanism with no work per event.");

  nb::class_<trace::ResolvedTree>(m, "TraceTree", "A named context tree (what the tracer recorded).")
      .def(nb::init<>())
      .def("__len__", [](const trace::ResolvedTree& t) { return t.contexts.size(); })
      .def_prop_ro("span_count", [](const trace::ResolvedTree& t) { return t.spans.size(); })
      .def_prop_ro("diagnostics", [](const trace::ResolvedTree& t) { return t.diagnostics; })
      .def("merge", [](trace::ResolvedTree& t, const trace::ResolvedTree& other) { t.merge(other); })
      .def(
          "merge_streams",
          [](trace::ResolvedTree& t, const std::vector<std::string>& paths,
             const std::vector<std::pair<int64_t, int64_t>>& batches) {
            const trace::MergeStats st =
                trace::merge_streams(t, paths, std::set<std::pair<int64_t, int64_t>>(batches.begin(), batches.end()));
            nb::dict out;
            out["records"] = st.records;
            out["partial_batches"] = st.partial_batches;
            out["torn_tails"] = st.torn_tails;
            out["batches_found"] = st.batches_found;
            out["worker_pids"] = std::vector<int64_t>(st.worker_pids.begin(), st.worker_pids.end());
            return out;
          },
          nb::arg("paths"), nb::arg("batches"),
          "Merge the worker stream records of `batches` [(epoch, batch), ...] from `paths`.")
      .def(
          "build_dag",
          [](const trace::ResolvedTree& t, int64_t batches, bool registry_available, nb::handle meta,
             const std::map<std::string, std::pair<bool, std::optional<std::string>>>& libraries) {
            trace::DagBuildOptions o;
            o.batches = batches;
            o.registry_available = registry_available;
            if (meta && !meta.is_none()) o.meta = to_json(meta);
            for (const auto& [module, decision] : libraries) o.libraries[module] = {decision.first, decision.second};
            return trace::build_dag(t, o);
          },
          nb::arg("batches") = 1, nb::arg("registry_available") = false, nb::arg("meta") = nb::none(),
          nb::arg("libraries") = std::map<std::string, std::pair<bool, std::optional<std::string>>>{},
          "The DAG; `libraries` maps module -> (library, distribution) from codedag.libraries.decide.")
      .def("modules", &trace::context_modules, "The distinct modules of the recorded contexts.")
      .def("save_chrome_trace", &trace::save_chrome_trace_file, nb::arg("path"), nb::arg("process_names"))
      .def(
          "apply_coverage",
          [](trace::ResolvedTree& t, const std::vector<std::string>& names) {
            t.apply_coverage(std::set<std::string>(names.begin(), names.end()));
          },
          nb::arg("registry_names"), "Re-judge coverage against the strategy registry's names.")
      .def("to_dict", [](const trace::ResolvedTree& t) { return from_json(t.to_json()); })
      .def_static("from_dict", [](nb::handle d) { return trace::ResolvedTree::from_json(to_json(d), "dict"); });
}

}  // namespace codedag::bindings
