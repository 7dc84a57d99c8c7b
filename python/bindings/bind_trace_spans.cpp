// See bind_trace_spans.hpp.
#include "bind_trace_spans.hpp"

#include <cstdlib>
#include <new>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace codedag::bindings::tracehook {

namespace {
// Chunks kept for reuse after clear(): up to 16 MiB stays with the process once it has traced, the
// spans of ~700k calls; anything beyond is given back to the allocator. Only touched under the GIL.
constexpr size_t kPoolChunks = 8;
std::vector<RawSpan*>& pool() {
  static auto* p = new std::vector<RawSpan*>();  // never destroyed: SpanLogs may outlive statics at exit
  return *p;
}
}  // namespace

void SpanLog::next_chunk() {
  RawSpan* chunk = nullptr;
  if (!pool().empty()) {
    chunk = pool().back();
    pool().pop_back();
  } else {
    chunk = static_cast<RawSpan*>(std::aligned_alloc(kChunkBytes, kChunkBytes));
    if (!chunk) throw std::bad_alloc();  // guarded() turns it into a recorded failure
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(chunk, kChunkBytes, MADV_HUGEPAGE);  // advice only: ignored where huge pages are off
#endif
  }
  chunks_.push_back(chunk);
  used_ = 0;
}

void SpanLog::clear() {
  for (RawSpan* chunk : chunks_) {
    if (pool().size() < kPoolChunks)
      pool().push_back(chunk);
    else
      std::free(chunk);
  }
  chunks_.clear();
  used_ = kPerChunk;
}

}  // namespace codedag::bindings::tracehook
