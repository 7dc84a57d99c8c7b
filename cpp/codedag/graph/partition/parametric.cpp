// Parametric min-cut on the closure constraint.
//
// With one main-process executor e, a feasible plan is a set M of groups moved to e that is closed
// under data successors. Under that closure both stage times are linear in M:
//   S_cpu(M) = C - sum_{g in M} a_g                     (a_g: the group's cpu_ns / W)
//   S_e(M)   = T_e + sum_{g in M} b_g,  b_g = t_ge + sum_{arcs into g} c_ug - sum_{arcs out of g} c_gv
// (an arc u -> v is cut exactly when v in M and u not, i.e. x_v - x_u = 1). So for every
// lambda in [0, 1], min over closed M of lambda S_cpu + (1 - lambda) S_e is one min-cut, its value
// is a lower bound on min max(S_cpu, S_e), and the cuts trace the supported Pareto points. The
// search intersects the two bracketing lines (Newton on the concave dual), so it needs few cuts.
// Several main executors: a Lagrangian over all of them (a lower bound that drops transfers
// between main executors) proposes assignments, and refinement moves groups between executors.
#include <algorithm>
#include <cmath>

#include "codedag/graph/partition/mincut.hpp"
#include "codedag/graph/partition/partition.hpp"

namespace codedag::graph::detail {
namespace {

struct Point {
  double lambda = 0, s_cpu = 0, s_main = 0;
  std::vector<char> moved;
  double line(double l) const { return l * s_cpu + (1 - l) * s_main; }
};

Solution to_solution(const Problem& p, const std::vector<char>& moved, int e) {
  Solution s;
  s.exec.assign(p.groups, 0);
  for (int g = 0; g < p.groups; ++g)
    if (moved[g]) s.exec[g] = e;
  score(p, s);
  return s;
}

struct TwoWay {
  std::vector<Solution> candidates;
  double lower_bound = 0;
  int cuts = 0;
};

// The k = 2 problem with main executor e.
TwoWay two_way(const Problem& p, ClosureSolver& solver, int e, int steps) {
  const int G = p.groups;
  std::vector<double> a(G), b(G);
  double C = 0;
  for (int g = 0; g < G; ++g) {
    a[g] = p.cpu_stage[g];
    C += a[g];
    b[g] = p.eligible[g] ? p.t(g, e) : 0.0;
  }
  for (const GroupArc& arc : p.arcs) {
    const double c = p.arc_cost(arc, 0, e);
    b[arc.v] += c;
    b[arc.u] -= c;
  }
  double others = 0;  // executors without nodes still carry their training step
  for (int x = 1; x < p.E(); ++x)
    if (x != e) others = std::max(others, p.train[x]);
  const double T = p.train[e];

  TwoWay out;
  std::vector<double> w(G);
  auto cut = [&](double lambda, double& value) {
    for (int g = 0; g < G; ++g) w[g] = -lambda * a[g] + (1 - lambda) * b[g];
    double weight = 0, slack = 0;
    Point pt;
    pt.lambda = lambda;
    pt.moved = solver.solve(w, weight, slack);
    ++out.cuts;
    pt.s_cpu = C;
    pt.s_main = T;
    for (int g = 0; g < G; ++g)
      if (pt.moved[g]) {
        pt.s_cpu -= a[g];
        pt.s_main += b[g];
      }
    value = lambda * C + (1 - lambda) * T + weight - slack;  // the dual value: a valid lower bound
    out.lower_bound = std::max(out.lower_bound, std::min(value, std::max(pt.s_cpu, pt.s_main)));
    out.candidates.push_back(to_solution(p, pt.moved, e));
    return pt;
  };
  double v_hi = 0, v_lo = 0;
  Point hi = cut(1.0, v_hi);  // move all that can move: the least S_cpu possible
  if (hi.s_cpu >= hi.s_main || steps <= 1) {
    out.lower_bound = std::max({out.lower_bound, others, v_hi});
    return out;
  }
  Point lo = cut(0.0, v_lo);  // the least S_main possible
  if (lo.s_main >= lo.s_cpu) {
    out.lower_bound = std::max({out.lower_bound, others, v_lo});
    return out;
  }
  for (int step = 2; step < steps; ++step) {
    const double d_lo = lo.s_cpu - lo.s_main, d_hi = hi.s_cpu - hi.s_main;  // > 0 and < 0
    const double lambda = std::clamp((hi.s_main - lo.s_main) / (d_lo - d_hi), 0.0, 1.0);
    double value = 0;
    Point mid = cut(lambda, value);
    const double meet = lo.line(lambda);
    // No closure lies below the two lines where they meet: lambda maximises the dual; done.
    if (mid.line(lambda) >= meet - 1e-9 * std::max(1.0, std::fabs(meet))) break;
    const double d = mid.s_cpu - mid.s_main;
    if (d > 0)
      lo = std::move(mid);
    else if (d < 0)
      hi = std::move(mid);
    else
      break;  // balanced: max(S_cpu, S_main) equals the dual value
  }
  out.lower_bound = std::max(out.lower_bound, others);
  return out;
}

// A Lagrangian over every executor: weights lambda_e on the simplex. Moved groups take their
// cheapest weighted executor; transfers between main executors are dropped, and each cut arc is
// charged at its cheapest weighted main end — so the cut's value is a lower bound on
// sum_e lambda_e S_e <= max_e S_e for any plan, whatever k.
struct MultiWay {
  std::vector<Solution> candidates;
  double lower_bound = 0;
  int cuts = 0;
};

MultiWay multi_way(const Problem& p, ClosureSolver& solver, int steps) {
  const int G = p.groups, E = p.E();
  MultiWay out;
  std::vector<double> lambda(E, 1.0 / E), w(G), relaxed(E);
  std::vector<int> pick(G, 0);
  double C = 0;
  for (int g = 0; g < G; ++g) C += p.cpu_stage[g];
  double eta = 1.0;
  for (int step = 0; step < steps; ++step) {
    for (int g = 0; g < G; ++g) {
      double best = kInfinity;
      for (int e = 1; e < E; ++e)
        if (lambda[e] * p.t(g, e) < best) {
          best = lambda[e] * p.t(g, e);
          pick[g] = e;
        }
      w[g] = p.eligible[g] ? best - lambda[0] * p.cpu_stage[g] : 0.0;
    }
    for (const GroupArc& arc : p.arcs) {
      double c = kInfinity;
      for (int e = 1; e < E; ++e) c = std::min(c, lambda[e] * p.arc_cost(arc, 0, e));
      w[arc.v] += c;
      w[arc.u] -= c;
    }
    double weight = 0, slack = 0;
    const std::vector<char> moved = solver.solve(w, weight, slack);
    ++out.cuts;
    double constant = lambda[0] * C;
    for (int e = 1; e < E; ++e) constant += lambda[e] * p.train[e];
    out.lower_bound = std::max(out.lower_bound, constant + weight - slack);

    // A plan from the relaxation: moved groups on their picked executor, folded onto the k-1 busiest.
    Solution s;
    s.exec.assign(G, 0);
    std::vector<double> load(E, 0.0);
    for (int g = 0; g < G; ++g)
      if (moved[g]) {
        s.exec[g] = pick[g];
        load[pick[g]] += p.t(g, pick[g]);
      }
    std::vector<int> mains;
    for (int e = 1; e < E; ++e) mains.push_back(e);
    std::stable_sort(mains.begin(), mains.end(), [&](int x, int y) { return load[x] > load[y]; });
    if (static_cast<int>(mains.size()) > p.max_main) {
      std::vector<char> keep(E, 0);
      for (int i = 0; i < p.max_main; ++i) keep[mains[i]] = 1;
      for (int g = 0; g < G; ++g)
        if (s.exec[g] > 0 && !keep[s.exec[g]]) {
          int to = mains[0];
          for (int i = 0; i < p.max_main; ++i)
            if (p.t(g, mains[i]) < p.t(g, to)) to = mains[i];
          s.exec[g] = to;
        }
    }
    score(p, s);
    out.candidates.push_back(s);

    // Subgradient step on the simplex: weight executors by how loaded the relaxed plan leaves them.
    std::fill(relaxed.begin(), relaxed.end(), 0.0);
    relaxed[0] = C;
    for (int e = 1; e < E; ++e) relaxed[e] = p.train[e];
    for (int g = 0; g < G; ++g)
      if (moved[g]) {
        relaxed[0] -= p.cpu_stage[g];
        relaxed[pick[g]] += p.t(g, pick[g]);
      }
    double mean = 0;
    for (const double r : relaxed) mean += r / E;
    if (mean <= 0) break;
    double norm = 0;
    for (int e = 0; e < E; ++e) {
      lambda[e] *= std::exp(eta * (relaxed[e] - mean) / mean);
      norm += lambda[e];
    }
    for (double& l : lambda) l /= norm;
    eta *= 0.8;
  }
  double tmax = 0;
  for (int e = 1; e < E; ++e) tmax = std::max(tmax, p.train[e]);
  out.lower_bound = std::max(out.lower_bound, tmax);
  return out;
}

}  // namespace

ParametricOutcome parametric(const Problem& p, const PartitionOptions& options) {
  const GroupOrder go = group_order(p);
  ClosureSolver solver(p, go.blocked);
  ParametricOutcome out;
  out.best = all_cpu(p);
  std::vector<Solution> starts;
  // k = 2 structure: the optimum uses one main executor, so the bound is the least over them.
  double bound_two = kInfinity;
  for (int e = 1; e < p.E(); ++e) {
    // With several main executors the multi-executor search gives the bound; the two-way searches
    // only propose starting plans, so they get fewer cuts.
    TwoWay tw = two_way(p, solver, e, p.max_main <= 1 ? options.lambda_steps : std::max(3, options.lambda_steps / 5));
    out.cuts += tw.cuts;
    bound_two = std::min(bound_two, tw.lower_bound);
    // The two best supported points of each executor are where refinement starts.
    std::sort(tw.candidates.begin(), tw.candidates.end(),
              [](const Solution& x, const Solution& y) { return better(x, y); });
    for (size_t i = 0; i < tw.candidates.size() && i < 2; ++i) starts.push_back(std::move(tw.candidates[i]));
  }
  if (p.max_main <= 1) {
    out.lower_bound = bound_two;
  } else {
    MultiWay mw = multi_way(p, solver, std::max(4, options.lambda_steps / 4));
    out.cuts += mw.cuts;
    out.lower_bound = mw.lower_bound;
    std::sort(mw.candidates.begin(), mw.candidates.end(),
              [](const Solution& x, const Solution& y) { return better(x, y); });
    for (size_t i = 0; i < mw.candidates.size() && i < 2; ++i) starts.push_back(std::move(mw.candidates[i]));
  }
  if (p.E() == 1) out.lower_bound = out.best.cost;
  // Refine the most promising starts (ordered best first; each run is seeded differently).
  std::sort(starts.begin(), starts.end(), [](const Solution& x, const Solution& y) { return better(x, y); });
  const size_t refine_count = std::min<size_t>(starts.size(), 2);
  for (size_t i = 0; i < starts.size(); ++i) {
    Solution s = std::move(starts[i]);
    if (i < refine_count) out.passes += refine(p, s, options.max_iterations, options.seed + i);
    if (better(s, out.best)) out.best = std::move(s);
  }
  return out;
}

}  // namespace codedag::graph::detail
