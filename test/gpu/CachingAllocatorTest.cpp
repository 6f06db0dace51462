//===- CachingAllocatorTest.cpp - size classes and reuse, no device --------===//
//
// The allocator over a fake BlockSource that records the driver calls, so
// the policy is tested on every machine, GPU or not.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Gpu/CachingAllocator.h"

#include <gtest/gtest.h>

#include <set>

using namespace ember::gpu;

namespace {

/// Hands out fake handles; `capacity` bytes at most ("device memory").
class FakeSource : public BlockSource {
public:
  explicit FakeSource(size_t capacity, std::set<uint64_t> &live)
      : capacity(capacity), live(live) {}
  uint64_t allocateBlock(size_t bytes) override {
    if (used + bytes > capacity)
      return 0;
    used += bytes;
    live.insert(next);
    return next++;
  }
  void releaseBlock(uint64_t handle, size_t bytes) override {
    used -= bytes;
    EXPECT_EQ(live.erase(handle), 1u) << "released twice or never made";
  }

private:
  size_t capacity, used = 0;
  uint64_t next = 1;
  std::set<uint64_t> &live;
};

TEST(CachingAllocator, SizeClasses) {
  EXPECT_EQ(deviceBlockSize(0), 256u);
  EXPECT_EQ(deviceBlockSize(1), 256u);
  EXPECT_EQ(deviceBlockSize(256), 256u);
  EXPECT_EQ(deviceBlockSize(257), 512u);
  EXPECT_EQ(deviceBlockSize(1000), 1024u);
  EXPECT_EQ(deviceBlockSize(1 << 20), size_t(1) << 20);
  EXPECT_EQ(deviceBlockSize((1 << 20) + 1), size_t(5) << 18);
  EXPECT_EQ(deviceBlockSize(3 << 20), size_t(3) << 20);
  EXPECT_EQ(deviceBlockSize((3 << 20) + 1), size_t(7) << 19);
  EXPECT_EQ(deviceBlockSize((size_t(1) << 30) + 1), (size_t(5) << 28));
}

TEST(CachingAllocator, ReusesAndEmpties) {
  std::set<uint64_t> live;
  {
    CachingAllocator allocator(std::make_unique<FakeSource>(1 << 30, live));
    uint64_t a = allocator.allocate(1000);
    EXPECT_EQ(allocator.blockSize(a), 1024u);
    EXPECT_TRUE(allocator.free(a));
    EXPECT_FALSE(allocator.free(a)) << "a second free is refused";
    EXPECT_FALSE(allocator.free(12345));
    EXPECT_EQ(allocator.allocate(600), a);
    uint64_t b = allocator.allocate(2000);
    EXPECT_NE(b, a);
    DeviceAllocatorStats stats = allocator.stats();
    EXPECT_EQ(stats.allocations, 3u);
    EXPECT_EQ(stats.cacheHits, 1u);
    EXPECT_EQ(stats.deviceAllocations, 2u);
    EXPECT_EQ(stats.deviceBytes, 1024u + 2048u);
    allocator.free(b);
    allocator.emptyCache();
    EXPECT_EQ(live.size(), 1u) << "only the live block stays";
    EXPECT_EQ(allocator.stats().cachedBytes, 0u);
  }
  EXPECT_TRUE(live.empty()) << "the destructor releases live blocks too";
}

TEST(CachingAllocator, EmptiesTheCacheWhenOutOfMemory) {
  std::set<uint64_t> live;
  CachingAllocator allocator(std::make_unique<FakeSource>(4096, live));
  uint64_t a = allocator.allocate(2048), b = allocator.allocate(2048);
  ASSERT_TRUE(a && b);
  allocator.free(a);
  allocator.free(b);
  // 4 KiB is cached in 2 KiB blocks; a 4 KiB block fits only after the
  // cache is given back.
  uint64_t c = allocator.allocate(4096);
  EXPECT_NE(c, 0u);
  EXPECT_EQ(allocator.stats().outOfMemoryRetries, 1u);
  EXPECT_EQ(allocator.allocate(256), 0u) << "out of memory for real";
}

} // namespace
