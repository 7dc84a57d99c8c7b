// The closed loop's algorithms (cpp/codedag/pipeline): the measured speedup's interval, which
// settings are clearly beaten (racing) and the independence test of stochastic outputs.
// codedag.pipeline glues them to torch.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "codedag/pipeline/racing.hpp"
#include "codedag/pipeline/sample_independence.hpp"
#include "codedag/pipeline/speedup_interval.hpp"

namespace codedag::bindings {

void add_pipeline(nb::module_& m) {
  m.def(
      "speedup_interval",
      [](const std::vector<double>& baseline, const std::vector<double>& candidate, double level, int resamples,
         uint64_t seed) {
        return from_json(pipeline::speedup_interval(baseline, candidate, level, resamples, seed).to_json());
      },
      nb::arg("baseline"), nb::arg("candidate"), nb::arg("level") = 0.95, nb::arg("resamples") = 4000,
      nb::arg("seed") = 0,
      "Speedup of `candidate` over `baseline` (throughputs of interleaved rounds): geometric mean of the per-round "
      "ratios and its expanded percentile bootstrap interval. {speedup, lower, upper, level, rounds, has_interval}.");
  m.def(
      "beaten_settings",
      [](const std::vector<std::vector<double>>& rates, const std::vector<bool>& keep, size_t min_rounds,
         double margin) {
        return pipeline::beaten_settings(rates, keep, pipeline::RacingOptions{min_rounds, margin});
      },
      nb::arg("rates"), nb::arg("keep"), nb::arg("min_rounds") = 2, nb::arg("margin") = 2.0,
      "Racing: for each setting (throughputs per round so far), the index of a setting whose worst round is more "
      "than `margin` times its best (it is out), or -1. Settings with `keep` true are never out.");
  m.def(
      "independence_test",
      [](const std::vector<double>& features, size_t features_per_sample, size_t runs,
         const std::vector<int64_t>& batch_of, int permutations, uint64_t seed) {
        std::vector<double> values = features;
        pipeline::IndependenceResult r;
        {
          nb::gil_scoped_release release;
          r = pipeline::independence_test(values, features_per_sample, runs, batch_of, permutations, seed);
        }
        return from_json(r.to_json());
      },
      nb::arg("features"), nb::arg("features_per_sample"), nb::arg("runs"), nb::arg("batch_of"),
      nb::arg("permutations") = 999, nb::arg("seed") = 0,
      "Permutation test that the samples of a batch vary independently across seeded runs. `features` is "
      "K*R*M values at (k*R + r)*M + m. {dependence, p_value, pairs, varying_samples, testable}.");
}

}  // namespace codedag::bindings
