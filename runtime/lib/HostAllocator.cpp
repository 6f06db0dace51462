//===- HostAllocator.cpp - caching allocator for host tensor memory --------===//
//
// One process-wide allocator behind a mutex: a free list (LIFO, so the most
// recently touched block is reused first) per size class, and a hash map
// from each block's address to its class.
//
// Why a map and not a header in front of each block: a header would move
// the user pointer off the page (and huge-page) boundary, push exact-size
// requests such as 2 MiB or 64 MiB into the next class (up to 25% more
// memory), and put allocator state where a buffer underrun corrupts it.
// The map costs one hash lookup under the lock we take anyway, allocates
// only when a block first comes from the OS, and lets hostFree reject
// foreign pointers and double frees loudly.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/HostAllocator.h"
#include "ember/Runtime/Profiler.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace ember {

namespace {

constexpr int kLog2MinBlock = 6;              // 64 B, the smallest class
constexpr int kLog2LargestPowerOfTwo = 20;    // 1 MiB, the last power-of-two class
constexpr int kPowerOfTwoClasses = kLog2LargestPowerOfTwo - kLog2MinBlock + 1;
constexpr int kStepsPerDoubling = 4;
/// Larger requests are refused as out of memory; keeps the rounding
/// arithmetic far from overflow.
constexpr int kLog2MaxRequest = 56;
constexpr int kClassCount =
    kPowerOfTwoClasses +
    kStepsPerDoubling * (kLog2MaxRequest - kLog2LargestPowerOfTwo);
constexpr size_t kHugePage = size_t(2) << 20;

static_assert(kHostMmapThreshold % kHugePage == 0,
              "mmapped blocks are huge-page aligned");

int log2Floor(size_t value) { return 63 - __builtin_clzll(value); }

/// The size class of a request of `bytes` (at most 2^kLog2MaxRequest).
int classOf(size_t bytes) {
  if (bytes <= (size_t(1) << kLog2MinBlock))
    return 0;
  int log2 = log2Floor(bytes - 1);
  if (log2 < kLog2LargestPowerOfTwo)
    return log2 + 1 - kLog2MinBlock;
  // `bytes` lies in (p, 2p] with p = 2^log2; the classes there are
  // p + k * p/4 for k = 1..4.
  size_t base = size_t(1) << log2;
  size_t step = base / kStepsPerDoubling;
  size_t k = (bytes - base + step - 1) / step;
  return kPowerOfTwoClasses +
         kStepsPerDoubling * (log2 - kLog2LargestPowerOfTwo) + int(k) - 1;
}

/// The block size of a size class.
size_t classSize(int sizeClass) {
  if (sizeClass < kPowerOfTwoClasses)
    return size_t(1) << (kLog2MinBlock + sizeClass);
  int large = sizeClass - kPowerOfTwoClasses;
  size_t base = size_t(1) << (kLog2LargestPowerOfTwo + large / kStepsPerDoubling);
  return base + base / kStepsPerDoubling * (large % kStepsPerDoubling + 1);
}

/// A new block of `size` (a class size) from the OS, or nullptr.
void *systemAlloc(size_t size, bool hugePages) {
  if (size < kHostMmapThreshold)
    return std::aligned_alloc(kHostAlignment, size);
  // Map one huge page more and trim both ends so that the block starts on
  // a 2 MiB boundary: the kernel backs only aligned 2 MiB ranges with huge
  // pages, and one huge-page fault replaces 512 small ones.
  size_t mapped = size + kHugePage;
  void *raw = mmap(nullptr, mapped, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return nullptr;
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t block = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (block > start)
    munmap(raw, block - start);
  uintptr_t tail = block + size;
  if (start + mapped > tail)
    munmap(reinterpret_cast<void *>(tail), start + mapped - tail);
  // Advice only: without THP support the block simply uses small pages.
  if (hugePages)
    madvise(reinterpret_cast<void *>(block), size, MADV_HUGEPAGE);
  return reinterpret_cast<void *>(block);
}

void systemFree(void *ptr, size_t size) {
  if (size < kHostMmapThreshold)
    std::free(ptr);
  else
    munmap(ptr, size);
}

/// `EMBER_HOST_CACHE_LIMIT_MB` in bytes; unset or malformed: no limit.
uint64_t cacheLimitFromEnvironment() {
  const char *text = std::getenv("EMBER_HOST_CACHE_LIMIT_MB");
  if (!text || !*text)
    return kNoHostCacheLimit;
  uint64_t megabytes = 0;
  for (const char *c = text; *c; ++c) {
    if (*c < '0' || *c > '9') {
      std::fprintf(stderr,
                   "ember: ignoring EMBER_HOST_CACHE_LIMIT_MB=%s (expected a "
                   "whole number of MiB)\n",
                   text);
      return kNoHostCacheLimit;
    }
    // Saturate: anything near 2^44 MiB means "no limit" anyway.
    if (megabytes >= (kNoHostCacheLimit >> 20) / 10)
      return kNoHostCacheLimit;
    megabytes = megabytes * 10 + uint64_t(*c - '0');
  }
  return megabytes << 20;
}

/// `EMBER_HOST_HUGE_PAGES`: "0" turns the MADV_HUGEPAGE advice off.
bool hugePagesFromEnvironment() {
  const char *text = std::getenv("EMBER_HOST_HUGE_PAGES");
  return !text || std::strcmp(text, "0") != 0;
}

struct BlockInfo {
  int sizeClass;
  /// False while the block sits in its class's free list.
  bool live;
};

class Allocator {
public:
  Allocator()
      : hugePages(hugePagesFromEnvironment()),
        cacheLimit(cacheLimitFromEnvironment()) {}

  void *allocate(size_t bytes) {
    if (bytes > (size_t(1) << kLog2MaxRequest))
      return nullptr;
    int sizeClass = classOf(bytes);
    size_t size = classSize(sizeClass);
    {
      std::lock_guard<std::mutex> lock(mutex);
      std::vector<void *> &cached = freeLists[sizeClass];
      if (!cached.empty()) {
        void *ptr = cached.back();
        cached.pop_back();
        blocks.find(ptr)->second.live = true;
        stats.cachedBytes -= size;
        ++stats.cacheHits;
        noteAllocated(size);
        return ptr;
      }
    }
    // A miss: ask the OS without holding the lock; when it refuses, what
    // the cache holds is the only memory left to give back.
    void *ptr = systemAlloc(size, hugePages);
    if (!ptr) {
      emptyCache();
      ptr = systemAlloc(size, hugePages);
      if (!ptr)
        return nullptr;
    }
    std::lock_guard<std::mutex> lock(mutex);
    try {
      blocks.emplace(ptr, BlockInfo{sizeClass, true});
    } catch (const std::bad_alloc &) {
      systemFree(ptr, size);
      return nullptr;
    }
    stats.systemBytes += size;
    ++stats.systemAllocations;
    noteAllocated(size);
    return ptr;
  }

  void release(void *ptr) {
    if (!ptr)
      return;
    size_t size;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = blocks.find(ptr);
      if (it == blocks.end() || !it->second.live) {
        std::fprintf(stderr, "ember: hostFree(%p): %s\n", ptr,
                     it == blocks.end() ? "not a block from hostAlloc"
                                        : "block freed twice");
        std::abort();
      }
      size = classSize(it->second.sizeClass);
      ++stats.frees;
      stats.allocatedBytes -= size;
      if (stats.cachedBytes + size <= cacheLimit &&
          pushFree(it->second.sizeClass, ptr)) {
        it->second.live = false;
        stats.cachedBytes += size;
        return;
      }
      blocks.erase(it);
      stats.systemBytes -= size;
    }
    // Over the cache limit: back to the OS, outside the lock (munmap of a
    // large block is not free).
    systemFree(ptr, size);
  }

  size_t allocationSize(const void *ptr) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = blocks.find(const_cast<void *>(ptr));
    if (it == blocks.end() || !it->second.live)
      return 0;
    return classSize(it->second.sizeClass);
  }

