//===- SharedStorage.h - tensors in shared memory --------------*- C++ -*-===//
//
// torch's `share_memory_()` for eager tensors: a CPU storage's buffer is
// replaced, in place, by a copy in a shared memory region
// (ember/Runtime/SharedMemory.h), so that every tensor and view of the
// storage keeps working and another process can map the same pages from the
// region's file descriptor. A shared buffer counts as exported (like a
// NumPy array's): updates are computed at once and written into the shared
// pages, never into a new block, so other processes see them.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_SHAREDSTORAGE_H
#define EMBER_FRONTEND_SHAREDSTORAGE_H

#include "ember/Frontend/Tensor.h"

#include <cstddef>

namespace ember {

/// Moves x's storage into shared memory (computing a pending value first);
/// a no-op when it is shared already and for GPU tensors (as torch's is for
/// CUDA tensors). Raises RuntimeError when no shared memory can be had.
void shareMemory(const Tensor &x);

/// Whether x's storage lives in shared memory.
bool isShared(const Tensor &x);

/// What another process needs to map x's storage: the region's descriptor
/// (owned by the storage: duplicate it to keep it) and byte size, and the
/// storage's dtype and dense shape. The storage is shared first if needed.
struct SharedStorageHandle {
  int fd;
  size_t bytes;
  DType dtype;
  Shape shape;
};
SharedStorageHandle sharedStorageHandle(const Tensor &x);

/// A tensor over the whole storage mapped from `fd` (ownership of `fd`
/// passes to the storage, also on failure): dtype `dtype`, dense shape
/// `shape`.
Tensor tensorFromSharedMemory(int fd, DType dtype, llvm::ArrayRef<int64_t> shape);

} // namespace ember

#endif // EMBER_FRONTEND_SHAREDSTORAGE_H
