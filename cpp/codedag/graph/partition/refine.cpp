// Local refinement: move one function group at a time to another executor when that lowers the
// bottleneck, keeping every constraint (a group may leave cpu only if all its consumers are off
// cpu; it may return to cpu only if all its producers are on cpu). A plateau of the max is common
// with min-max objectives, so a move is also taken when the max stays and the sum of squared stage
// times falls (the load spreads); the best plan seen by (cost, work) is kept.
#include <algorithm>
#include <numeric>
#include <random>

#include "codedag/graph/cost/cost_model.hpp"
#include "codedag/graph/partition/partition.hpp"

namespace codedag::graph::detail {
namespace {

struct Potential {
  double max = 0, squares = 0, sum = 0;
};

// `max` is the plan's cost (stage_cost: the bottleneck, or the stages' sum / CPU budget when the
// model's workers and cores say so).
Potential potential(const Problem& problem, const std::vector<double>& stage) {
  Potential p;
  for (const double v : stage) {
    p.squares += v * v;
    p.sum += v;
  }
  p.max = stage_cost(stage, problem.main_cpu, problem.model);
  return p;
}

bool lower(const Potential& a, const Potential& b) {
  if (!same_cost(a.max, b.max)) return a.max < b.max;
  if (!same_cost(a.squares, b.squares)) return a.squares < b.squares;
  return a.sum < b.sum && !same_cost(a.sum, b.sum);
}

}  // namespace

int refine(const Problem& p, Solution& s, int max_passes, uint64_t seed) {
  if (s.cost == kInfinity || p.E() < 2) return 0;
  const int G = p.groups, E = p.E();
  const GroupOrder go = group_order(p);
  std::vector<double> stage = s.stage;
  std::vector<int> count(E, 0);
  for (int g = 0; g < G; ++g) ++count[s.exec[g]];
  int mains = 0;
  for (int e = 1; e < E; ++e) mains += count[e] > 0;
  std::vector<int> order(G);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  Solution best = s;
  std::vector<double> trial(E), best_trial(E);
  int passes = 0;
  for (; passes < max_passes; ++passes) {
    std::shuffle(order.begin(), order.end(), rng);
    bool moved_any = false;
    for (const int g : order) {
      const int x = s.exec[g];
      bool pred_main = false, succ_cpu = false;
      for (int a = p.in_begin[g]; a < p.in_begin[g + 1]; ++a)
        if (s.exec[p.arcs[p.in_arcs[a]].u] != 0) pred_main = true;
      for (int a = p.out_begin[g]; a < p.out_begin[g + 1]; ++a)
        if (s.exec[p.arcs[p.out_arcs[a]].v] == 0) succ_cpu = true;
      Potential here = potential(p, stage);
      int best_y = -1;
      Potential best_pot = here;
      for (int y = 0; y < E; ++y) {
        if (y == x) continue;
        if (y == 0 && pred_main) continue;
        if (y != 0 && (go.blocked[g] || succ_cpu)) continue;
        if (y != 0 && count[y] == 0 && mains - (x != 0 && count[x] == 1 ? 1 : 0) >= p.max_main) continue;
        trial = stage;
        trial[x] -= p.t(g, x);
        trial[y] += p.t(g, y);
        auto shift = [&](const GroupArc& arc, int other, bool other_is_src) {
          const int z = s.exec[other];
          if (z != x) {  // the old transfer goes away
            const double c = other_is_src ? p.arc_cost(arc, z, x) : p.arc_cost(arc, x, z);
            if (z != 0) trial[z] -= c;
            if (x != 0) trial[x] -= c;
          }
          if (z != y) {  // the new one appears
            const double c = other_is_src ? p.arc_cost(arc, z, y) : p.arc_cost(arc, y, z);
            if (z != 0) trial[z] += c;
            if (y != 0) trial[y] += c;
          }
        };
        for (int a = p.in_begin[g]; a < p.in_begin[g + 1]; ++a)
          shift(p.arcs[p.in_arcs[a]], p.arcs[p.in_arcs[a]].u, true);
        for (int a = p.out_begin[g]; a < p.out_begin[g + 1]; ++a)
          shift(p.arcs[p.out_arcs[a]], p.arcs[p.out_arcs[a]].v, false);
        const Potential pot = potential(p, trial);
        if (lower(pot, best_pot)) {
          best_pot = pot;
          best_y = y;
          best_trial = trial;
        }
      }
      if (best_y < 0) continue;
      if (--count[x] == 0 && x != 0) --mains;
      if (count[best_y]++ == 0 && best_y != 0) ++mains;
      s.exec[g] = best_y;
      stage = best_trial;
      moved_any = true;
    }
    if (!moved_any) {
      ++passes;
      break;
    }
  }
  // Accepted moves never raise the bottleneck, so the final state is the best by cost; score it
  // exactly once (no drift from the incremental sums) and keep it unless the start was better.
  Solution final;
  final.exec = s.exec;
  score(p, final);
  s = better(final, best) ? std::move(final) : std::move(best);
  return passes;
}

}  // namespace codedag::graph::detail
