#pragma once
// Do the samples of one batch vary independently of each other? The test behind verification of
// stochastic outputs: a per-sample random augmentation run over a whole batch at once (one draw for
// the batch) keeps each output's mean and standard deviation but makes the samples of a batch move
// together, which a distribution check cannot see.
//
// Input: the same batches run under R seeds. For each sample and each of K features (fixed random
// projections of its output), the R values are standardised over the runs (mean 0, sd 1 per
// sample); the statistic is the mean, over pairs of samples in one batch and over features, of
// their correlation across runs. Independent samples give 0 on average; samples that share their
// random draws give values near 1. The p-value comes from a permutation test: permuting each
// sample's runs independently keeps every sample's own distribution and destroys any dependence
// between samples, which is exactly the null hypothesis (exact for exchangeable runs: seeds are).
#include <cstdint>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::pipeline {

struct IndependenceResult {
  double mean_correlation = 0;  // the statistic: 0 independent, near 1 one draw per batch
  double p_value = 1;           // two-sided, permutation
  size_t pairs = 0;             // within-batch pairs of samples that vary across runs
  size_t varying_samples = 0;   // samples whose feature changes with the seed
  int permutations = 0;
  bool testable = false;        // false: fewer than 3 runs or no pair of varying samples
  json to_json() const;
};

// `features` holds K * R * M values, index (k * R + r) * M + m, for K features, R runs (seeds) and
// M samples; `batch_of[m]` is the batch sample m belongs to (pairs are formed within a batch).
// Throws InputError when the sizes disagree or a value is not finite. Deterministic for a seed.
IndependenceResult independence_test(const std::vector<double>& features, size_t features_per_sample, size_t runs,
                                     const std::vector<int64_t>& batch_of, int permutations = 999,
                                     uint64_t seed = 0);

}  // namespace codedag::pipeline
