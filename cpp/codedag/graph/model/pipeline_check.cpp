#include "codedag/graph/model/pipeline_check.hpp"

#include <algorithm>

#include "codedag/common/error.hpp"

namespace codedag::graph {
namespace {

int64_t meta_int(const Dag& dag, const char* key) {
  const json& m = dag.meta;
  return m.is_object() && m.contains(key) && m.at(key).is_number_integer() ? m.at(key).get<int64_t>() : 0;
}

bool traced_by_codedag(const Dag& dag) {
  const json& m = dag.meta;
  return m.is_object() && m.value("producer", std::string()) == "codedag.EnhancedTracer";
}

std::string tracer_diagnostics(const Dag& dag) {
  const json& m = dag.meta;
  if (!m.is_object() || !m.contains("diagnostics") || !m.at("diagnostics").is_array()) return {};
  std::string out;
  for (const json& d : m.at("diagnostics"))
    if (d.is_string()) out += (out.empty() ? "" : "; ") + d.get<std::string>();
  return out;
}

// The one library decision, written on every node at DAG build; a builtin is never the user's code.
bool library_node(const Node& n) { return n.library || n.kind == "builtin"; }

bool dataloader_machinery(const Node& n) { return n.module.rfind("torch.utils.data", 0) == 0; }

std::string empty_cause(const Dag& dag) {
  if (std::string d = tracer_diagnostics(dag); !d.empty()) return "the tracer reported: " + d;
  if (meta_int(dag, "unarmed_batches") > 0)
    return "the DataLoader iterator was created before any EnhancedTracer existed, so its workers ran "
           "untraced; create the EnhancedTracer before iter(loader)";
  if (meta_int(dag, "untraced_worker_batches") > 0)
    return "the batches consumed were fetched by DataLoader workers past the batches they trace per epoch; "
           "pass EnhancedTracer(worker_batches=N) or trace right after iter(loader)";
  if (traced_by_codedag(dag) && meta_int(dag, "workers") > 0)
    return "the traced code ran outside the context, or the batches' workers streamed nothing (see the "
           "tracer's warnings); trace `next(iter(loader))` inside tracing_context()";
  return "the traced code ran outside the context, or everything it ran was filtered out (the standard "
         "library, DataLoader machinery, exclude patterns); trace `next(iter(loader))` inside tracing_context()";
}

}  // namespace

PipelineVerdict check_pipeline(const Dag& dag) {
  PipelineVerdict v;
  const auto& nodes = dag.nodes();
  auto refuse = [&](std::string problem, std::string cause) {
    v.usable = false;
    v.problem = std::move(problem);
    v.cause = std::move(cause);
    return v;
  };
  if (nodes.empty()) return refuse("0 contexts", empty_cause(dag));
  if (std::none_of(nodes.begin(), nodes.end(), [](const Node& n) { return n.calls > 0; }))
    return refuse(std::to_string(nodes.size()) + " contexts, none of which completed a call",
                  "tracing stopped before any traced call returned; trace a whole batch");
  double cpu = 0;
  for (const Node& n : nodes) cpu += n.cpu_ns;
  if (cpu <= 0)
    return refuse(std::to_string(nodes.size()) + " contexts with no time recorded",
                  "the DAG carries no cpu_ns to place; trace the pipeline again");
  if (std::all_of(nodes.begin(), nodes.end(), [](const Node& n) { return library_node(n) || dataloader_machinery(n); }))
    return refuse("all work in library code (" + std::to_string(nodes.size()) + " contexts, none of the user's own)",
                  "no user function was recorded, so no plan can move anything: the dataset and transforms are "
                  "library classes (e.g. TensorDataset) or the traced block called library code directly; trace "
                  "a pipeline whose __getitem__ or transforms are your own code");
  return v;
}

void require_pipeline(const Dag& dag, const std::string& origin) {
  const PipelineVerdict v = check_pipeline(dag);
  if (!v.usable) throw InputError(origin + ": " + v.message());
}

}  // namespace codedag::graph
