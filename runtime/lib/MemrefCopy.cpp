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

/// Copies `count` elements of `size` bytes with element strides `from` and
/// `to` (the innermost dim of a copy).
void copyRun(char *dst, int64_t to, const char *src, int64_t from, int64_t count,
             int64_t size) {
  if (from == 1 && to == 1) {
    std::memcpy(dst, src, count * size);
    return;
  }
  auto strided = [&](auto element) {
    using T = decltype(element);
    auto *d = reinterpret_cast<T *>(dst);
    auto *s = reinterpret_cast<const T *>(src);
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(d + i * to, s + i * from, sizeof(T));
  };
  switch (size) {
  case 1:
    return strided(uint8_t());
  case 2:
    return strided(uint16_t());
  case 4:
    return strided(uint32_t());
  case 8:
    return strided(uint64_t());
  default:
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(dst + i * to * size, src + i * from * size, size);
  }
}

} // namespace

extern "C" void memrefCopy(int64_t elementSize, void *sourceMemref,
                           void *targetMemref) {
  auto *source = static_cast<UnrankedDescriptor *>(sourceMemref);
  auto *target = static_cast<UnrankedDescriptor *>(targetMemref);
  StridedView src = viewOf(source, elementSize);
  StridedView dst = viewOf(target, elementSize);
  // The copy's dims, outermost first, without unit dims, and with each dim
  // merged into the next inner one where both buffers are contiguous
  // across them: a transposed or sliced copy becomes a few long runs.
  struct Dim {
    int64_t size, from, to;
  };
  std::vector<Dim> dims;
  for (int64_t d = 0; d < source->rank; ++d) {
    if (src.sizes[d] == 0)
      return;
    if (src.sizes[d] == 1)
      continue;
    dims.push_back({src.sizes[d], src.strides[d], dst.strides[d]});
  }
  std::vector<Dim> merged;
  for (const Dim &dim : dims) {
    if (!merged.empty()) {
      Dim &outer = merged.back();
      // `outer` steps over exactly one run of `dim` in both buffers.
      if (outer.from == dim.from * dim.size && outer.to == dim.to * dim.size) {
        outer = {outer.size * dim.size, dim.from, dim.to};
        continue;
      }
    }
    merged.push_back(dim);
  }
  if (merged.empty()) { // a single element
    std::memcpy(dst.data, src.data, elementSize);
    return;
  }
  Dim inner = merged.back();
  merged.pop_back();
  // Odometer over the outer dims, moving both addresses by their strides.
  std::vector<int64_t> index(merged.size(), 0);
  char *from = src.data;
  char *to = dst.data;
  while (true) {
    copyRun(to, inner.to, from, inner.from, inner.size, elementSize);
    int64_t d = static_cast<int64_t>(merged.size()) - 1;
    for (; d >= 0; --d) {
      from += merged[d].from * elementSize;
      to += merged[d].to * elementSize;
      if (++index[d] < merged[d].size)
        break;
      from -= merged[d].from * merged[d].size * elementSize;
      to -= merged[d].to * merged[d].size * elementSize;
      index[d] = 0;
    }
    if (d < 0)
      return;
  }
}
