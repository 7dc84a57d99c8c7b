// The name -> partitioner registry and the "auto" policy.
#include <algorithm>
#include <map>

#include "codedag/common/error.hpp"
#include "codedag/graph/partition/partition.hpp"

namespace codedag::graph {
namespace {

using detail::exact_search;
using detail::greedy_list_schedule;

// Every result is judged against the same two baselines, whichever algorithm produced it.
PartitionResult finish(const Problem& p, PartitionResult r) {
  r.baseline = all_cpu(p);
  if (r.greedy.exec.empty()) r.greedy = greedy_list_schedule(p);
  if (better(r.greedy, r.best)) {
    r.best = r.greedy;
    r.method += " (greedy kept)";
  }
  if (better(r.baseline, r.best)) {
    r.best = r.baseline;
    r.method += " (all-cpu kept)";
  }
  if (r.proved_optimal) r.lower_bound = r.best.cost;
  r.lower_bound = std::min(r.lower_bound, r.best.cost);
  return r;
}

class Exact final : public Partitioner {
 public:
  std::string name() const override { return "exact"; }
  std::string description() const override { return "branch and bound over function groups (proved optimal)"; }
  PartitionResult partition(const Problem& p, const PartitionOptions& o) const override {
    PartitionResult r;
    r.greedy = greedy_list_schedule(p);
    Solution start = all_cpu(p);
    if (better(r.greedy, start)) start = r.greedy;
    bool proved = false;
    r.best = exact_search(p, start, o.exact_node_limit, r.search_nodes, proved);
    r.proved_optimal = proved;
    r.method = proved ? "exact" : "exact (node limit reached)";
    if (!proved) {
      // Out of budget: the bound of the parametric search is still valid.
      const auto par = detail::parametric(p, o);
      r.lower_bound = par.lower_bound;
      r.cuts = par.cuts;
      if (better(par.best, r.best)) r.best = par.best;
    }
    return finish(p, std::move(r));
  }
};

class Parametric final : public Partitioner {
 public:
  std::string name() const override { return "parametric"; }
  std::string description() const override {
    return "parametric min-cut on the closure constraint with a Lagrangian lower bound, then local refinement";
  }
  PartitionResult partition(const Problem& p, const PartitionOptions& o) const override {
    PartitionResult r;
    auto par = detail::parametric(p, o);
    r.best = std::move(par.best);
    r.lower_bound = par.lower_bound;
    r.cuts = par.cuts;
    r.refinement_passes = par.passes;
    r.method = "parametric";
    return finish(p, std::move(r));
  }
};

class Greedy final : public Partitioner {
 public:
  std::string name() const override { return "greedy"; }
  std::string description() const override { return "HEFT-like list scheduling (the baseline)"; }
  PartitionResult partition(const Problem& p, const PartitionOptions&) const override {
    PartitionResult r;
    r.greedy = greedy_list_schedule(p);
    r.best = r.greedy;
    r.method = "greedy";
    r.lower_bound = 0;  // greedy proves nothing
    return finish(p, std::move(r));
  }
};

class Auto final : public Partitioner {
 public:
  std::string name() const override { return "auto"; }
  std::string description() const override { return "exact up to exact_max_groups function groups, parametric beyond"; }
  PartitionResult partition(const Problem& p, const PartitionOptions& o) const override {
    if (p.groups <= o.exact_max_groups) return Exact().partition(p, o);
    return Parametric().partition(p, o);
  }
};

const std::map<std::string, std::unique_ptr<Partitioner>>& registry() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, std::unique_ptr<Partitioner>>();
    for (Partitioner* impl : std::initializer_list<Partitioner*>{new Auto, new Exact, new Parametric, new Greedy})
      t->emplace(impl->name(), impl);
    return t;
  }();
  return *table;
}

}  // namespace

PartitionOptions PartitionOptions::preset(const std::string& name) {
  PartitionOptions o;
  if (name == "default") return o;
  if (name == "fast") {
    o.lambda_steps = 12;
    o.max_iterations = 10;
    o.exact_max_groups = 10;
    return o;
  }
  if (name == "exact") {
    o.algorithm = "auto";
    o.exact_max_groups = 22;
    o.exact_node_limit = 500'000'000;
    return o;
  }
  throw InputError("unknown optimizer preset '" + name + "'; known presets: default, fast, exact");
}

const Partitioner& partitioner(const std::string& name) {
  const auto& t = registry();
  const auto it = t.find(name);
  if (it == t.end()) {
    std::string known;
    for (const auto& [key, impl] : t) known += (known.empty() ? "" : ", ") + key;
    throw InputError("unknown partitioning algorithm '" + name + "'; known: " + known);
  }
  return *it->second;
}

std::vector<std::string> partitioner_names() {
  std::vector<std::string> out;
  for (const auto& [key, impl] : registry()) out.push_back(key);
  return out;
}

PartitionResult partition(const Problem& p, const PartitionOptions& o) {
  if (o.max_iterations < 0)
    throw InputError("max_iterations must not be negative, got " + std::to_string(o.max_iterations));
  return partitioner(o.algorithm).partition(p, o);
}

}  // namespace codedag::graph
