#pragma once
// How much faster one setting of a data pipeline is than another, with a confidence interval, from
// interleaved measurement rounds (each round measures both settings back to back on fresh
// iterators, so a change in the machine's load hits both).
//
// The estimate is the geometric mean of the per-round ratios; the interval is an expanded
// percentile bootstrap over rounds (Hesterberg 2015: the percentile interval of a mean is too
// narrow for few observations; widening its level by the Student-t factor sqrt(n/(n-1)) t_{n-1}
// restores the coverage). Rounds, not batches, are the unit resampled: batches of one iterator
// share the iterator's start-up, prefetch queue and load, so they are not independent.
#include <cstdint>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::pipeline {

struct SpeedupInterval {
  size_t rounds = 0;
  double speedup = 1;           // geometric mean of candidate / baseline over rounds
  double lower = 1, upper = 1;  // the interval at `level`; equal to speedup with one round
  double level = 0.95;
  bool has_interval = false;  // false with fewer than 2 rounds: one number, no interval
  json to_json() const;
};

// `baseline[r]` and `candidate[r]` are throughputs (samples/s, > 0) of round r. Throws InputError
// for empty, unequal-length, non-positive or non-finite input, a level outside (0, 1) or
// resamples < 100. Deterministic for a seed.
SpeedupInterval speedup_interval(const std::vector<double>& baseline, const std::vector<double>& candidate,
                                 double level = 0.95, int resamples = 4000, uint64_t seed = 0);

// The Student-t quantile t_{p, dof} (p in (0, 1), dof >= 1) and the standard normal CDF, exposed
// for the tests.
double student_t_quantile(double p, double dof);
double normal_cdf(double x);

}  // namespace codedag::pipeline
