#include "codedag/monitor/metrics_log.hpp"

namespace codedag::monitor {

namespace {
ModeResult as_mode(const MetricsLog& log) {
  ModeResult m;
  m.losses = log.losses();
  m.accuracies = log.accuracies();
  return m;
}
}  // namespace

ordered_json MetricsLog::metrics_json() const { return as_mode(*this).to_json()["metrics"]; }

ordered_json MetricsLog::summary_json() const {
  const ordered_json s = as_mode(*this).summary();
  return ordered_json{{"loss", s["loss"]}, {"accuracy", s["accuracy"]}};
}

}  // namespace codedag::monitor
