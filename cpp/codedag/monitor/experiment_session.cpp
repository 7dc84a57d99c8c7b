#include "codedag/monitor/experiment_session.hpp"

#include <algorithm>
#include <ctime>
#include <thread>

#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"

namespace codedag::monitor {

void append_sample(ResourceUsage& usage, const ResourceSample& s) {
  usage.cpu_usage.push_back({s.timestamp, s.cpu_pct});
  usage.memory_usage.push_back({s.timestamp, s.memory_pct});
  for (const GpuReading& g : s.gpus) {
    const std::string key = std::to_string(g.index);
    usage.gpu_usage[key].push_back({s.timestamp, g.utilization_pct});
    usage.gpu_memory[key].push_back({s.timestamp, g.memory_used_mb});
  }
  usage.process_cpu_usage.push_back({s.timestamp, s.process_cpu_pct});
  usage.process_memory.push_back({s.timestamp, s.process_memory_mb});
  usage.system_cpu_usage.push_back({s.timestamp, s.system_cpu_pct});
  usage.cpu_throttled.push_back({s.timestamp, s.throttled_ms});
}

namespace {
std::string file_stamp(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d_%H%M%S", &tm);
  return buf;
}

// An experiment name used as a file name: path separators and control characters become '_'.
std::string file_safe(const std::string& name) {
  std::string out = name;
  for (char& c : out)
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 32) c = '_';
  return out;
}
// mutex_ taken ahead of the training loop: glibc's mutex lets a thread that unlocks and relocks at
// once (log_loss a million times in a tight loop) starve every other locker — measured: one resource
// sample and one auto-save in 3 s at 0.1 s intervals. A background locker announces itself and the
// per-batch calls yield until it holds the lock; they pay one relaxed atomic load otherwise.
class PriorityLock {
 public:
  PriorityLock(std::mutex& m, std::atomic<int>& waiting) : lock_(m, std::defer_lock) {
    waiting.fetch_add(1, std::memory_order_acq_rel);
    lock_.lock();
    waiting.fetch_sub(1, std::memory_order_acq_rel);
  }

 private:
  std::unique_lock<std::mutex> lock_;
};
}  // namespace

void ExperimentSession::yield_to_background() const {
  while (priority_waiting_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
}

void ExperimentSession::note_autosave_error(const std::string& error) {
  bool first = false;
  {
    PriorityLock lock(mutex_, priority_waiting_);
    last_autosave_error_ = error;
    first = !autosave_warned_;
    autosave_warned_ = true;
  }
  // Once: the file cannot be written (unwritable save_dir, full disk); training goes on.
  if (first)
    term::Printer(stderr).warn("codedag: cannot auto-save " + term::printable(default_path_) + " (" +
                               term::printable(error) +
                               "); the results stay in memory and are saved again every interval, "
                               "save_json(path) writes them elsewhere");
}

ExperimentSession::ExperimentSession(std::string experiment_name, std::string save_dir, SamplerOptions sampler)
    : experiment_name_(std::move(experiment_name)),
      save_dir_(std::move(save_dir)),
      sampler_options_(std::move(sampler)) {
  if (experiment_name_.empty())
    throw InputError("ExperimentMonitor needs an experiment name, e.g. ExperimentMonitor(\"BirdCLEF_2023\")");
  if (save_dir_.empty()) save_dir_ = ".";
  result_.experiment_name = experiment_name_;
  result_.timestamp = unix_now();
  result_.datetime = iso_datetime(result_.timestamp);
  default_path_ = save_dir_ + "/" + file_safe(experiment_name_) + "_" + file_stamp(result_.timestamp) + ".json";
}

ExperimentSession::~ExperimentSession() {
  if (sampler_) sampler_->stop();
}

void ExperimentSession::start_mode(const std::string& mode, const json& config, double resource_interval) {
  if (mode.empty()) throw InputError("start_mode needs a mode name, e.g. \"baseline\" or \"optimization\"");
  check_interval(resource_interval);
  {
    std::lock_guard lock(mutex_);
    if (running_)
      throw StateError("mode '" + running_->name + "' is still running: call stop_mode() before start_mode('" + mode +
                       "')");
  }
  if (!sampler_) {
    SamplerOptions options = sampler_options_;
    options.interval_s = resource_interval;
    sampler_ = std::make_unique<ResourceSampler>(options);
  } else {
    sampler_->set_interval(resource_interval);
  }
  sampler_->clear();
  ModeResult m;
  m.name = mode;
  m.config = config.is_null() ? json::object() : config;
  m.start_time = unix_now();
  m.resource_interval = resource_interval;
  m.resource_info = sampler_->describe();
  {
    std::lock_guard lock(mutex_);
    running_ = std::move(m);
    timer_.reset();
    timer_.start();
    last_autosave_ = 0;
  }
  sampler_->start([this](const ResourceSample& s) { on_sample(s); });
}

void ExperimentSession::start_batch() {
  yield_to_background();
  std::lock_guard lock(mutex_);
  if (!running_) throw StateError("start_batch() outside a mode: call start_mode(\"baseline\") first");
  timer_.start_batch();
}

double ExperimentSession::end_batch() {
  yield_to_background();
  std::lock_guard lock(mutex_);
  if (!running_) throw StateError("end_batch() outside a mode: call start_mode(\"baseline\") first");
  const double seconds = timer_.end_batch();
  running_->batch_times.push_back(timer_.batch_times().back());
  return seconds;
}

ModeResult& ExperimentSession::mode_for_metrics(const char* what) {
  if (running_) return *running_;
  if (!result_.modes.empty()) return result_.modes.back();
  throw StateError(std::string(what) + " before any mode: call start_mode(\"baseline\") first");
}

void ExperimentSession::log_loss(long long epoch, long long batch, double loss) {
  yield_to_background();
  std::lock_guard lock(mutex_);
  mode_for_metrics("log_loss()").losses.push_back({epoch, batch, loss});
}

void ExperimentSession::log_accuracy(long long epoch, long long batch, double accuracy) {
  yield_to_background();
  std::lock_guard lock(mutex_);
  mode_for_metrics("log_accuracy()").accuracies.push_back({epoch, batch, accuracy});
}

void ExperimentSession::stop_mode() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) throw StateError("stop_mode() without a running mode: call start_mode(...) first");
  }
  // Not under mutex_: the sampler's last callback takes it.
  sampler_->stop();
  {
    std::lock_guard lock(mutex_);
    timer_.stop();
    running_->total_time = timer_.total_time();
    running_->end_time = unix_now();
    result_.put(std::move(*running_));
    running_.reset();
  }
  if (autosave_) {
    try {
      save();
    } catch (const Error& e) {
      note_autosave_error(e.what());
    }
  }
}

