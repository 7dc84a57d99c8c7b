#include "codedag/store/heartbeat.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/layout.hpp"
#include "codedag/store/metric_log.hpp"

namespace codedag::store {

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

double default_lease_seconds() {
  if (const char* s = std::getenv("CODEDAG_LEASE_SECONDS"); s && *s) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end != s && v > 0) return v;
  }
  return 30.0;
}

json Heartbeat::to_json() const {
  json j = process.to_json();
  j["beat_at"] = beat_at;
  j["lease_until"] = lease_until;
  j["ended"] = ended;
  return j;
}

Heartbeat Heartbeat::from_json(const json& j) {
  Heartbeat h;
  if (!j.is_object()) return h;
  h.process = ProcessIdentity::from_json(j);
  h.beat_at = j.value("beat_at", 0.0);
  h.lease_until = j.value("lease_until", 0.0);
  h.ended = j.value("ended", false);
  return h;
}

Heartbeat read_heartbeat(const std::string& info_dir) {
  try {
    return Heartbeat::from_json(load_json_file(info_dir + "/" + kHeartbeatFile));
  } catch (const std::exception&) {
    return Heartbeat{};
  }
}

Supervisor::Supervisor(std::string info_dir, MetricLog* log, double lease_seconds, double flush_interval)
    : info_dir_(std::move(info_dir)),
      log_(log),
      lease_(lease_seconds > 0 ? lease_seconds : default_lease_seconds()),
      flush_interval_(std::clamp(flush_interval, 0.01, 1.0)),
      self_(self_identity()) {
  beat(false);
  thread_ = std::thread([this] { loop(); });
}

Supervisor::~Supervisor() { stop(false); }

void Supervisor::stop(bool ended) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (log_) log_->flush();
  if (ended) beat(true);
}

void Supervisor::beat(bool ended) {
  Heartbeat h;
  h.process = self_;
  h.beat_at = unix_now();
  h.lease_until = ended ? h.beat_at : h.beat_at + lease_;
  h.ended = ended;
  try {
    write_file_atomic(info_dir_ + "/" + kHeartbeatFile, h.to_json().dump() + "\n");
  } catch (const std::exception& e) {
    // A full disk must not kill training: warn once, retry at the next beat. If it never succeeds
    // the run looks dead to others once the lease runs out, which is what can be known of it.
    std::lock_guard lock(mutex_);
    write_error_ = e.what();
    if (!warned_) {
      warned_ = true;
      term::Printer(stderr).warn(std::string("codedag: heartbeat not written (") + term::printable(e.what()) +
                                 "); retrying, training goes on");
    }
  }
}

std::string Supervisor::write_error() const {
  std::lock_guard lock(mutex_);
  return write_error_;
}

void Supervisor::loop() {
  const double beat_every = std::max(0.05, lease_ / 3.0);
  double next_beat = unix_now() + beat_every;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::duration<double>(std::min(flush_interval_, beat_every)));
    if (stopping_) break;
    lock.unlock();
    if (log_) log_->flush();  // never throws; a failure is kept and reported by the log
    if (unix_now() >= next_beat) {
      beat(false);
      next_beat = unix_now() + beat_every;
    }
    lock.lock();
  }
}

}  // namespace codedag::store
