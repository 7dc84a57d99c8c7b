#include "codedag/graph/partition/mincut.hpp"

#include <algorithm>
#include <cmath>

namespace codedag::graph::detail {
namespace {
constexpr int64_t kInfCap = int64_t{1} << 60;
// Finite capacities sum to at most 2^52, far below kInfCap, so no finite cut reaches it.
constexpr double kCapBudget = 4503599627370496.0;  // 2^52
}  // namespace

ClosureSolver::ClosureSolver(const Problem& p, const std::vector<char>& pinned) : pinned_(pinned) {
  n_ = p.groups + 2;
  s_ = p.groups;
  t_ = p.groups + 1;
  std::vector<std::pair<int, int>> ends;
  auto add = [&](int u, int v, int64_t cap) {
    ends.push_back({u, v});
    arcs_.push_back({v, cap});
    ends.push_back({v, u});
    arcs_.push_back({u, 0});
  };
  source_arc_.assign(p.groups, -1);
  sink_arc_.assign(p.groups, -1);
  for (int g = 0; g < p.groups; ++g) {
    source_arc_[g] = static_cast<int>(arcs_.size());
    add(s_, g, 0);
    sink_arc_[g] = static_cast<int>(arcs_.size());
    add(g, t_, 0);
  }
  for (const GroupArc& a : p.arcs) add(a.u, a.v, kInfCap);
  // CSR adjacency: arcs leaving each node, grouped for cache-friendly scans.
  adj_begin_.assign(n_ + 1, 0);
  for (const auto& [u, v] : ends) ++adj_begin_[u + 1];
  for (int i = 0; i < n_; ++i) adj_begin_[i + 1] += adj_begin_[i];
  adj_.assign(ends.size(), 0);
  std::vector<int> fill(adj_begin_.begin(), adj_begin_.end() - 1);
  for (size_t i = 0; i < ends.size(); ++i) adj_[fill[ends[i].first]++] = static_cast<int>(i);
  base_cap_.resize(arcs_.size());
  for (size_t i = 0; i < arcs_.size(); ++i) base_cap_[i] = arcs_[i].cap;
  level_.assign(n_, -1);
  it_.assign(n_, 0);
}

bool ClosureSolver::bfs() {
  std::fill(level_.begin(), level_.end(), -1);
  std::vector<int> queue;
  queue.reserve(n_);
  queue.push_back(s_);
  level_[s_] = 0;
  for (size_t h = 0; h < queue.size(); ++h) {
    const int u = queue[h];
    for (int k = adj_begin_[u]; k < adj_begin_[u + 1]; ++k) {
      const Arc& a = arcs_[adj_[k]];
      if (a.cap > 0 && level_[a.to] < 0) {
        level_[a.to] = level_[u] + 1;
        queue.push_back(a.to);
      }
    }
  }
  return level_[t_] >= 0;
}

int64_t ClosureSolver::push(int root, int64_t limit) {
  // Iterative DFS along the level graph (a 100k-node chain must not overflow the stack).
  std::vector<int> path;  // arc ids from root
  int64_t total = 0;
  int u = root;
  while (true) {
    if (u == t_) {
      int64_t f = limit - total;
      for (const int id : path) f = std::min(f, arcs_[id].cap);
      for (const int id : path) {
        arcs_[id].cap -= f;
        arcs_[id ^ 1].cap += f;
      }
      total += f;
      if (total == limit) return total;
      path.clear();
      u = root;
      continue;
    }
    bool advanced = false;
    for (int& k = it_[u]; k < adj_begin_[u + 1]; ++k) {
      const int id = adj_[k];
      const Arc& a = arcs_[id];
      if (a.cap > 0 && level_[a.to] == level_[u] + 1) {
        path.push_back(id);
        u = a.to;
        advanced = true;
        break;
      }
    }
    if (advanced) continue;
    // Dead end: retreat one step and never try u again in this phase.
    level_[u] = -1;
    if (path.empty()) return total;
    const int id = path.back();
    path.pop_back();
    u = arcs_[id ^ 1].to;
    ++it_[u];
  }
}

int64_t ClosureSolver::max_flow() {
  int64_t flow = 0;
  while (bfs()) {
    for (int u = 0; u < n_; ++u) it_[u] = adj_begin_[u];
    flow += push(s_, kInfCap);
  }
  return flow;
}

std::vector<char> ClosureSolver::solve(const std::vector<double>& w, double& weight, double& slack) {
  const int G = n_ - 2;
  double total = 0;
  for (int g = 0; g < G; ++g)
    if (!pinned_[g]) total += std::fabs(w[g]);
  const double scale = total > 0 ? kCapBudget / total : 1.0;
  for (size_t i = 0; i < arcs_.size(); ++i) arcs_[i].cap = base_cap_[i];
  for (int g = 0; g < G; ++g) {
    if (pinned_[g]) {
      arcs_[sink_arc_[g]].cap = kInfCap;
      continue;
    }
    const int64_t c = std::llround(w[g] * scale);
    if (c < 0)
      arcs_[source_arc_[g]].cap = -c;
    else
      arcs_[sink_arc_[g]].cap = c;
  }
  max_flow();
  // The source side of the minimum cut is the closure.
  std::vector<char> in(n_, 0);
  std::vector<int> stack = {s_};
  in[s_] = 1;
  while (!stack.empty()) {
    const int u = stack.back();
    stack.pop_back();
    for (int k = adj_begin_[u]; k < adj_begin_[u + 1]; ++k) {
      const Arc& a = arcs_[adj_[k]];
      if (a.cap > 0 && !in[a.to]) {
        in[a.to] = 1;
        stack.push_back(a.to);
      }
    }
  }
  std::vector<char> chosen(in.begin(), in.begin() + G);
  weight = 0;
  for (int g = 0; g < G; ++g)
    if (chosen[g]) weight += w[g];
  // Each rounded capacity is off by at most 1/(2 scale): the rounded optimum and the true one differ
  // by at most twice the sum of those errors.
  slack = static_cast<double>(G) / scale;
  return chosen;
}

}  // namespace codedag::graph::detail
