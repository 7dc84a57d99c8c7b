// Branch and bound over function groups, for graphs small enough to prove optimal. Groups are
// visited in data order, so when a group is placed its producers already are: a placement that
// breaks "no data edge back to cpu" is cut at once, and stage times only grow as the search goes
// deeper — the partial bottleneck is a valid bound. A second bound spreads the remaining groups'
// cheapest contributions over all executors.
#include <algorithm>

#include "codedag/graph/partition/partition.hpp"

namespace codedag::graph::detail {
namespace {

class Search {
 public:
  Search(const Problem& p, const Solution& incumbent, int64_t limit)
      : p_(p), go_(group_order(p)), best_(incumbent), limit_(limit) {
    const int n = p.groups;
    E_ = p.E();
    exec_.assign(n, -1);
    stage_ = p.train;
    used_.assign(E_, 0);
    rest_.assign(n + 1, 0.0);
    for (int i = n - 1; i >= 0; --i) {
      const int g = go_.order[i];
      double cheapest = p.t(g, 0);
      for (int e = 1; e < E_; ++e) cheapest = std::min(cheapest, p.t(g, e));
      rest_[i] = rest_[i + 1] + cheapest;
    }
  }

  void run() { visit(0); }
  const Solution& best() const { return best_; }
  int64_t nodes() const { return nodes_; }
  bool complete() const { return nodes_ <= limit_; }

 private:
  void visit(int i) {
    if (++nodes_ > limit_) return;
    if (i == p_.groups) {
      Solution s;
      s.exec = exec_;
      score(p_, s);
      if (better(s, best_)) best_ = std::move(s);
      return;
    }
    double sum = 0, mx = 0;
    for (const double v : stage_) {
      sum += v;
      mx = std::max(mx, v);
    }
    const double lb_max = std::max(mx, (sum + rest_[i]) / E_);
    const double lb_work = sum + rest_[i];
    if (lb_max > best_.cost && !same_cost(lb_max, best_.cost)) return;
    if ((same_cost(lb_max, best_.cost) || lb_max > best_.cost) &&
        (lb_work >= best_.work || same_cost(lb_work, best_.work)))
      return;

    const int g = go_.order[i];
    // Which executors are allowed for g given the groups already placed.
    bool pred_main = false, succ_cpu = false;
    for (int a = p_.in_begin[g]; a < p_.in_begin[g + 1]; ++a)
      if (exec_[p_.arcs[p_.in_arcs[a]].u] > 0) pred_main = true;
    for (int a = p_.out_begin[g]; a < p_.out_begin[g + 1]; ++a)
      if (exec_[p_.arcs[p_.out_arcs[a]].v] == 0) succ_cpu = true;
    int mains = 0;
    for (int e = 1; e < E_; ++e) mains += used_[e] > 0;

    // Try the executors in the order of the partial bottleneck they leave.
    std::vector<std::pair<double, int>> options;
    for (int e = 0; e < E_; ++e) {
      if (e == 0 && pred_main) continue;
      if (e != 0 && (go_.blocked[g] || succ_cpu || (used_[e] == 0 && mains >= p_.max_main))) continue;
      double after = stage_[e] + p_.t(g, e);
      options.push_back({after, e});
    }
    std::sort(options.begin(), options.end());
    for (const auto& [after, e] : options) {
      // Place g on e: its time and the transfers to every neighbour already placed.
      std::vector<double> saved = stage_;
      stage_[e] += p_.t(g, e);
      for (int a = p_.in_begin[g]; a < p_.in_begin[g + 1]; ++a)
        charge(p_.arcs[p_.in_arcs[a]], p_.arcs[p_.in_arcs[a]].u, e, true);
      for (int a = p_.out_begin[g]; a < p_.out_begin[g + 1]; ++a)
        charge(p_.arcs[p_.out_arcs[a]], p_.arcs[p_.out_arcs[a]].v, e, false);
      exec_[g] = e;
      ++used_[e];
      visit(i + 1);
      --used_[e];
      exec_[g] = -1;
      stage_ = std::move(saved);
      if (nodes_ > limit_) return;
    }
  }

  // Charges arc's transfer when its other end is placed and on another executor.
  void charge(const GroupArc& arc, int other, int e, bool other_is_src) {
    const int z = exec_[other];
    if (z < 0 || z == e) return;
    const double c = other_is_src ? p_.arc_cost(arc, z, e) : p_.arc_cost(arc, e, z);
    if (z != 0) stage_[z] += c;
    if (e != 0) stage_[e] += c;
  }

  const Problem& p_;
  GroupOrder go_;
  Solution best_;
  int64_t limit_;
  int64_t nodes_ = 0;
  int E_ = 0;
  std::vector<int> exec_;
  std::vector<double> stage_;
  std::vector<int> used_;
  std::vector<double> rest_;
};

}  // namespace

Solution exact_search(const Problem& p, const Solution& incumbent, int64_t node_limit, int64_t& nodes, bool& proved) {
  Search search(p, incumbent, node_limit);
  search.run();
  nodes = search.nodes();
  proved = search.complete();
  return search.best();
}

}  // namespace codedag::graph::detail
