// See bind_trace_clock.hpp.
#include "bind_trace_clock.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace codedag::bindings::tracehook::timing {

namespace {
#ifdef CODEDAG_TRACE_TSC
// The counter is trusted only when the CPU says it ticks at a constant rate through power states
// (constant_tsc, nonstop_tsc) and the kernel still uses it as its clock source: the kernel drops the
// TSC as clock source when it finds it unsynchronised across cores or unstable (a VM migration).
bool tsc_trusted() {
  std::ifstream source("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  if (!(source >> name) || name != "tsc") return false;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    bool constant = false, nonstop = false;
    for (std::string w; words >> w;) {
      constant = constant || w == "constant_tsc";
      nonstop = nonstop || w == "nonstop_tsc";
    }
    return constant && nonstop;
  }
  return false;
}
#endif
}  // namespace

void calibrate() {
#ifdef CODEDAG_TRACE_TSC
  static const double ns_per_tick = [] {
    if (!tsc_trusted()) return 0.0;
    // The rate over ~2 ms of spinning, between two (counter, clock) pairs each read back to back.
    const uint64_t c0 = __rdtsc();
    const int64_t t0 = steady_ns();
    int64_t t1 = t0;
    while (t1 - t0 < 2'000'000) t1 = steady_ns();
    const uint64_t c1 = __rdtsc();
    if (c1 <= c0) return 0.0;
    const double rate = static_cast<double>(t1 - t0) / static_cast<double>(c1 - c0);
    return rate > 0 && rate < 100 ? rate : 0.0;  // 10 MHz .. : anything else is not a usable counter
  }();
  TscScale s;
  s.usable = ns_per_tick > 0;
  s.ns_per_tick = ns_per_tick;
  s.tsc0 = __rdtsc();
  s.ns0 = steady_ns();
  g_tsc = s;
#endif
}

}  // namespace codedag::bindings::tracehook::timing
