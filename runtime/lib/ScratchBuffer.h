//===- ScratchBuffer.h - a per-thread packing buffer that only grows -*- C++ -*-===//
//
// The GEMM and convolution kernels pack operands into a thread_local buffer
// of these, reused call after call instead of allocated each time (fresh
// pages would cost a page fault and a clear per 4 KiB). Internal to the
// runtime's CPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_SCRATCHBUFFER_H
#define EMBER_RUNTIME_SCRATCHBUFFER_H

#include <cstddef>
#include <cstdlib>

namespace ember {

/// A 64-byte aligned float buffer that only grows; get() keeps no contents
/// across a growth.
class ScratchBuffer {
public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer &) = delete;
  ScratchBuffer &operator=(const ScratchBuffer &) = delete;
  ~ScratchBuffer() { std::free(data_); }

  /// At least `count` floats, or null when the allocation fails.
  float *get(size_t count) {
    if (count > capacity_) {
      std::free(data_);
      size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float *>(std::aligned_alloc(64, bytes));
      capacity_ = data_ ? count : 0;
    }
    return data_;
  }

private:
  float *data_ = nullptr;
  size_t capacity_ = 0;
};

} // namespace ember

#endif // EMBER_RUNTIME_SCRATCHBUFFER_H
