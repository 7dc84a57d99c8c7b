#include "codedag/monitor/batch_timer.hpp"

#include "codedag/common/error.hpp"

namespace codedag::monitor {

void BatchTimer::start() {
  if (!started_) started_ = clock::now();
}

void BatchTimer::stop() {
  if (!started_) return;
  accumulated_ += std::chrono::duration<double>(clock::now() - *started_).count();
  started_.reset();
}

void BatchTimer::start_batch() { batch_started_ = clock::now(); }

double BatchTimer::end_batch() {
  if (!batch_started_)
    throw StateError("end_batch() without start_batch(): call start_batch() at the top of each batch");
  const double seconds = std::chrono::duration<double>(clock::now() - *batch_started_).count();
  batch_started_.reset();
  batch_times_.emplace_back(next_index_++, seconds);
  return seconds;
}

double BatchTimer::total_time() const {
  double t = accumulated_;
  if (started_) t += std::chrono::duration<double>(clock::now() - *started_).count();
  return t;
}

void BatchTimer::reset() { *this = BatchTimer(); }

}  // namespace codedag::monitor
