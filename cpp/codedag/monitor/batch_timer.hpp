#pragma once
// Batch times and the total time of a training mode (the seed's Timer). Monotonic clock, so a
// clock change during a run cannot produce negative or huge times.
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

namespace codedag::monitor {

class BatchTimer {
 public:
  // Starts the total-time clock (and forgets nothing: times accumulate until reset()).
  void start();
  // Stops the total-time clock; total_time() stays at the value reached.
  void stop();
  bool running() const { return started_.has_value(); }
  // Marks the start of a batch; calling it again before end_batch() restarts that batch.
  void start_batch();
  // Ends the batch, records [global batch index, seconds] and returns the seconds.
  // StateError without a start_batch().
  double end_batch();
  // Seconds between start() and stop() (or now, while running), summed over start/stop pairs.
  double total_time() const;
  const std::vector<std::pair<long long, double>>& batch_times() const { return batch_times_; }
  void reset();

 private:
  using clock = std::chrono::steady_clock;
  std::optional<clock::time_point> started_;
  std::optional<clock::time_point> batch_started_;
  double accumulated_ = 0;
  long long next_index_ = 0;
  std::vector<std::pair<long long, double>> batch_times_;
};

}  // namespace codedag::monitor
