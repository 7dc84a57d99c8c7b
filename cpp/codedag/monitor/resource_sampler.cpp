#include "codedag/monitor/resource_sampler.hpp"

#include <chrono>
#include <cmath>

#include "codedag/common/error.hpp"

namespace codedag::monitor {

void check_interval(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.01)
    throw InputError("resource_interval " + std::to_string(seconds) +
                     " s is too short: use 0.01 s or more (1.0 s is the default, 0.1 s for short runs)");
}

ResourceSampler::ResourceSampler(SamplerOptions options) : options_(std::move(options)) {
  check_interval(options_.interval_s);
}

ResourceSampler::~ResourceSampler() { stop(); }

void ResourceSampler::set_interval(double seconds) {
  check_interval(seconds);
  std::lock_guard lock(mutex_);
  if (running_) throw StateError("cannot change the sampling interval while the sampler runs; stop() it first");
  options_.interval_s = seconds;
}

void ResourceSampler::start(Callback on_sample) {
  std::lock_guard lock(mutex_);
  if (running_) throw StateError("the resource sampler is already running; stop() it before starting again");
  if (!reader_) reader_ = std::make_unique<ResourceReader>(options_);
  reader_->prime();  // the first sample measures from here
  on_sample_ = std::move(on_sample);
  stop_requested_ = false;
  running_ = true;
  thread_ = std::thread([this] { loop(); });
}

void ResourceSampler::record(const ResourceSample& s) {
  {
    std::lock_guard lock(mutex_);
    samples_.push_back(s);
  }
  if (on_sample_) on_sample_(s);
}

void ResourceSampler::loop() {
  using clock = std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(options_.interval_s));
  auto next = clock::now() + interval;
  auto last = clock::now();
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto now = clock::now();
    if (wake_.wait_for(lock, next > now ? next - now : clock::duration::zero(), [this] { return stop_requested_; }))
      break;
    lock.unlock();
    record(reader_->sample());
    last = clock::now();
    lock.lock();
    next += interval;
    // After a stall (a suspended laptop, a stopped process) do not fire a burst to catch up.
    if (next < last) next = last + interval;
  }
  lock.unlock();
  if (clock::now() - last >= std::chrono::milliseconds(10)) record(reader_->sample());
}

void ResourceSampler::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stop_requested_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
  on_sample_ = nullptr;
}

bool ResourceSampler::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

std::vector<ResourceSample> ResourceSampler::samples() const {
  std::lock_guard lock(mutex_);
  return samples_;
}

size_t ResourceSampler::sample_count() const {
  std::lock_guard lock(mutex_);
  return samples_.size();
}

void ResourceSampler::clear() {
  std::lock_guard lock(mutex_);
  samples_.clear();
}

json ResourceSampler::describe() const {
  std::lock_guard lock(mutex_);
  if (!reader_) {
    ResourceReader probe(options_);
    return probe.describe();
  }
  return reader_->describe();
}

size_t ResourceSampler::open_files() const {
  std::lock_guard lock(mutex_);
  return reader_ ? reader_->open_files() : 0;
}

}  // namespace codedag::monitor
