#pragma once
// Which settings of a pipeline are clearly beaten after a few interleaved measurement rounds, so the
// closed loop stops measuring them (racing, as in F-Race: spend the rounds on the contenders).
//
// The rule is deliberately crude and conservative, because it runs on two or three rounds where a
// bootstrap interval means little: a setting is out when even its best round is slower than
// `margin` times the worst round of another setting. On a busy 2-core machine one setting's rounds
// scattered 0.47-1.79 batches/s (3.8x), so the margin is 2 by default and a setting is only ever
// dropped against one that was measured in the same rounds. Measured on the corpus: spawned
// workers restarted each epoch ran 100-300x slower than 0 workers, and five rounds of them were
// most of an 18-minute loop.
#include <cstddef>
#include <vector>

namespace codedag::pipeline {

struct RacingOptions {
  size_t min_rounds = 2;  // rounds every setting gets before any is dropped
  double margin = 2.0;    // best round of the loser < worst round of the winner / margin
};

// `rates[i]` are setting i's throughputs (samples/s) per round so far (empty: not measured, or
// stopped); `keep[i]` true marks a setting that is never dropped (the baseline every speedup is
// measured against). Returns, for each dropped setting, the index of a setting that beats it
// (`beaten_by[i]`, or -1 when i stays). Throws InputError for a non-finite or non-positive rate, a
// margin below 1 or min_rounds 0, or sizes that differ.
std::vector<long> beaten_settings(const std::vector<std::vector<double>>& rates, const std::vector<bool>& keep,
                                  const RacingOptions& options = {});

}  // namespace codedag::pipeline
