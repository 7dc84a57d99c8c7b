#pragma once
// Losses and accuracies as logged, per (epoch, batch) — the seed's MetricsLogger — with the
// seed's summary (loss initial/final/min/max, accuracy initial/final/best).
#include <vector>

#include "codedag/monitor/result_model.hpp"

namespace codedag::monitor {

class MetricsLog {
 public:
  void log_loss(long long epoch, long long batch, double loss) { losses_.push_back({epoch, batch, loss}); }
  void log_accuracy(long long epoch, long long batch, double acc) { accuracies_.push_back({epoch, batch, acc}); }
  const std::vector<MetricPoint>& losses() const { return losses_; }
  const std::vector<MetricPoint>& accuracies() const { return accuracies_; }
  // {"losses": [[e, b, v]...], "accuracies": [...]}
  ordered_json metrics_json() const;
  // {"loss": {...}, "accuracy": {...}} as in the result file's summary.
  ordered_json summary_json() const;
  void reset() {
    losses_.clear();
    accuracies_.clear();
  }

 private:
  std::vector<MetricPoint> losses_;
  std::vector<MetricPoint> accuracies_;
};

}  // namespace codedag::monitor
