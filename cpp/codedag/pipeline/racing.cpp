#include "codedag/pipeline/racing.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "codedag/common/error.hpp"

namespace codedag::pipeline {

std::vector<long> beaten_settings(const std::vector<std::vector<double>>& rates, const std::vector<bool>& keep,
                                  const RacingOptions& options) {
  if (keep.size() != rates.size())
    throw InputError("racing: " + std::to_string(rates.size()) + " settings but " + std::to_string(keep.size()) +
                     " keep flags");
  if (!(options.margin >= 1.0) || !std::isfinite(options.margin))
    throw InputError("racing: the margin must be a finite number >= 1, got " + std::to_string(options.margin));
  if (options.min_rounds == 0) throw InputError("racing: min_rounds must be at least 1");
  for (size_t i = 0; i < rates.size(); ++i)
    for (double r : rates[i])
      if (!std::isfinite(r) || r <= 0)
        throw InputError("racing: setting " + std::to_string(i) + " has a throughput of " + std::to_string(r) +
                         " (must be a positive finite number of samples/s)");
  // A setting's worst and best round, over the rounds everyone measured so far (a setting that
  // stopped early, dropped or failed, is compared on the rounds it has).
  std::vector<double> worst(rates.size(), 0), best(rates.size(), 0);
  for (size_t i = 0; i < rates.size(); ++i) {
    if (rates[i].size() < options.min_rounds) continue;
    worst[i] = *std::min_element(rates[i].begin(), rates[i].end());
    best[i] = *std::max_element(rates[i].begin(), rates[i].end());
  }
  std::vector<long> beaten_by(rates.size(), -1);
  for (size_t i = 0; i < rates.size(); ++i) {
    if (keep[i] || best[i] == 0) continue;
    for (size_t j = 0; j < rates.size(); ++j) {
      if (j == i || worst[j] == 0) continue;
      if (best[i] * options.margin < worst[j]) {
        beaten_by[i] = static_cast<long>(j);
        break;
      }
    }
  }
  return beaten_by;
}

}  // namespace codedag::pipeline
