#pragma once
// The background sampler: a thread that takes a ResourceReader sample every `interval` and keeps
// them. It sleeps on a condition variable (wait_for), so stop() wakes it at once instead of
// after the rest of an interval, and the next wake-up is computed from a fixed schedule so the
// interval does not drift by the cost of each sample.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "codedag/monitor/resource_reader.hpp"

namespace codedag::monitor {

class ResourceSampler {
 public:
  using Callback = std::function<void(const ResourceSample&)>;

  // InputError when the interval is below 0.01 s or not a number.
  explicit ResourceSampler(SamplerOptions options);
  ~ResourceSampler();
  ResourceSampler(const ResourceSampler&) = delete;
  ResourceSampler& operator=(const ResourceSampler&) = delete;

  // Starts sampling; `on_sample` runs on the sampler thread after each sample is stored (it must
  // not call stop()). StateError when already running.
  void start(Callback on_sample = {});
  // Stops within microseconds of being called, takes a last sample when at least 10 ms passed
  // since the previous one (short modes still get a reading), and joins the thread. No-op when stopped.
  void stop();
  bool running() const;
  void set_interval(double seconds);
  double interval() const { return options_.interval_s; }

  std::vector<ResourceSample> samples() const;
  size_t sample_count() const;
  void clear();
  // The reader's description (cgroup, limits, container, GPUs).
  json describe() const;
  size_t open_files() const;

 private:
  void loop();
  void record(const ResourceSample& s);

  SamplerOptions options_;
  std::unique_ptr<ResourceReader> reader_;  // created on first start (NVML loads once)
  Callback on_sample_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_requested_ = false;
  bool running_ = false;
  std::thread thread_;
  std::vector<ResourceSample> samples_;
};

// Checks an interval given by a user: a number, at least 0.01 s.
void check_interval(double seconds);

}  // namespace codedag::monitor
