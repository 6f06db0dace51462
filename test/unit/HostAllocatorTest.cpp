//===- HostAllocatorTest.cpp - the caching host allocator ------------------===//
//
// The allocator is one process-wide object, so every test works with
// differences of the counters around what it does, and starts from an
// empty cache where it asserts on cache hits.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/HostAllocator.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace ember;

namespace {

constexpr size_t kMiB = size_t(1) << 20;

bool isAligned(const void *ptr, size_t alignment) {
  return reinterpret_cast<uintptr_t>(ptr) % alignment == 0;
}

/// True when the page holding `ptr` is mapped (msync fails with ENOMEM on
/// unmapped memory).
bool isMapped(void *ptr) {
  long page = sysconf(_SC_PAGESIZE);
  void *start = reinterpret_cast<void *>(reinterpret_cast<uintptr_t>(ptr) &
                                         ~uintptr_t(page - 1));
  return msync(start, page, MS_ASYNC) == 0 || errno != ENOMEM;
}

/// The "VmFlags:" line of the mapping that holds `ptr` in /proc/self/smaps
/// ("hg" marks MADV_HUGEPAGE), or "" when no mapping holds it.
std::string vmFlagsOf(const void *ptr) {
  std::ifstream smaps("/proc/self/smaps");
  uintptr_t address = reinterpret_cast<uintptr_t>(ptr);
  bool inside = false;
  std::string line;
  while (std::getline(smaps, line)) {
    unsigned long start, end;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &start, &end) == 2)
      inside = start <= address && address < end;
    else if (inside && line.rfind("VmFlags:", 0) == 0)
      return line + " ";
  }
  return "";
}

/// The class size a request gets, checked through a real allocation.
size_t blockSizeFor(size_t bytes) {
  void *ptr = hostAlloc(bytes);
  EXPECT_NE(ptr, nullptr) << bytes;
  size_t size = hostAllocationSize(ptr);
  hostFree(ptr);
  return size;
}

TEST(HostAllocator, BlocksAreAlignedAndUsable) {
  for (size_t bytes : {size_t(0), size_t(1), size_t(63), size_t(64),
                       size_t(65), size_t(1000), size_t(4096), kMiB,
                       kMiB + 1, 3 * kMiB, 64 * kMiB}) {
    auto *ptr = static_cast<unsigned char *>(hostAlloc(bytes));
    ASSERT_NE(ptr, nullptr) << bytes;
    EXPECT_TRUE(isAligned(ptr, kHostAlignment)) << bytes;
    size_t size = hostAllocationSize(ptr);
    EXPECT_GE(size, bytes);
    // Every usable byte can be written and read back.
    std::memset(ptr, 0xab, size);
    EXPECT_EQ(ptr[size - 1], 0xab);
    hostFree(ptr);
  }
  hostFree(nullptr);
  EXPECT_EQ(hostAllocationSize(nullptr), 0u);
}

