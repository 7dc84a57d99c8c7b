#pragma once
// The engine behind ExperimentMonitor: one experiment with named modes (baseline, optimization,
// ...), each with its batch times, losses, accuracies and resource samples, written to the seed's
// result JSON. While a mode runs, the sampler thread appends a sample and re-saves the file every
// interval (at least every 0.5 s apart), so a crash loses at most about one interval.
#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "codedag/monitor/batch_timer.hpp"
#include "codedag/monitor/resource_sampler.hpp"
#include "codedag/monitor/result_model.hpp"

namespace codedag::monitor {

class ExperimentSession {
 public:
  // `save_dir` is created on the first save. InputError for an empty name.
  ExperimentSession(std::string experiment_name, std::string save_dir, SamplerOptions sampler = {});
  ~ExperimentSession();

  // StateError when a mode is running (stop_mode() it first); InputError for an empty name or an
  // interval below 0.01 s. A mode name used before is started afresh (the seed keeps one per name).
  void start_mode(const std::string& mode, const json& config, double resource_interval);
  void start_batch();
  double end_batch();
  // Recorded in the running mode, or after stop_mode() in the last one (validation after training).
  void log_loss(long long epoch, long long batch, double loss);
  void log_accuracy(long long epoch, long long batch, double accuracy);
  void stop_mode();
  // Writes the result file atomically; returns its path (default_path() when `path` is empty).
  std::string save(const std::string& path = "");

  bool running() const;
  std::optional<std::string> current_mode() const;
  // The whole result as it stands, the running mode included.
  ExperimentResult snapshot() const;
  const std::string& default_path() const { return default_path_; }
  // Where save() without a path and the auto-save write (default: <save_dir>/<name>_<time>.json).
  void set_default_path(std::string path);
  const std::string& experiment_name() const { return experiment_name_; }
  const std::string& save_dir() const { return save_dir_; }
  // Whether auto-saving is on (it is by default).
  void set_autosave(bool on);
  size_t open_files() const { return sampler_ ? sampler_->open_files() : 0; }

 private:
  ModeResult& mode_for_metrics(const char* what);
  void on_sample(const ResourceSample& s);
  ExperimentResult snapshot_locked() const;
  void autosave_from_sampler();

  std::string experiment_name_;
  std::string save_dir_;
  std::string default_path_;
  SamplerOptions sampler_options_;
  mutable std::mutex mutex_;       // the result and the running mode
  mutable std::mutex save_mutex_;  // one writer of the file at a time, newest snapshot last
  ExperimentResult result_;
  std::optional<ModeResult> running_;  // the mode being recorded
  BatchTimer timer_;
  std::unique_ptr<ResourceSampler> sampler_;
  bool autosave_ = true;
  double last_autosave_ = 0;
  std::string last_autosave_error_;
  bool autosave_warned_ = false;
  // Background lockers (sampler, auto-save) waiting for mutex_: the per-batch calls step aside for
  // them (see experiment_session.cpp).
  mutable std::atomic<int> priority_waiting_{0};
  void yield_to_background() const;
  void note_autosave_error(const std::string& error);

 public:
  // Why the last auto-save failed (disk full, unwritable save_dir); empty when it worked. The first
  // failure is also warned about once on stderr; the results stay in memory and every later
  // interval tries again.
  std::string last_autosave_error() const;
};

// Appends a sample to the seed's series (and CodeDAG's extra ones).
void append_sample(ResourceUsage& usage, const ResourceSample& s);

}  // namespace codedag::monitor