  HostAllocatorStats snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return stats;
  }

  void emptyCache() {
    std::lock_guard<std::mutex> lock(mutex);
    trimCache(0);
  }

  void resetPeak() {
    std::lock_guard<std::mutex> lock(mutex);
    stats.peakAllocatedBytes = stats.allocatedBytes;
  }

  uint64_t setCacheLimit(uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    uint64_t previous = cacheLimit;
    cacheLimit = bytes;
    trimCache(bytes);
    return previous;
  }

private:
  void noteAllocated(size_t size) {
    ++stats.allocations;
    stats.allocatedBytes += size;
    stats.peakAllocatedBytes =
        std::max(stats.peakAllocatedBytes, stats.allocatedBytes);
  }

  /// Adds `ptr` to its free list; false when even that small vector cannot
  /// grow (then the block goes back to the OS instead).
  bool pushFree(int sizeClass, void *ptr) {
    try {
      freeLists[sizeClass].push_back(ptr);
      return true;
    } catch (const std::bad_alloc &) {
      return false;
    }
  }

  /// Releases cached blocks, largest classes first, until at most `limit`
  /// bytes stay cached. Runs under the lock and allocates nothing: it is
  /// also the out-of-memory path.
  void trimCache(uint64_t limit) {
    for (int sizeClass = kClassCount - 1;
         sizeClass >= 0 && stats.cachedBytes > limit; --sizeClass) {
      std::vector<void *> &cached = freeLists[sizeClass];
      size_t size = classSize(sizeClass);
      while (!cached.empty() && stats.cachedBytes > limit) {
        void *ptr = cached.back();
        cached.pop_back();
        blocks.erase(ptr);
        systemFree(ptr, size);
        stats.cachedBytes -= size;
        stats.systemBytes -= size;
      }
    }
  }

  const bool hugePages;
  std::mutex mutex;
  std::unordered_map<void *, BlockInfo> blocks;
  std::vector<void *> freeLists[kClassCount];
  HostAllocatorStats stats = {};
  uint64_t cacheLimit;
};

