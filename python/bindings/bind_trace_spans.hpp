#pragma once
// The calls one thread recorded for the Chrome trace (one span per recorded call), appended by the
// hook on every recorded return. A std::vector doubling as it grew copied everything recorded so far
// at each doubling and touched fresh pages every time (a page fault per 4 KiB: a third of the
// spans' cost per call). Spans go instead into fixed chunks of 2 MiB, asked for as transparent huge
// pages (one fault per chunk where the kernel grants them), and chunks emptied by clear() go back to
// a small process-wide pool, so the next traced block (a worker's next batch) reuses warm memory.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace codedag::bindings::tracehook {

struct RawSpan {
  int32_t ctx;
  int64_t start, dur;
};

class SpanLog {
 public:
  static constexpr size_t kChunkBytes = size_t{2} << 20;
  static constexpr size_t kPerChunk = kChunkBytes / sizeof(RawSpan);

  SpanLog() = default;
  SpanLog(const SpanLog&) = delete;
  SpanLog& operator=(const SpanLog&) = delete;
  ~SpanLog() { clear(); }

  void push(const RawSpan& s) {
    if (used_ == kPerChunk) next_chunk();
    chunks_.back()[used_++] = s;
  }
  size_t size() const { return chunks_.empty() ? 0 : (chunks_.size() - 1) * kPerChunk + used_; }
  template <class F>
  void for_each(F&& f) const {
    for (size_t c = 0; c < chunks_.size(); ++c) {
      const size_t n = c + 1 == chunks_.size() ? used_ : kPerChunk;
      for (size_t i = 0; i < n; ++i) f(chunks_[c][i]);
    }
  }
  // Forgets every span; the chunks go back to the pool (or are freed when it is full).
  void clear();

 private:
  void next_chunk();
  std::vector<RawSpan*> chunks_;
  size_t used_ = kPerChunk;  // spans in the last chunk; "full" when there is none yet
};

}  // namespace codedag::bindings::tracehook
