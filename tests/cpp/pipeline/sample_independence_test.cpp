#include "codedag/pipeline/sample_independence.hpp"

#include <gtest/gtest.h>

#include <random>

#include "codedag/common/error.hpp"

using namespace codedag::pipeline;

namespace {

// K features x R runs x (batches * per_batch) samples. `shared`: every sample of a batch takes the
// same coin flip in a run (one draw per batch); otherwise each sample flips its own.
struct Runs {
  std::vector<double> features;
  std::vector<int64_t> batch_of;
  size_t varying_batches = 0;  // with shared draws: batches whose flip is not the same in every run
};

Runs flips(size_t K, size_t R, size_t batches, size_t per_batch, bool shared, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution coin(0.5);
  std::normal_distribution<double> value(0, 1);
  const size_t M = batches * per_batch;
  Runs out;
  out.features.assign(K * R * M, 0);
  std::vector<double> base(K * M);
  for (double& v : base) v = value(rng);  // each sample's own content
  for (size_t m = 0; m < M; ++m) out.batch_of.push_back(static_cast<int64_t>(m / per_batch));
  std::vector<std::vector<bool>> batch_flips(R, std::vector<bool>(batches));
  for (auto& run : batch_flips)
    for (size_t b = 0; b < batches; ++b) run[b] = coin(rng);
  for (size_t b = 0; b < batches; ++b)
    for (size_t r = 1; r < R; ++r)
      if (batch_flips[r][b] != batch_flips[0][b]) {
        ++out.varying_batches;
        break;
      }
  for (size_t r = 0; r < R; ++r) {
    const std::vector<bool>& batch_flip = batch_flips[r];
    for (size_t m = 0; m < M; ++m) {
      const bool flip = shared ? batch_flip[m / per_batch] : coin(rng);
      for (size_t k = 0; k < K; ++k) out.features[(k * R + r) * M + m] = flip ? -base[k * M + m] : base[k * M + m];
    }
  }
  return out;
}

}  // namespace

TEST(SampleIndependence, PerSampleDrawsAreIndependent) {
  int rejected = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const Runs r = flips(3, 5, 3, 8, false, seed);
    const IndependenceResult t = independence_test(r.features, 3, 5, r.batch_of, 199, seed);
    ASSERT_TRUE(t.testable);
    EXPECT_LT(std::fabs(t.dependence), 0.3);
    rejected += t.p_value < 0.05;
  }
  EXPECT_LE(rejected, 6);  // a 5 % test rejects about 2 of 40 when the null holds
}

TEST(SampleIndependence, OneDrawPerBatchIsCaught) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const Runs r = flips(3, 5, 3, 8, true, seed);
    const IndependenceResult t = independence_test(r.features, 3, 5, r.batch_of, 999, seed);
    ASSERT_GE(r.varying_batches, 1u) << seed;
    ASSERT_TRUE(t.testable);
    // A flip negates every projection of a sample: two samples sharing it move together or
    // opposite ways depending on their content; the squared correlation sees both.
    EXPECT_GT(t.dependence, 0.8) << seed;
    EXPECT_LT(t.p_value, 0.01) << seed;
    EXPECT_EQ(t.varying_samples, 8u * r.varying_batches);
    EXPECT_EQ(t.pairs, 28u * r.varying_batches);
  }
}

TEST(SampleIndependence, DeterministicSamplesAreLeftOut) {
  // Only sample 0 of each batch varies: no pair of varying samples, nothing to test.
  Runs r;
  r.batch_of = {0, 0, 0, 1, 1, 1};
  for (size_t run = 0; run < 4; ++run)
    for (size_t m = 0; m < 6; ++m) r.features.push_back(m % 3 == 0 ? (run % 2 ? 1.0 : -1.0) * (1 + m) : 7.0);
  const IndependenceResult t = independence_test(r.features, 1, 4, r.batch_of);
  EXPECT_FALSE(t.testable);
  EXPECT_EQ(t.varying_samples, 2u);
  EXPECT_EQ(t.pairs, 0u);
  EXPECT_DOUBLE_EQ(t.p_value, 1.0);
}

TEST(SampleIndependence, BigBatchesAreCappedNotWalkedWhole) {
  const Runs r = flips(2, 4, 1, 200, true, 9);
  ASSERT_EQ(r.varying_batches, 1u);
  const IndependenceResult t = independence_test(r.features, 2, 4, r.batch_of, 99, 1);
  EXPECT_EQ(t.varying_samples, 200u);
  EXPECT_EQ(t.pairs, kMaxSamplesPerBatch * (kMaxSamplesPerBatch - 1) / 2);
  EXPECT_GT(t.dependence, 0.8);
}

TEST(SampleIndependence, TwoRunsAreNotEnough) {
  const Runs r = flips(1, 2, 2, 4, true, 3);
  EXPECT_FALSE(independence_test(r.features, 1, 2, r.batch_of).testable);
}

TEST(SampleIndependence, BadInputIsNamed) {
  EXPECT_THROW(independence_test({1, 2, 3}, 1, 2, {0, 0}), codedag::InputError);
  EXPECT_THROW(independence_test({}, 0, 1, {}), codedag::InputError);
  EXPECT_THROW(independence_test({1, NAN}, 1, 1, {0, 0}), codedag::InputError);
  EXPECT_THROW(independence_test({1, 2}, 1, 1, {0, 0}, 0), codedag::InputError);
}
