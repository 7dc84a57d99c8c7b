#pragma once
// The lease of a running run. A C++ thread (not the Python one, which a busy or hung interpreter
// would stall) rewrites <info_dir>/heartbeat.json every lease/3 seconds with
//   {"pid", "start_ticks", "boot_id", "host", "beat_at", "lease_until"}
// and flushes the metric log every flush_interval seconds. A reader decides a "running" run is
// dead when lease_until has passed AND the process (pid + start time) is gone from this host.
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "codedag/common/json_file.hpp"
#include "codedag/store/process_identity.hpp"

namespace codedag::store {

class MetricLog;

// The lease, from CODEDAG_LEASE_SECONDS when set (tests shorten it), else 30 seconds.
double default_lease_seconds();

struct Heartbeat {
  ProcessIdentity process;
  double beat_at = 0;
  double lease_until = 0;
  bool ended = false;

  json to_json() const;
  static Heartbeat from_json(const json& j);
};

// Reads <info_dir>/heartbeat.json; nullopt-like (beat_at 0) when missing or unreadable.
Heartbeat read_heartbeat(const std::string& info_dir);

class Supervisor {
 public:
  Supervisor(std::string info_dir, MetricLog* log, double lease_seconds, double flush_interval = 0.5);
  ~Supervisor();  // stops the thread
  void stop(bool ended);
  double lease_seconds() const { return lease_; }
  // The last error writing heartbeat.json ("" when every beat was written), for the end-of-run report.
  std::string write_error() const;

 private:
  void loop();
  void beat(bool ended);
  std::string info_dir_;
  MetricLog* log_;
  double lease_;
  double flush_interval_;
  ProcessIdentity self_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string write_error_;  // guarded by mutex_
  bool warned_ = false;
  std::thread thread_;
};

double unix_now();

}  // namespace codedag::store
