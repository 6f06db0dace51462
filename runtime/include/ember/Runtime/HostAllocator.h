//===- HostAllocator.h - caching allocator for host tensor memory -*- C++ -*-===//
//
// Every host tensor buffer of the eager frontend, and every temporary that
// JIT-compiled code allocates, comes from here. A fresh large buffer costs
// its page faults on first touch (~30 ms for 64 MiB on our machines), so
// freed blocks stay mapped in per-size-class caches and the next request of
// the same class reuses them; memory goes back to the OS only on
// `hostEmptyCache`, when the cache limit is reached, or when the system is
// out of memory.
//
// Size classes: requests up to 1 MiB round up to a power of two (at least
// 64 B); larger ones round up to one of 4 steps per doubling (1.25, 1.5,
// 1.75, 2 x a power of two), so a block wastes at most 25% of its size.
// Blocks of 2 MiB and more are anonymous mmaps that start on a 2 MiB
// boundary and ask for transparent huge pages (unless
// `EMBER_HOST_HUGE_PAGES=0`); smaller ones come from aligned_alloc.
// Thread-safe. No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_HOSTALLOCATOR_H
#define EMBER_RUNTIME_HOSTALLOCATOR_H

#include <cstddef>
#include <cstdint>

namespace ember {

/// The alignment of every block hostAlloc returns.
constexpr size_t kHostAlignment = 64;

/// The block size from which blocks are mmapped (and 2 MiB aligned).
constexpr size_t kHostMmapThreshold = size_t(2) << 20;

/// `hostSetCacheLimit` value (and default) meaning "cache without a limit".
constexpr uint64_t kNoHostCacheLimit = UINT64_MAX;

/// A block of at least `bytes` bytes, 64-byte aligned; 0 bytes gives a
/// unique minimal block. Reuses a cached block of the same size class when
/// there is one. Returns nullptr only when the system has no memory left
/// even after the cache was emptied. Never throws.
void *hostAlloc(size_t bytes);

/// Returns a block from hostAlloc to its size-class cache (or to the OS when
/// the cache limit would be exceeded). nullptr is a no-op. A pointer that
/// hostAlloc did not return, or a second free, aborts with a message.
void hostFree(void *ptr);

/// The usable size of a live block (its size class); 0 for nullptr or a
/// pointer that is not a live block.
size_t hostAllocationSize(const void *ptr);

/// Counters since process start. Byte counts are block (size-class) bytes,
/// not requested bytes.
struct HostAllocatorStats {
  /// Bytes in blocks handed out and not yet freed.
  uint64_t allocatedBytes;
  /// The highest allocatedBytes since start or the last hostResetPeakStats.
  uint64_t peakAllocatedBytes;
  /// Bytes in freed blocks kept for reuse.
  uint64_t cachedBytes;
  /// Bytes held from the OS: allocatedBytes + cachedBytes.
  uint64_t systemBytes;
  /// Successful hostAlloc calls (= cacheHits + systemAllocations).
  uint64_t allocations;
  /// Allocations served from the cache.
  uint64_t cacheHits;
  /// Allocations that took a new block from the OS.
  uint64_t systemAllocations;
  /// hostFree calls with a non-null pointer.
  uint64_t frees;
};

/// A consistent snapshot of the counters.
HostAllocatorStats hostAllocatorStats();

/// Hands every cached block back to the OS (live blocks are untouched).
void hostEmptyCache();

/// Sets peakAllocatedBytes to the current allocatedBytes.
void hostResetPeakStats();

/// Caps cachedBytes: a freed block that would push the cache past `bytes`
/// goes back to the OS instead, and blocks already cached beyond the new
/// limit are released now. The default comes from
/// `EMBER_HOST_CACHE_LIMIT_MB` (unset: kNoHostCacheLimit). Returns the
/// previous limit.
uint64_t hostSetCacheLimit(uint64_t bytes);

/// What compiled code's allocation hooks (below) call when hostAlloc fails:
/// compiled code has no way to report an error and would write through the
/// null pointer. The caller of compiled code (invokePacked) installs a
/// handler for its thread that leaves the call and reports the failure;
/// the handler must not return. Returns the previous handler.
using CompiledAllocationFailure = void (*)(size_t bytes);
CompiledAllocationFailure setCompiledAllocationFailure(CompiledAllocationFailure handler);

} // namespace ember

extern "C" {
// Compiled CPU code allocates its temporaries through these: MLIR's
// `finalize-memref-to-llvm{use-generic-functions}` emits calls to them in
// place of malloc/aligned_alloc/free. Each `free` receives the pointer that
// one of the two allocation functions returned.

/// `memref.alloc` without an alignment: a hostAlloc block.
void *_mlir_memref_to_llvm_alloc(size_t size);
/// `memref.alloc` with an alignment (a power of two, at most 2 MiB);
/// `size` is a multiple of it. Argument order as C's aligned_alloc.
void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size);
/// `memref.dealloc`: hostFree.
void _mlir_memref_to_llvm_free(void *ptr);
}

#endif // EMBER_RUNTIME_HOSTALLOCATOR_H
