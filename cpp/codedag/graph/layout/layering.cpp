// Phases 1-3 of the layered layout: cycle breaking, longest-path layering, dummy vertices.
#include <algorithm>
#include <map>

#include "codedag/graph/layout/layered_graph.hpp"

namespace codedag::graph::layout::detail {
namespace {

// Iterative DFS from every vertex in index order; an edge into a vertex still on the stack closes a
// cycle and is reversed. Returns, per distinct pair index, whether it is reversed.
std::vector<bool> back_edges(size_t n, const std::vector<std::pair<size_t, size_t>>& pairs) {
  std::vector<std::vector<size_t>> out(n);  // pair indexes leaving each vertex
  for (size_t i = 0; i < pairs.size(); ++i) out[pairs[i].first].push_back(i);
  std::vector<bool> reversed(pairs.size(), false);
  enum : char { kNew, kOnStack, kDone };
  std::vector<char> state(n, kNew);
  std::vector<std::pair<size_t, size_t>> stack;  // (vertex, next out-edge position)
  for (size_t root = 0; root < n; ++root) {
    if (state[root] != kNew) continue;
    stack.emplace_back(root, 0);
    state[root] = kOnStack;
    while (!stack.empty()) {
      auto& [v, next] = stack.back();
      if (next == out[v].size()) {
        state[v] = kDone;
        stack.pop_back();
        continue;
      }
      const size_t e = out[v][next++];
      const size_t w = pairs[e].second;
      if (state[w] == kOnStack) {
        reversed[e] = true;
      } else if (state[w] == kNew) {
        state[w] = kOnStack;
        stack.emplace_back(w, 0);
      }
    }
  }
  return reversed;
}

// Longest path from the sources, then every source moved down to just above its highest
// successor so it does not hang at the top with long edges.
std::vector<int> longest_path_layers(size_t n, const std::vector<std::pair<size_t, size_t>>& edges) {
  std::vector<std::vector<size_t>> succ(n), pred(n);
  std::vector<size_t> indegree(n, 0);
  for (const auto& [a, b] : edges) {
    succ[a].push_back(b);
    pred[b].push_back(a);
    ++indegree[b];
  }
  std::vector<size_t> order;  // Kahn's algorithm, lowest index first among the ready ones
  order.reserve(n);
  std::vector<size_t> ready;
  for (size_t v = 0; v < n; ++v)
    if (indegree[v] == 0) ready.push_back(v);
  std::make_heap(ready.begin(), ready.end(), std::greater<>());
  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), std::greater<>());
    const size_t v = ready.back();
    ready.pop_back();
    order.push_back(v);
    for (size_t w : succ[v])
      if (--indegree[w] == 0) {
        ready.push_back(w);
        std::push_heap(ready.begin(), ready.end(), std::greater<>());
      }
  }
  std::vector<int> layer(n, 0);
  for (size_t v : order)
    for (size_t w : succ[v]) layer[w] = std::max(layer[w], layer[v] + 1);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const size_t v = *it;
    if (!pred[v].empty() || succ[v].empty()) continue;
    int lowest = layer[succ[v].front()];
    for (size_t w : succ[v]) lowest = std::min(lowest, layer[w]);
    layer[v] = std::max(layer[v], lowest - 1);
  }
  return layer;
}

}  // namespace

ProperGraph build_proper_graph(const std::vector<double>& widths, const std::vector<std::pair<size_t, size_t>>& edges,
                               double dummy_width, std::vector<EdgeChain>& chains_of_edges) {
  const size_t n = widths.size();
  // Distinct pairs in first-seen order; each input edge points at its pair.
  std::map<std::pair<size_t, size_t>, size_t> pair_index;
  std::vector<std::pair<size_t, size_t>> pairs;
  std::vector<long> pair_of_edge(edges.size(), -1);
  for (size_t i = 0; i < edges.size(); ++i) {
    const auto& e = edges[i];
    if (e.first == e.second) continue;
    const auto [it, added] = pair_index.emplace(e, pairs.size());
    if (added) pairs.push_back(e);
    pair_of_edge[i] = static_cast<long>(it->second);
  }
  const std::vector<bool> reversed = back_edges(n, pairs);

  // Oriented pairs (top, bottom); (a,b) and a reversed (b,a) become one chain.
  std::map<std::pair<size_t, size_t>, int> chain_index;
  std::vector<std::pair<size_t, size_t>> oriented;
  std::vector<int> chain_of_pair(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto p = reversed[i] ? std::make_pair(pairs[i].second, pairs[i].first) : pairs[i];
    const auto [it, added] = chain_index.emplace(p, static_cast<int>(oriented.size()));
    if (added) oriented.push_back(p);
    chain_of_pair[i] = it->second;
  }
  chains_of_edges.assign(edges.size(), EdgeChain{});
  for (size_t i = 0; i < edges.size(); ++i)
    if (pair_of_edge[i] >= 0)
      chains_of_edges[i] = EdgeChain{chain_of_pair[static_cast<size_t>(pair_of_edge[i])],
                                     static_cast<bool>(reversed[static_cast<size_t>(pair_of_edge[i])])};

  ProperGraph g;
  g.real = n;
  g.layer = longest_path_layers(n, oriented);
  g.width = widths;
  g.up.assign(n, {});
  g.down.assign(n, {});
  g.chains.reserve(oriented.size());
  for (const auto& [a, b] : oriented) {
    std::vector<int> chain{static_cast<int>(a)};
    for (int l = g.layer[a] + 1; l < g.layer[b]; ++l) {
      const int d = static_cast<int>(g.layer.size());
      g.layer.push_back(l);
      g.width.push_back(dummy_width);
      g.up.emplace_back();
      g.down.emplace_back();
      chain.push_back(d);
    }
    chain.push_back(static_cast<int>(b));
    for (size_t k = 0; k + 1 < chain.size(); ++k) {
      g.down[chain[k]].push_back(chain[k + 1]);
      g.up[chain[k + 1]].push_back(chain[k]);
    }
    g.chains.push_back(std::move(chain));
  }

  // Initial order: depth-first from the real vertices in index order, so connected parts stay
  // together and children follow their parents left to right.
  int layer_count = 0;
  for (int l : g.layer) layer_count = std::max(layer_count, l + 1);
  g.layers.assign(static_cast<size_t>(layer_count), {});
  std::vector<bool> seen(g.layer.size(), false);
  std::vector<int> stack;
  for (size_t root = 0; root < n; ++root) {
    if (seen[root] || !g.up[root].empty()) continue;
    stack.push_back(static_cast<int>(root));
    while (!stack.empty()) {
      const int v = stack.back();
      stack.pop_back();
      if (seen[v]) continue;
      seen[v] = true;
      g.layers[g.layer[v]].push_back(v);
      for (auto it = g.down[v].rbegin(); it != g.down[v].rend(); ++it)
        if (!seen[*it]) stack.push_back(*it);
    }
  }
  for (size_t v = 0; v < g.layer.size(); ++v)  // vertices only reachable through a cycle's reversal
    if (!seen[v]) g.layers[g.layer[v]].push_back(static_cast<int>(v));
  return g;
}

}  // namespace codedag::graph::layout::detail
