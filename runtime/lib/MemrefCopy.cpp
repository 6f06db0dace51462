//===- MemrefCopy.cpp - strided copies called by compiled CPU code ---------===//
//
// MLIR lowers a `memref.copy` between non-contiguous buffers to a call to
// `memrefCopy(elementSize, source, target)` with unranked descriptors. MLIR
// ships it in its runner utils library; Ember's runtime provides its own so
// that compiled code needs nothing from LLVM at run time.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuGemm.h"

#include <cstring>
#include <vector>

namespace {

/// An unranked memref: the rank and a pointer to the ranked descriptor
/// {allocated, aligned, offset, sizes[rank], strides[rank]}.
struct UnrankedDescriptor {
  int64_t rank;
  void *descriptor;
};

struct StridedView {
  char *data;
  const int64_t *sizes;
  const int64_t *strides;
};

StridedView viewOf(const UnrankedDescriptor *memref, int64_t elementSize) {
  auto *words = static_cast<int64_t *>(memref->descriptor);
  char *aligned = reinterpret_cast<char *>(words[1]);
  return {aligned + words[2] * elementSize, words + 3, words + 3 + memref->rank};
}

} // namespace

extern "C" void memrefCopy(int64_t elementSize, void *sourceMemref,
                           void *targetMemref) {
  auto *source = static_cast<UnrankedDescriptor *>(sourceMemref);
  auto *target = static_cast<UnrankedDescriptor *>(targetMemref);
  int64_t rank = source->rank;
  StridedView src = viewOf(source, elementSize);
  StridedView dst = viewOf(target, elementSize);
  int64_t total = 1;
  for (int64_t d = 0; d < rank; ++d)
    total *= src.sizes[d];
  if (total == 0)
    return;
  // Odometer over the index space; copy element by element.
  std::vector<int64_t> index(rank, 0);
  for (int64_t n = 0; n < total; ++n) {
    int64_t srcOffset = 0, dstOffset = 0;
    for (int64_t d = 0; d < rank; ++d) {
      srcOffset += index[d] * src.strides[d];
      dstOffset += index[d] * dst.strides[d];
    }
    std::memcpy(dst.data + dstOffset * elementSize,
                src.data + srcOffset * elementSize, elementSize);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < src.sizes[d])
        break;
      index[d] = 0;
    }
  }
}