Allocator &allocator() {
  // Never destroyed: buffers that other static objects free during exit
  // must still find their allocator.
  static Allocator *instance = new Allocator();
  return *instance;
}

} // namespace

void *hostAlloc(size_t bytes) { return allocator().allocate(bytes); }

void hostFree(void *ptr) { allocator().release(ptr); }

size_t hostAllocationSize(const void *ptr) {
  return ptr ? allocator().allocationSize(ptr) : 0;
}

HostAllocatorStats hostAllocatorStats() { return allocator().snapshot(); }

void hostEmptyCache() { allocator().emptyCache(); }

void hostResetPeakStats() { allocator().resetPeak(); }

uint64_t hostSetCacheLimit(uint64_t bytes) {
  return allocator().setCacheLimit(bytes);
}

} // namespace ember

namespace ember {
namespace {
thread_local CompiledAllocationFailure compiledAllocationFailure = nullptr;

/// With profile_memory, compiled code's temporaries are "[temporary]"
/// events sized by their block (what the free can look up), so that each
/// allocation and its free cancel out. Off: one relaxed load.
void noteTemporary(void *block, int sign) {
  if (profiler::memoryEnabled() && block)
    profiler::recordMemory(sign * static_cast<int64_t>(hostAllocationSize(block)),
                           "[temporary]");
}

/// `block`, or the thread's failure handler when it is null.
void *checkedForCompiledCode(void *block, size_t bytes) {
  if (!block && compiledAllocationFailure)
    compiledAllocationFailure(bytes); // does not return
  noteTemporary(block, +1);
  return block;
}
} // namespace

CompiledAllocationFailure setCompiledAllocationFailure(CompiledAllocationFailure handler) {
  CompiledAllocationFailure previous = compiledAllocationFailure;
  compiledAllocationFailure = handler;
  return previous;
}

} // namespace ember

extern "C" {

void *_mlir_memref_to_llvm_alloc(size_t size) {
  return ember::checkedForCompiledCode(ember::hostAlloc(size), size);
}

void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  // As C's aligned_alloc: an alignment that is not a power of two fails.
  if ((alignment & (alignment - 1)) != 0 ||
      alignment > ember::kHostMmapThreshold)
    return nullptr;
  if (alignment <= ember::kHostAlignment)
    return ember::checkedForCompiledCode(ember::hostAlloc(size), size);
  // Only mmapped blocks are aligned beyond 64 bytes (to 2 MiB); such
  // alignments are rare enough that the padding does not matter.
  return ember::checkedForCompiledCode(
      ember::hostAlloc(std::max(size, ember::kHostMmapThreshold)), size);
}

void _mlir_memref_to_llvm_free(void *ptr) {
  ember::noteTemporary(ptr, -1);
  ember::hostFree(ptr);
}

} // extern "C"
