#pragma once
// The hook's clock: one read per event, so its cost is paid twice per traced call. On x86-64 with an
// invariant TSC that the kernel itself uses as its clock source, the time-stamp counter is read
// directly (rdtsc: ~20 ns here against ~30 ns for a vDSO clock_gettime) and scaled to nanoseconds
// of the steady clock; anywhere else the steady clock is read. Times stay nanoseconds either way.
#include <chrono>
#include <cstdint>

#if defined(__x86_64__) && defined(__linux__)
#include <x86intrin.h>
#define CODEDAG_TRACE_TSC 1
#endif

namespace codedag::bindings::tracehook::timing {

inline int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The scale from counter ticks to steady-clock nanoseconds, anchored at (tsc0, ns0).
struct TscScale {
  bool usable = false;
  uint64_t tsc0 = 0;
  int64_t ns0 = 0;
  double ns_per_tick = 0;
};
inline TscScale g_tsc;

// Once per process: decides whether the counter can be used and measures its rate (~2 ms, the first
// time only). Every call re-anchors the scale at the present, so the scale's error (a few parts per
// million) never accumulates over more than one traced block.
void calibrate();

inline int64_t now_ns() {
#ifdef CODEDAG_TRACE_TSC
  if (g_tsc.usable)
    return g_tsc.ns0 +
           static_cast<int64_t>(static_cast<double>(static_cast<int64_t>(__rdtsc() - g_tsc.tsc0)) * g_tsc.ns_per_tick);
#endif
  return steady_ns();
}

}  // namespace codedag::bindings::tracehook::timing