void ExperimentSession::on_sample(const ResourceSample& s) {
  bool due = false;
  {
    PriorityLock lock(mutex_, priority_waiting_);
    if (!running_) return;
    append_sample(running_->resources, s);
    const double every = std::max(running_->resource_interval, 0.5);
    if (autosave_ && s.timestamp - last_autosave_ >= every * 0.999) {
      due = true;
      last_autosave_ = s.timestamp;
    }
  }
  if (due) autosave_from_sampler();
}

void ExperimentSession::autosave_from_sampler() {
  try {
    save();
    PriorityLock lock(mutex_, priority_waiting_);
    last_autosave_error_.clear();
  } catch (const Error& e) {  // never let a full disk kill the sampler thread
    note_autosave_error(e.what());
  }
}

std::string ExperimentSession::save(const std::string& path) {
  std::lock_guard save_lock(save_mutex_);
  const std::string target = path.empty() ? default_path_ : path;
  const ExperimentResult doc = snapshot();
  doc.save(target);
  return target;
}

ExperimentResult ExperimentSession::snapshot_locked() const {
  ExperimentResult doc = result_;
  if (running_) {
    ModeResult m = *running_;
    m.total_time = timer_.total_time();
    doc.put(std::move(m));
  }
  return doc;
}

ExperimentResult ExperimentSession::snapshot() const {
  PriorityLock lock(mutex_, priority_waiting_);
  return snapshot_locked();
}

bool ExperimentSession::running() const {
  std::lock_guard lock(mutex_);
  return running_.has_value();
}

std::optional<std::string> ExperimentSession::current_mode() const {
  std::lock_guard lock(mutex_);
  if (!running_) return std::nullopt;
  return running_->name;
}

void ExperimentSession::set_default_path(std::string path) {
  if (path.empty()) throw InputError("the result file path is empty; give a file name such as results.json");
  std::lock_guard save_lock(save_mutex_);
  default_path_ = std::move(path);
}

void ExperimentSession::set_autosave(bool on) {
  std::lock_guard lock(mutex_);
  autosave_ = on;
}

std::string ExperimentSession::last_autosave_error() const {
  std::lock_guard lock(mutex_);
  return last_autosave_error_;
}

}  // namespace codedag::monitor
