//===- CachingAllocator.cpp - size-class cache of device memory ------------===//
//
// Free lists keyed by block size and one map from handle to block, both
// under one mutex; the driver calls (allocateBlock/releaseBlock) happen
// under it too, which keeps the counters exact and costs nothing that
// matters next to a driver allocation.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Gpu/CachingAllocator.h"

#include <algorithm>

namespace ember {
namespace gpu {

namespace {
constexpr size_t kLargestPowerOfTwoClass = size_t(1) << 20;
constexpr size_t kStepsPerDoubling = 4;

int log2Floor(size_t value) { return 63 - __builtin_clzll(value); }
} // namespace

size_t deviceBlockSize(size_t bytes) {
  if (bytes <= kMinDeviceBlock)
    return kMinDeviceBlock;
  size_t base = size_t(1) << log2Floor(bytes - 1);
  if (base < kLargestPowerOfTwoClass)
    return base * 2;
  // `bytes` lies in (base, 2 base]; the classes there are base + k base/4.
  size_t step = base / kStepsPerDoubling;
  return base + (bytes - base + step - 1) / step * step;
}

BlockSource::~BlockSource() = default;

CachingAllocator::CachingAllocator(std::unique_ptr<BlockSource> source)
    : source(std::move(source)) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex);
  for (auto &[handle, block] : blocks)
    source->releaseBlock(handle, block.bytes);
}

uint64_t CachingAllocator::allocate(size_t bytes) {
  size_t size = deviceBlockSize(bytes);
  std::lock_guard<std::mutex> lock(mutex);
  uint64_t handle = 0;
  auto list = freeLists.find(size);
  if (list != freeLists.end() && !list->second.empty()) {
    handle = list->second.back();
    list->second.pop_back();
    counters.cacheHits++;
    counters.cachedBytes -= size;
    blocks[handle].live = true;
  } else {
    handle = source->allocateBlock(size);
    if (!handle && counters.cachedBytes) {
      // Cached blocks of other sizes may be what the driver is missing.
      counters.outOfMemoryRetries++;
      emptyCacheLocked();
      handle = source->allocateBlock(size);
    }
    if (!handle)
      return 0;
    blocks.emplace(handle, Block{size, true});
    counters.deviceAllocations++;
    counters.deviceBytes += size;
  }
  counters.allocations++;
  counters.allocatedBytes += size;
  counters.peakAllocatedBytes =
      std::max(counters.peakAllocatedBytes, counters.allocatedBytes);
  return handle;
}

bool CachingAllocator::free(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = blocks.find(handle);
  if (it == blocks.end() || !it->second.live)
    return false;
  it->second.live = false;
  freeLists[it->second.bytes].push_back(handle);
  counters.frees++;
  counters.allocatedBytes -= it->second.bytes;
  counters.cachedBytes += it->second.bytes;
  return true;
}

size_t CachingAllocator::blockSize(uint64_t handle) const {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = blocks.find(handle);
  return it != blocks.end() && it->second.live ? it->second.bytes : 0;
}

DeviceAllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex);
  return counters;
}

void CachingAllocator::emptyCache() {
  std::lock_guard<std::mutex> lock(mutex);
  emptyCacheLocked();
}

void CachingAllocator::emptyCacheLocked() {
  for (auto &[size, handles] : freeLists) {
    for (uint64_t handle : handles) {
      source->releaseBlock(handle, size);
      blocks.erase(handle);
      counters.deviceBytes -= size;
      counters.cachedBytes -= size;
    }
    handles.clear();
  }
}

} // namespace gpu
} // namespace ember