TEST(HostAllocator, ZeroBytesGiveUniqueMinimalBlocks) {
  void *a = hostAlloc(0);
  void *b = hostAlloc(0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(hostAllocationSize(a), 64u);
  hostFree(a);
  hostFree(b);
}

TEST(HostAllocator, SizeClassesRoundWithBoundedWaste) {
  // Exact classes at the edges of the two regimes.
  EXPECT_EQ(blockSizeFor(1), 64u);
  EXPECT_EQ(blockSizeFor(65), 128u);
  EXPECT_EQ(blockSizeFor(4096), 4096u);
  EXPECT_EQ(blockSizeFor(4097), 8192u);
  EXPECT_EQ(blockSizeFor(kMiB), kMiB);
  EXPECT_EQ(blockSizeFor(kMiB + 1), kMiB + kMiB / 4);
  EXPECT_EQ(blockSizeFor(2 * kMiB), 2 * kMiB);
  EXPECT_EQ(blockSizeFor(2 * kMiB + 1), 2 * kMiB + kMiB / 2);
  EXPECT_EQ(blockSizeFor(64 * kMiB), 64 * kMiB);
  EXPECT_EQ(blockSizeFor(64 * kMiB + 1), 80 * kMiB);

  // Powers of two up to 1 MiB (waste < 50%), 4 steps per doubling above
  // (waste < 25%); classes never shrink as requests grow.
  std::mt19937_64 rng(7);
  std::vector<size_t> requests;
  for (size_t bytes = 1; bytes <= 3 * kMiB; bytes = bytes * 9 / 8 + 1)
    requests.push_back(bytes);
  for (int i = 0; i < 200; ++i)
    requests.push_back(rng() % (256 * kMiB) + 1);
  std::sort(requests.begin(), requests.end());
  size_t previous = 0;
  for (size_t bytes : requests) {
    size_t size = blockSizeFor(bytes);
    EXPECT_GE(size, bytes);
    EXPECT_GE(size, previous) << bytes;
    previous = size;
    if (bytes <= 64) {
      EXPECT_EQ(size, 64u);
    } else if (bytes <= kMiB) {
      EXPECT_EQ(size & (size - 1), 0u) << bytes;
      EXPECT_LT(size / 2, bytes);
    } else {
      EXPECT_LT((size - bytes) * 4, bytes) << bytes;
    }
  }
  hostEmptyCache();
}

TEST(HostAllocator, FreedBlocksAreReusedByTheirClass) {
  hostEmptyCache();
  HostAllocatorStats start = hostAllocatorStats();
  void *first = hostAlloc(1000);
  hostFree(first);
  // 1000 and 600 bytes share the 1 KiB class: both get the cached block.
  void *second = hostAlloc(1000);
  EXPECT_EQ(second, first);
  hostFree(second);
  void *third = hostAlloc(600);
  EXPECT_EQ(third, first);
  // Another class does not take it.
  void *other = hostAlloc(2000);
  EXPECT_NE(other, first);
  HostAllocatorStats end = hostAllocatorStats();
  EXPECT_EQ(end.allocations - start.allocations, 4u);
  EXPECT_EQ(end.cacheHits - start.cacheHits, 2u);
  EXPECT_EQ(end.systemAllocations - start.systemAllocations, 2u);
  hostFree(third);
  hostFree(other);
}

TEST(HostAllocator, StatsCountBlockBytes) {
  hostEmptyCache();
  HostAllocatorStats s0 = hostAllocatorStats();
  EXPECT_EQ(s0.cachedBytes, 0u);
  EXPECT_EQ(s0.systemBytes, s0.allocatedBytes);

  void *small = hostAlloc(1000);      // 1 KiB block
  void *large = hostAlloc(3 * kMiB);  // exactly a class
  HostAllocatorStats s1 = hostAllocatorStats();
  EXPECT_EQ(s1.allocatedBytes - s0.allocatedBytes, 1024 + 3 * kMiB);
  EXPECT_EQ(s1.systemBytes - s0.systemBytes, 1024 + 3 * kMiB);
  EXPECT_GE(s1.peakAllocatedBytes, s1.allocatedBytes);
  EXPECT_EQ(s1.allocations - s0.allocations, 2u);
  EXPECT_EQ(s1.systemAllocations - s0.systemAllocations, 2u);

  hostFree(large);
  HostAllocatorStats s2 = hostAllocatorStats();
  EXPECT_EQ(s1.allocatedBytes - s2.allocatedBytes, 3 * kMiB);
  EXPECT_EQ(s2.cachedBytes, 3 * kMiB);
  EXPECT_EQ(s2.systemBytes, s2.allocatedBytes + s2.cachedBytes);
  EXPECT_EQ(s2.frees - s1.frees, 1u);
  // The peak remembers the freed block until it is reset.
  EXPECT_GE(s2.peakAllocatedBytes, s1.allocatedBytes);
  hostResetPeakStats();
  EXPECT_EQ(hostAllocatorStats().peakAllocatedBytes, s2.allocatedBytes);

  hostFree(small);
  HostAllocatorStats s3 = hostAllocatorStats();
  EXPECT_EQ(s3.allocatedBytes, s0.allocatedBytes);
  EXPECT_EQ(s3.cachedBytes, 3 * kMiB + 1024);
  EXPECT_EQ(s3.frees - s0.frees, 2u);
  EXPECT_EQ(s3.allocations, s3.cacheHits + s3.systemAllocations);
  hostEmptyCache();
}

TEST(HostAllocator, LargeBlocksAreHugePageAlignedMappings) {
  hostEmptyCache();
  const size_t bytes = 64 * kMiB;
  auto *ptr = static_cast<unsigned char *>(hostAlloc(bytes));
  ASSERT_NE(ptr, nullptr);
  EXPECT_TRUE(isAligned(ptr, kHostMmapThreshold));
  EXPECT_EQ(hostAllocationSize(ptr), bytes);
  for (size_t i = 0; i < bytes; i += 4096)
    ptr[i] = static_cast<unsigned char>(i >> 12);
  EXPECT_EQ(ptr[bytes - 4096], static_cast<unsigned char>((bytes - 4096) >> 12));
  EXPECT_NE(vmFlagsOf(ptr).find(" hg "), std::string::npos) << vmFlagsOf(ptr);
  hostFree(ptr);
  // Cached: still mapped, and the next request of the class gets it back.
  EXPECT_TRUE(isMapped(ptr));
  EXPECT_EQ(hostAllocatorStats().cachedBytes, bytes);
  void *again = hostAlloc(bytes - 100);
  EXPECT_EQ(again, ptr);
  hostFree(again);
  // Emptying the cache unmaps it.
  hostEmptyCache();
  EXPECT_FALSE(isMapped(ptr));
}

TEST(HostAllocator, EmptyCacheReleasesOnlyCachedBlocks) {
  hostEmptyCache();
  std::vector<void *> blocks;
  for (size_t bytes : {size_t(100), size_t(5000), 2 * kMiB, 5 * kMiB})
    blocks.push_back(hostAlloc(bytes));
  void *kept = hostAlloc(300);
  for (void *ptr : blocks)
    hostFree(ptr);
  HostAllocatorStats full = hostAllocatorStats();
  EXPECT_EQ(full.cachedBytes, 128 + 8192 + 2 * kMiB + 5 * kMiB);
  hostEmptyCache();
  HostAllocatorStats empty = hostAllocatorStats();
  EXPECT_EQ(empty.cachedBytes, 0u);
  EXPECT_EQ(empty.systemBytes, empty.allocatedBytes);
  EXPECT_EQ(full.systemBytes - empty.systemBytes, full.cachedBytes);
  // The live block survives; a new request goes to the OS again.
  EXPECT_EQ(hostAllocationSize(kept), 512u);
  void *fresh = hostAlloc(5 * kMiB);
  EXPECT_EQ(hostAllocatorStats().systemAllocations,
            empty.systemAllocations + 1);
  hostFree(fresh);
  hostFree(kept);
  hostEmptyCache();
}

TEST(HostAllocator, CacheLimitSendsExcessBlocksToTheOS) {
  hostEmptyCache();
  uint64_t previous = hostSetCacheLimit(3 * kMiB);
  void *a = hostAlloc(2 * kMiB);
  void *b = hostAlloc(2 * kMiB);
  HostAllocatorStats live = hostAllocatorStats();
  hostFree(a); // fits under the limit: cached
  hostFree(b); // would make 4 MiB: unmapped
  HostAllocatorStats freed = hostAllocatorStats();
  EXPECT_EQ(freed.cachedBytes, 2 * kMiB);
  EXPECT_EQ(live.systemBytes - freed.systemBytes, 2 * kMiB);
  EXPECT_EQ(freed.frees - live.frees, 2u);
  EXPECT_TRUE(isMapped(a));
  EXPECT_FALSE(isMapped(b));
  // Lowering the limit trims what is cached now.
  EXPECT_EQ(hostSetCacheLimit(0), 3 * kMiB);
  EXPECT_EQ(hostAllocatorStats().cachedBytes, 0u);
  void *c = hostAlloc(100);
  hostFree(c);
  EXPECT_EQ(hostAllocatorStats().cachedBytes, 0u);
  hostSetCacheLimit(previous);
}

// Runs only in the `host_allocator_env_test` target, which sets the knobs
// before the allocator's first use.
TEST(HostAllocatorEnvironment, Knobs) {
  const char *knob = std::getenv("EMBER_HOST_CACHE_LIMIT_MB");
  if (!knob)
    GTEST_SKIP() << "EMBER_HOST_CACHE_LIMIT_MB is not set";
  ASSERT_STREQ(knob, "2");
  ASSERT_STREQ(std::getenv("EMBER_HOST_HUGE_PAGES"), "0");
  void *large = hostAlloc(4 * kMiB);
  std::string flags = vmFlagsOf(large);
  EXPECT_NE(flags, "");
  EXPECT_EQ(flags.find(" hg "), std::string::npos) << flags;
  hostFree(large); // over the 2 MiB limit: unmapped at once
  EXPECT_EQ(hostAllocatorStats().cachedBytes, 0u);

  void *a = hostAlloc(2 * kMiB);
  void *b = hostAlloc(kMiB);
  hostFree(a);
  hostFree(b); // 2 MiB are cached already: this one goes back
  EXPECT_EQ(hostAllocatorStats().cachedBytes, 2 * kMiB);
  EXPECT_EQ(hostSetCacheLimit(kNoHostCacheLimit), 2 * kMiB);
}

TEST(HostAllocator, AllocationFunctionsForCompiledCode) {
  void *plain = _mlir_memref_to_llvm_alloc(40);
  EXPECT_TRUE(isAligned(plain, kHostAlignment));
  void *aligned = _mlir_memref_to_llvm_aligned_alloc(64, 4096);
  EXPECT_EQ(hostAllocationSize(aligned), 4096u);
  // Alignments beyond 64 bytes are served by a huge-page-aligned block.
  void *page = _mlir_memref_to_llvm_aligned_alloc(4096, 4096);
  EXPECT_TRUE(isAligned(page, 4096));
  EXPECT_EQ(_mlir_memref_to_llvm_aligned_alloc(48, 96), nullptr);
  _mlir_memref_to_llvm_free(plain);
  _mlir_memref_to_llvm_free(aligned);
  _mlir_memref_to_llvm_free(page);
  _mlir_memref_to_llvm_free(nullptr);
}

// Compiled code's temporaries in steady state: a network allocates the
// same sequence of sizes on every call (conv outputs of tens of MiB at
// batch 32, small scratch in between) and frees them as it goes. After the
// first call every block must come from the cache: a block that went back
// to the OS would cost its page faults (kernel zeroing) again on each call.
TEST(HostAllocator, RepeatedCallsServeEveryTemporaryFromTheCache) {
  hostEmptyCache();
  // mobilenet_v3_small at batch 32: 16x112x112, 72x56x56, 96x28x28 f32
  // activations, 1x1 squeeze-excitation scratch and an odd-sized row.
  const size_t sizes[] = {32 * 16 * 112 * 112 * 4, 32 * 72 * 56 * 56 * 4,
                          32 * 16 * 4,             32 * 96 * 28 * 28 * 4,
                          4000,                    32 * 72 * 56 * 56 * 4,
                          3 * kMiB + 4,            64};
  constexpr int kLive = 3; // a temporary lives until three later ones exist
  auto forward = [&] {
    std::vector<void *> live;
    for (size_t bytes : sizes) {
      void *block = _mlir_memref_to_llvm_aligned_alloc(64, bytes);
      ASSERT_NE(block, nullptr) << bytes;
      static_cast<char *>(block)[bytes - 1] = 1; // in use
      live.push_back(block);
      if (live.size() > kLive) {
        _mlir_memref_to_llvm_free(live.front());
        live.erase(live.begin());
      }
    }
    for (void *block : live)
      _mlir_memref_to_llvm_free(block);
  };
  HostAllocatorStats s0 = hostAllocatorStats();
  forward();
  HostAllocatorStats s1 = hostAllocatorStats();
  EXPECT_GT(s1.systemAllocations - s0.systemAllocations, 0u);
  EXPECT_EQ(s1.allocatedBytes, s0.allocatedBytes);
  for (int call = 0; call < 3; ++call) {
    HostAllocatorStats before = hostAllocatorStats();
    forward();
    HostAllocatorStats after = hostAllocatorStats();
    EXPECT_EQ(after.systemAllocations, before.systemAllocations) << call;
    EXPECT_EQ(after.cacheHits - before.cacheHits, std::size(sizes)) << call;
    EXPECT_EQ(after.systemBytes, s1.systemBytes) << call;
  }
  hostEmptyCache();
}

TEST(HostAllocator, ImpossibleRequestsReturnNull) {
  EXPECT_EQ(hostAlloc(SIZE_MAX), nullptr);
  // Larger than the address space: the OS refuses even after the cache is
  // emptied.
  EXPECT_EQ(hostAlloc(size_t(1) << 52), nullptr);
}

TEST(HostAllocatorDeathTest, BadFreesAbort) {
  int local = 0;
  EXPECT_DEATH(hostFree(&local), "not a block from hostAlloc");
  EXPECT_DEATH(
      {
        void *ptr = hostAlloc(10);
        hostFree(ptr);
        hostFree(ptr);
      },
      "freed twice");
}

TEST(HostAllocator, ThreadsShareTheCacheSafely) {
  HostAllocatorStats start = hostAllocatorStats();
  constexpr int kThreads = 4;
  constexpr int kSteps = 3000;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      std::mt19937 rng(t);
      std::vector<std::pair<unsigned char *, size_t>> live;
      unsigned char mark = static_cast<unsigned char>(t + 1);
      for (int step = 0; step < kSteps; ++step) {
        if (live.size() < 8 && rng() % 3 != 0) {
          size_t bytes = rng() % 50 == 0 ? 3 * kMiB : rng() % 70000;
          auto *ptr = static_cast<unsigned char *>(hostAlloc(bytes));
          if (!ptr) {
            ++failures[t];
            continue;
          }
          std::memset(ptr, mark, bytes);
          live.emplace_back(ptr, bytes);
        } else if (!live.empty()) {
          size_t index = rng() % live.size();
          auto [ptr, bytes] = live[index];
          // No other thread wrote into this block while it was ours.
          for (size_t i = 0; i < bytes; i += 97)
            if (ptr[i] != mark) {
              ++failures[t];
              break;
            }
          hostFree(ptr);
          live[index] = live.back();
          live.pop_back();
        }
      }
      for (auto [ptr, bytes] : live)
        hostFree(ptr);
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(failures[t], 0) << "thread " << t;
  HostAllocatorStats end = hostAllocatorStats();
  EXPECT_EQ(end.allocatedBytes, start.allocatedBytes);
  EXPECT_EQ(end.allocations - start.allocations, end.frees - start.frees);
  EXPECT_EQ(end.systemBytes, end.allocatedBytes + end.cachedBytes);
  EXPECT_GT(end.cacheHits - start.cacheHits, 0u);
  hostEmptyCache();
}

} // namespace
