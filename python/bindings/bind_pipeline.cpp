// The closed loop's algorithms (cpp/codedag/pipeline): the measured speedup's interval and the
// independence test of stochastic outputs. codedag.pipeline glues them to torch.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
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
