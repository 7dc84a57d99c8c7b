#pragma once
// Do the samples of one batch vary independently of each other? The test behind verification of
// stochastic outputs: a per-sample random augmentation run over a whole batch at once (one draw for
// the batch) keeps each output's mean and standard deviation but makes the samples of a batch move
// together, which a distribution check cannot see.
//
// Input: the same batches run under R seeds. For each sample and each of K features (fixed random
// projections of its output), the R values are standardised over the runs (mean 0, sd 1 per
// sample). For every pair of samples in one batch and every feature, r is their correlation across
// the runs; the statistic is the *squared* correlation (a shared draw can move two samples the same
// way or opposite ways -- a flip negates one image's projection and raises another's -- so the sign
// of r says nothing), averaged over pairs and features and rescaled so that independent samples give
// 0 on average (the null expectation of r^2 for R exchangeable runs is 1/(R-1)) and samples that
// share every draw give 1: dependence = (mean r^2 - 1/(R-1)) / (1 - 1/(R-1)). The p-value comes from
// a permutation test: permuting each sample's runs independently keeps every sample's own
// distribution and destroys any dependence between samples, which is exactly the null hypothesis
// (exact for exchangeable runs: seeds are). At most kMaxSamplesPerBatch varying samples of a batch
// enter (the first ones), so the cost stays bounded for big batches.
#include <cstdint>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::pipeline {

inline constexpr size_t kMaxSamplesPerBatch = 32;

struct IndependenceResult {
  double dependence = 0;       // the statistic: about 0 independent, 1 one draw per batch
  double p_value = 1;          // permutation test, one-sided: more dependent than chance
  size_t pairs = 0;            // within-batch pairs of samples that vary across runs (tested ones)
  size_t varying_samples = 0;  // samples whose feature changes with the seed
  int permutations = 0;
  bool testable = false;  // false: fewer than 3 runs or no pair of varying samples
  json to_json() const;
};

// `features` holds K * R * M values, index (k * R + r) * M + m, for K features, R runs (seeds) and
// M samples; `batch_of[m]` is the batch sample m belongs to (pairs are formed within a batch).
// Throws InputError when the sizes disagree or a value is not finite. Deterministic for a seed.
IndependenceResult independence_test(const std::vector<double>& features, size_t features_per_sample, size_t runs,
                                     const std::vector<int64_t>& batch_of, int permutations = 999, uint64_t seed = 0);

}  // namespace codedag::pipeline
