// HEFT-like list scheduling, the baseline: visit function groups in data order and put each on
// the executor that keeps the partial bottleneck lowest (then the least work), never breaking a
// constraint. Cheap, deterministic, and a fair stand-in for what a hand-tuned rule would do.
#include <algorithm>

#include "codedag/graph/partition/partition.hpp"

namespace codedag::graph::detail {

GroupOrder group_order(const Problem& p) {
  const int n = p.groups;
  GroupOrder out;
  out.comp.assign(n, -1);
  // Iterative Tarjan: components come out in reverse topological order.
  std::vector<int> index(n, -1), low(n, 0), stack;
  std::vector<char> on_stack(n, 0);
  std::vector<std::vector<int>> comps;
  int counter = 0;
  std::vector<std::pair<int, int>> call;  // (group, next out-arc position)
  for (int root = 0; root < n; ++root) {
    if (index[root] >= 0) continue;
    call.push_back({root, p.out_begin[root]});
    index[root] = low[root] = counter++;
    stack.push_back(root);
    on_stack[root] = 1;
    while (!call.empty()) {
      auto& [g, pos] = call.back();
      if (pos < p.out_begin[g + 1]) {
        const int v = p.arcs[p.out_arcs[pos++]].v;
        if (index[v] < 0) {
          index[v] = low[v] = counter++;
          stack.push_back(v);
          on_stack[v] = 1;
          call.push_back({v, p.out_begin[v]});
        } else if (on_stack[v]) {
          low[g] = std::min(low[g], index[v]);
        }
        continue;
      }
      if (low[g] == index[g]) {
        comps.emplace_back();
        int w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = 0;
          out.comp[w] = static_cast<int>(comps.size()) - 1;
          comps.back().push_back(w);
        } while (w != g);
      }
      const int done = g;
      call.pop_back();
      if (!call.empty()) low[call.back().first] = std::min(low[call.back().first], low[done]);
    }
  }
  // Tarjan numbers components so that arcs go from higher to lower numbers: blocked flows backwards.
  std::vector<char> comp_blocked(comps.size(), 0);
  for (size_t c = 0; c < comps.size(); ++c)
    for (const int g : comps[c]) {
      if (!p.eligible[g]) comp_blocked[c] = 1;
      for (int i = p.out_begin[g]; i < p.out_begin[g + 1]; ++i)
        if (comp_blocked[out.comp[p.arcs[p.out_arcs[i]].v]]) comp_blocked[c] = 1;
    }
  out.blocked.assign(n, 0);
  for (int g = 0; g < n; ++g) out.blocked[g] = comp_blocked[out.comp[g]];
  for (size_t c = comps.size(); c-- > 0;) {
    std::sort(comps[c].begin(), comps[c].end());
    for (const int g : comps[c]) out.order.push_back(g);
  }
  return out;
}

Solution greedy_list_schedule(const Problem& p) {
  const GroupOrder go = group_order(p);
  const int E = p.E();
  Solution s;
  s.exec.assign(p.groups, -1);
  std::vector<double> stage(p.train);
  std::vector<int> used(E, 0);
  int mains = 0;
  std::vector<double> trial(E);
  // Walk components as units: one executor per component keeps cycles of one function together.
  for (size_t i = 0; i < go.order.size();) {
    size_t j = i;
    while (j < go.order.size() && go.comp[go.order[j]] == go.comp[go.order[i]]) ++j;
    bool pred_on_main = false;
    for (size_t x = i; x < j; ++x) {
      const int g = go.order[x];
      for (int a = p.in_begin[g]; a < p.in_begin[g + 1]; ++a) {
        const int u = p.arcs[p.in_arcs[a]].u;
        if (s.exec[u] > 0) pred_on_main = true;
      }
    }
    int best_e = -1;
    double best_max = kInfinity, best_sum = kInfinity;
    for (int e = 0; e < E; ++e) {
      if (e == 0 && pred_on_main) continue;
      if (e != 0 && (go.blocked[go.order[i]] || (used[e] == 0 && mains >= p.max_main))) continue;
      trial = stage;
      for (size_t x = i; x < j; ++x) {
        const int g = go.order[x];
        trial[e] += p.t(g, e);
        for (int a = p.in_begin[g]; a < p.in_begin[g + 1]; ++a) {
          const GroupArc& arc = p.arcs[p.in_arcs[a]];
          const int z = s.exec[arc.u];
          if (z < 0 || z == e) continue;
          const double c = p.arc_cost(arc, z, e);
          if (z != 0) trial[z] += c;
          if (e != 0) trial[e] += c;
        }
      }
      double mx = 0, sum = 0;
      for (const double v : trial) {
        mx = std::max(mx, v);
        sum += v;
      }
      const bool tie = same_cost(mx, best_max);
      if ((!tie && mx < best_max) || (tie && sum < best_sum && !same_cost(sum, best_sum))) {
        best_e = e;
        best_max = mx;
        best_sum = sum;
      }
    }
    if (best_e < 0) best_e = 0;  // unreachable: cpu is allowed whenever no predecessor moved
    for (size_t x = i; x < j; ++x) s.exec[go.order[x]] = best_e;
    if (best_e != 0 && used[best_e]++ == 0) ++mains;
    // Recompute the stage vector with the chosen executor.
    for (size_t x = i; x < j; ++x) {
      const int g = go.order[x];
      stage[best_e] += p.t(g, best_e);
      for (int a = p.in_begin[g]; a < p.in_begin[g + 1]; ++a) {
        const GroupArc& arc = p.arcs[p.in_arcs[a]];
        const int z = s.exec[arc.u];
        if (z < 0 || z == best_e || arc.u == g) continue;
        // Arcs inside the component were both assigned now; count each once (from its consumer).
        const double c = p.arc_cost(arc, z, best_e);
        if (z != 0) stage[z] += c;
        if (best_e != 0) stage[best_e] += c;
      }
    }
    i = j;
  }
  score(p, s);
  return s;
}

}  // namespace codedag::graph::detail
