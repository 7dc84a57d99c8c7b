#include "codedag/pipeline/sample_independence.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "codedag/common/error.hpp"

namespace codedag::pipeline {
namespace {

struct Standardised {
  size_t K = 0, R = 0, M = 0;
  std::vector<double> z;                     // (k * R + r) * M + m; 0 where the sample does not vary on k
  std::vector<char> varying;                 // k * M + m
  std::vector<std::vector<size_t>> batches;  // sample indices per batch (at most kMaxSamplesPerBatch varying)
  double pairs = 0;                          // valid (feature, pair) combinations
};

// Mean over valid pairs and features of the squared correlation across runs, with run r of sample m
// read from run order[m][r] (the identity for the observed statistic).
double mean_squared_correlation(const Standardised& s, const std::vector<std::vector<size_t>>& order,
                                std::vector<size_t>& members) {
  double total = 0;
  for (size_t k = 0; k < s.K; ++k)
    for (const auto& batch : s.batches) {
      members.clear();
      for (const size_t m : batch)
        if (s.varying[k * s.M + m]) members.push_back(m);
      for (size_t a = 0; a < members.size(); ++a)
        for (size_t b = a + 1; b < members.size(); ++b) {
          const size_t i = members[a], j = members[b];
          double c = 0;
          for (size_t r = 0; r < s.R; ++r)
            c += s.z[(k * s.R + order[i][r]) * s.M + i] * s.z[(k * s.R + order[j][r]) * s.M + j];
          c /= static_cast<double>(s.R);
          total += c * c;
        }
    }
  return s.pairs > 0 ? total / s.pairs : 0.0;
}

}  // namespace

IndependenceResult independence_test(const std::vector<double>& features, size_t K, size_t R,
                                     const std::vector<int64_t>& batch_of, int permutations, uint64_t seed) {
  const size_t M = batch_of.size();
  if (K == 0 || R == 0 || M == 0) throw InputError("the independence test needs features, runs and samples");
  if (features.size() != K * R * M)
    throw InputError("the independence test got " + std::to_string(features.size()) + " values for " +
                     std::to_string(K) + " features x " + std::to_string(R) + " runs x " + std::to_string(M) +
                     " samples");
  if (permutations < 1) throw InputError("the independence test needs at least one permutation");
  for (const double v : features)
    if (!std::isfinite(v)) throw InputError("the independence test got a value that is not finite");

  IndependenceResult out;
  out.permutations = permutations;
  Standardised s;
  s.K = K, s.R = R, s.M = M;
  s.z.assign(features.size(), 0.0);
  s.varying.assign(K * M, 0);
  std::vector<char> any_varying(M, 0);
  for (size_t k = 0; k < K; ++k)
    for (size_t m = 0; m < M; ++m) {
      double mean = 0;
      for (size_t r = 0; r < R; ++r) mean += features[(k * R + r) * M + m];
      mean /= static_cast<double>(R);
      double var = 0;
      for (size_t r = 0; r < R; ++r) {
        const double d = features[(k * R + r) * M + m] - mean;
        var += d * d;
      }
      const double sd = std::sqrt(var / static_cast<double>(R));
      if (!(sd > 1e-9 * std::max(1.0, std::fabs(mean)))) continue;  // the seed does not change it
      s.varying[k * M + m] = 1;
      any_varying[m] = 1;
      for (size_t r = 0; r < R; ++r) s.z[(k * R + r) * M + m] = (features[(k * R + r) * M + m] - mean) / sd;
    }
  out.varying_samples = static_cast<size_t>(std::count(any_varying.begin(), any_varying.end(), 1));
  std::map<int64_t, std::vector<size_t>> by_batch;
  for (size_t m = 0; m < M; ++m)
    if (any_varying[m] && by_batch[batch_of[m]].size() < kMaxSamplesPerBatch) by_batch[batch_of[m]].push_back(m);
  for (auto& [b, members] : by_batch) s.batches.push_back(std::move(members));
  for (size_t k = 0; k < K; ++k)
    for (const auto& batch : s.batches) {
      double n = 0;
      for (const size_t m : batch) n += s.varying[k * M + m];
      s.pairs += n * (n - 1) / 2;
    }
  size_t pairs = 0;
  for (const auto& batch : s.batches) pairs += batch.size() * (batch.size() - 1) / 2;
  out.pairs = pairs;
  if (R < 3 || s.pairs == 0) return out;
  out.testable = true;

  std::vector<std::vector<size_t>> order(M, std::vector<size_t>(R));
  for (auto& o : order) std::iota(o.begin(), o.end(), 0);
  // r^2 of two independent standardised series of R exchangeable runs averages 1/(R-1).
  const double null_mean = 1.0 / static_cast<double>(R - 1);
  std::vector<size_t> members;
  const double observed = mean_squared_correlation(s, order, members);
  out.dependence = (observed - null_mean) / (1.0 - null_mean);
  std::mt19937_64 rng(seed);
  int as_extreme = 0;
  for (int p = 0; p < permutations; ++p) {
    for (auto& o : order) std::shuffle(o.begin(), o.end(), rng);
    if (mean_squared_correlation(s, order, members) >= observed - 1e-12) ++as_extreme;
  }
  out.p_value = (1.0 + as_extreme) / (1.0 + permutations);
  return out;
}

json IndependenceResult::to_json() const {
  return {{"dependence", dependence},           {"p_value", p_value},           {"pairs", pairs},
          {"varying_samples", varying_samples}, {"permutations", permutations}, {"testable", testable}};
}

}  // namespace codedag::pipeline
