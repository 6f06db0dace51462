//===- CpuJitAllocatorTest.cpp - compiled code allocates through the runtime -===//
//
// Temporaries of JIT-compiled code (here the column max and column sum of
// a softmax over dim 0; over the last dim softmax needs none) must come
// from the caching host allocator, so that a second call reuses the first
// call's blocks instead of faulting in fresh pages.
//
//===----------------------------------------------------------------------===//

#include "JitTestSupport.h"

#include "ember/Runtime/HostAllocator.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace ember::test;

namespace {

TEST(CpuJitAllocator, TemporariesComeFromTheHostAllocator) {
  JitRunner jit;
  ASSERT_TRUE(jit.compile(R"mlir(
func.func @softmax(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.softmax %x dim = 0 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
)mlir"));
  std::mt19937 rng(3);
  const int64_t rows = 17, cols = 300;
  Array x = randomArray(rng, Dtype::f32, {rows, cols});
  Array shape{Dtype::f32, {rows, cols}, {}};

  ember::HostAllocatorStats before = ember::hostAllocatorStats();
  Array y = jit.run("softmax", {x}, {shape})[0];
  ember::HostAllocatorStats first = ember::hostAllocatorStats();
  uint64_t temporaries = first.allocations - before.allocations;
  EXPECT_GE(temporaries, 2u);
  EXPECT_EQ(first.frees - before.frees, temporaries);
  EXPECT_EQ(first.allocatedBytes, before.allocatedBytes);
  // The column statistics need at least cols * 4 bytes each.
  EXPECT_GE(first.peakAllocatedBytes - before.allocatedBytes,
            uint64_t(2 * cols * 4));

  // The same call again takes every temporary from the cache.
  jit.run("softmax", {x}, {shape});
  ember::HostAllocatorStats second = ember::hostAllocatorStats();
  EXPECT_EQ(second.allocations - first.allocations, temporaries);
  EXPECT_EQ(second.cacheHits - first.cacheHits, temporaries);
  EXPECT_EQ(second.systemAllocations, first.systemAllocations);

  for (int64_t c = 0; c < cols; ++c) {
    double sum = 0;
    for (int64_t r = 0; r < rows; ++r)
      sum += y.values[r * cols + c];
    EXPECT_NEAR(sum, 1.0, 1e-5) << "column " << c;
  }
}

/// Softmax over the last dim runs row by row (ember-softmax-rows) with its
/// row statistics in registers: no temporaries at all, none per row.
TEST(CpuJitAllocator, SoftmaxOverRowsAllocatesNothing) {
  JitRunner jit;
  ASSERT_TRUE(jit.compile(R"mlir(
func.func @softmax(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.softmax %x dim = 1 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
)mlir"));
  std::mt19937 rng(4);
  Array x = randomArray(rng, Dtype::f32, {300, 17});
  ember::HostAllocatorStats before = ember::hostAllocatorStats();
  jit.run("softmax", {x}, {Array{Dtype::f32, {300, 17}, {}}});
  EXPECT_EQ(ember::hostAllocatorStats().allocations, before.allocations);
}

} // namespace
