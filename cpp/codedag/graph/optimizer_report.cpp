// summary.md: what a person reads after an optimisation — what moves where and why it pays.
#include <algorithm>
#include <sstream>

#include "codedag/common/terminal.hpp"
#include "codedag/graph/optimizer.hpp"

namespace codedag::graph {
namespace {

std::string pct(double x) {
  std::ostringstream s;
  s.precision(1);
  s << std::fixed << x * 100 << " %";
  return s.str();
}

std::string ratio(double x) {
  std::ostringstream s;
  s.precision(2);
  s << std::fixed << x << "x";
  return s.str();
}

}  // namespace

std::string summary_markdown(const Dag& original, const OptimizeResult& r) {
  using term::format_bytes;
  using term::format_ns;
  const Dag& coarse = r.coarse.dag;
  std::ostringstream md;
  md << "# CodeDAG optimisation\n\n";
  md << "| setting | value |\n| --- | --- |\n";
  md << "| contexts traced | " << original.nodes().size() << " |\n";
  md << "| contexts after coarsening | " << coarse.nodes().size() << " (" << r.groups << " functions) |\n";
  md << "| executors | ";
  for (size_t i = 0; i < r.executors.size(); ++i) md << (i ? ", " : "") << "`" << r.executors[i] << "`";
  md << " |\n| k (partitions) | " << r.k << " |\n| DataLoader workers | " << r.model.workers << " |\n";
  md << "| method | " << r.partition.method << " |\n\n";

  md << "## Verdict\n\n";
  md << "- cost per batch: **" << format_ns(r.breakdown.cost) << "** (bottleneck `" << r.breakdown.bottleneck
     << "`), all-cpu baseline " << format_ns(r.breakdown.baseline_cost) << "\n";
  md << "- predicted speedup: **" << ratio(r.breakdown.predicted_speedup) << "**\n";
  md << "- lower bound: " << format_ns(r.partition.lower_bound) << " (gap " << pct(r.partition.gap())
     << (r.partition.proved_optimal ? ", proved optimal" : "") << ")\n";
  md << "- greedy list-scheduling baseline: " << format_ns(r.partition.greedy.cost) << "\n\n";

  md << "## Stage times per batch\n\n| executor | stage | compute | transfers | training | contexts |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (const StageTime& s : r.breakdown.stages)
    md << "| `" << s.executor << "` | " << format_ns(s.stage_ns) << " | " << format_ns(s.node_ns) << " | "
       << format_ns(s.transfer_ns) << " | " << format_ns(s.train_ns) << " | " << s.nodes << " |\n";

  md << "\n## What moves where\n\n";
  std::vector<size_t> moved;
  for (size_t i = 0; i < coarse.nodes().size(); ++i)
    if (r.placement.of_node[i] != 0) moved.push_back(i);
  if (moved.empty()) {
    md << "Nothing: every context stays in the DataLoader workers (no move lowers the cost).\n";
  } else {
    std::sort(moved.begin(), moved.end(),
              [&](size_t a, size_t b) { return coarse.nodes()[a].cpu_ns > coarse.nodes()[b].cpu_ns; });
    md << "| function | to | cpu time | time there | mode |\n| --- | --- | ---: | ---: | --- |\n";
    for (const size_t i : moved) {
      const Node& n = coarse.nodes()[i];
      const std::string& ex = r.executors[r.placement.of_node[i]];
      const auto mode = r.plan.modes.find(n.qualname);
      md << "| `" << n.qualname << "` | `" << ex << "` | " << format_ns(n.cpu_ns) << " | "
         << format_ns(r.model.node_time_ns(n, ex)) << " | " << (mode == r.plan.modes.end() ? "" : mode->second)
         << " |\n";
    }
  }
  if (!r.breakdown.transfers.empty()) {
    md << "\n## Transfers\n\n| from | to | bytes | time |\n| --- | --- | ---: | ---: |\n";
    auto transfers = r.breakdown.transfers;
    std::sort(transfers.begin(), transfers.end(),
              [](const TransferTime& a, const TransferTime& b) { return a.ns > b.ns; });
    for (size_t i = 0; i < transfers.size() && i < 20; ++i) {
      const TransferTime& t = transfers[i];
      md << "| `" << coarse.node(t.src).qualname << "` (" << t.from << ") | `" << coarse.node(t.dst).qualname << "` ("
         << t.to << ") | " << format_bytes(t.bytes) << " | " << format_ns(t.ns) << " |\n";
    }
  }
  md << "\nFiles: `dag.json` (as traced), `coarsened_dag.json`, `partitions.json`, `plan.json` "
        "(codedag.plan/1, apply with codedag.PipelineMigrator), `dag.dot` (render: `dot -Tsvg dag.dot -o dag.svg`).\n";
  return md.str();
}

}  // namespace codedag::graph
