#pragma once
// Who a run's process is, in a way a reused pid cannot fake: the pid plus the process start time
// (clock ticks since boot, field 22 of /proc/<pid>/stat) plus the boot id. A pid that exists but
// started at another time is another process; the run it belonged to is gone.
#include <string>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

struct ProcessIdentity {
  long pid = 0;
  unsigned long long start_ticks = 0;
  std::string boot_id;
  std::string host;

  json to_json() const;
  static ProcessIdentity from_json(const json& j);
};

// This process.
ProcessIdentity self_identity();

// The identity of `pid` on this machine now; start_ticks 0 when no such process.
ProcessIdentity identity_of(long pid);

enum class Liveness { alive, gone, unknown /* another host: cannot tell */ };
Liveness liveness(const ProcessIdentity& who);

std::string host_name();
std::string user_name();

}  // namespace codedag::store
