//===- CachingAllocator.h - size-class cache of device memory -*- C++ -*-===//
//
// Device allocations are slow (a driver call, often a page-table update and
// a device synchronization on free), so every Device keeps freed blocks in
// per-size-class free lists and hands them out again, as the host allocator
// (ember/Runtime/HostAllocator.h) does for host memory and PyTorch's CUDA
// caching allocator does for device memory. Memory goes back to the driver
// only on emptyCache, when the allocator is destroyed, or when the driver
// is out of memory (the cache is emptied and the allocation retried).
//
// Size classes follow the host allocator's policy: requests up to 1 MiB
// round up to a power of two (at least 256 B, so that every block meets the
// drivers' offset alignments); larger ones to one of 4 steps per doubling
// (1.25, 1.5, 1.75, 2 x a power of two), wasting at most 25%.
//
// The allocator knows nothing about a backend: a BlockSource makes and
// releases the blocks. Thread-safe.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_CACHINGALLOCATOR_H
#define EMBER_RUNTIME_GPU_CACHINGALLOCATOR_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace ember {
namespace gpu {

/// The smallest block a device allocator hands out.
constexpr size_t kMinDeviceBlock = 256;

/// The block size a request of `bytes` is served with (its size class).
size_t deviceBlockSize(size_t bytes);

/// Where a CachingAllocator's blocks come from: one backend's driver.
class BlockSource {
public:
  virtual ~BlockSource();
  /// A new block of exactly `bytes` (a class size) as a nonzero handle, or
  /// 0 when the device is out of memory. Other failures throw.
  virtual uint64_t allocateBlock(size_t bytes) = 0;
  /// Gives a block from allocateBlock back to the driver.
  virtual void releaseBlock(uint64_t handle, size_t bytes) = 0;
};

/// Counters of one device's allocator since it was made. Byte counts are
/// block (size-class) bytes, not requested bytes.
struct DeviceAllocatorStats {
  /// Bytes in blocks handed out and not yet freed.
  uint64_t allocatedBytes = 0;
  /// The highest allocatedBytes so far.
  uint64_t peakAllocatedBytes = 0;
  /// Bytes in freed blocks kept for reuse.
  uint64_t cachedBytes = 0;
  /// Bytes held from the driver: allocatedBytes + cachedBytes.
  uint64_t deviceBytes = 0;
  /// Successful allocate calls (= cacheHits + deviceAllocations).
  uint64_t allocations = 0;
  /// Allocations served from the cache.
  uint64_t cacheHits = 0;
  /// Allocations that took a new block from the driver.
  uint64_t deviceAllocations = 0;
  /// free calls.
  uint64_t frees = 0;
  /// Times the cache was emptied to retry an allocation out of memory.
  uint64_t outOfMemoryRetries = 0;
};

/// A caching allocator over one BlockSource.
class CachingAllocator {
public:
  explicit CachingAllocator(std::unique_ptr<BlockSource> source);
  /// Releases every block, cached or still handed out.
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator &) = delete;
  CachingAllocator &operator=(const CachingAllocator &) = delete;

  /// A block of deviceBlockSize(bytes) bytes, or 0 when the driver is out
  /// of memory even with an empty cache.
  uint64_t allocate(size_t bytes);
  /// Returns a block to its class's free list. Returns false (and changes
  /// nothing) when `handle` is not a live block of this allocator.
  bool free(uint64_t handle);
  /// The block size of a live block; 0 for anything else.
  size_t blockSize(uint64_t handle) const;
  DeviceAllocatorStats stats() const;
  /// Releases every cached block to the source.
  void emptyCache();

private:
  void emptyCacheLocked();

  struct Block {
    size_t bytes;
    bool live;
  };
  std::unique_ptr<BlockSource> source;
  mutable std::mutex mutex;
  /// Free blocks per block size, most recently freed last.
  std::unordered_map<size_t, std::vector<uint64_t>> freeLists;
  std::unordered_map<uint64_t, Block> blocks;
  DeviceAllocatorStats counters;
};

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_CACHINGALLOCATOR_H
