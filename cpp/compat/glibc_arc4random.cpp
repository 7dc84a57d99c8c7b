// Linked into the wheel's binaries only (CODEDAG_STATIC_RUNTIME, cmake/third_party.cmake), with
// -Wl,--wrap=arc4random. The static libstdc++ of GCC 12+ seeds std::random_device (cpp-httplib
// uses it) with glibc's arc4random, which only glibc 2.36 has: that one symbol would raise the
// wheel's manylinux tag from 2_34 to 2_36 and shut out Ubuntu 22.04 (glibc 2.35) and RHEL 9 (2.34).
// getrandom (glibc 2.25) reads the same kernel source arc4random does.
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

extern "C" uint32_t __wrap_arc4random(void) {
  uint32_t value = 0;
  for (;;) {
    const ssize_t got = getrandom(&value, sizeof value, 0);
    if (got == static_cast<ssize_t>(sizeof value)) return value;
    // Interrupted before any entropy: ask again. Anything else (no getrandom: Linux < 3.17) leaves
    // no source of randomness; arc4random itself aborts then too.
    if (got < 0 && errno != EINTR) std::abort();
  }
}
