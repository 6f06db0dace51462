//===- MemrefCopyTest.cpp - the runtime's strided copy ---------------------===//
//
// `memrefCopy` (what compiled code calls for a non-contiguous memref.copy)
// against an element-by-element reference, over layouts that merge into
// long runs (contiguous, sliced rows), that do not (transposes, steps),
// unit dims, empty copies, and every element size.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuGemm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <random>
#include <vector>

namespace {

/// A ranked descriptor {allocated, aligned, offset, sizes[rank], strides[rank]}
/// and the unranked one pointing at it.
struct Memref {
  std::vector<int64_t> words;
  struct {
    int64_t rank;
    void *descriptor;
  } unranked;

  Memref(char *base, int64_t offset, std::vector<int64_t> sizes, std::vector<int64_t> strides) {
    words = {reinterpret_cast<int64_t>(base), reinterpret_cast<int64_t>(base), offset};
    words.insert(words.end(), sizes.begin(), sizes.end());
    words.insert(words.end(), strides.begin(), strides.end());
    unranked = {static_cast<int64_t>(sizes.size()), words.data()};
  }
};

struct Layout {
  int64_t offset;
  std::vector<int64_t> strides;
};

/// Copies `sizes` elements of `elementSize` bytes from `from` to `to` with
/// memrefCopy and checks every byte of the destination buffer against a
/// plain loop (elements outside the copy must keep their values).
void check(std::vector<int64_t> sizes, Layout from, Layout to, int64_t elementSize) {
  const int64_t bufferElements = 4096;
  std::vector<char> source(bufferElements * elementSize), target(source.size()),
      expected(source.size());
  std::mt19937 rng(42);
  for (char &c : source)
    c = static_cast<char>(rng());
  for (char &c : target)
    c = static_cast<char>(rng());
  expected = target;
  int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t(1), std::multiplies<>());
  std::vector<int64_t> index(sizes.size(), 0);
  for (int64_t n = 0; n < total; ++n) {
    int64_t src = from.offset, dst = to.offset;
    for (size_t d = 0; d < sizes.size(); ++d) {
      src += index[d] * from.strides[d];
      dst += index[d] * to.strides[d];
    }
    std::memcpy(&expected[dst * elementSize], &source[src * elementSize], elementSize);
    for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
      if (++index[d] < sizes[d])
        break;
      index[d] = 0;
    }
  }
  Memref a(source.data(), from.offset, sizes, from.strides);
  Memref b(target.data(), to.offset, sizes, to.strides);
  memrefCopy(elementSize, &a.unranked, &b.unranked);
  EXPECT_EQ(target, expected);
}

class MemrefCopyTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(MemrefCopyTest, ContiguousBuffersCopyWhole) {
  check({4, 5, 6}, {0, {30, 6, 1}}, {0, {30, 6, 1}}, GetParam());
}

TEST_P(MemrefCopyTest, SlicedRowsIntoADenseBuffer) {
  // x[1:4, 2:7] of an 8x10 buffer, as a window is read.
  check({3, 5}, {12, {10, 1}}, {0, {5, 1}}, GetParam());
  // ... and written back into a window (insert_slice).
  check({3, 5}, {0, {5, 1}}, {12, {10, 1}}, GetParam());
}

TEST_P(MemrefCopyTest, TransposedAndSteppedLayouts) {
  check({6, 7}, {0, {1, 6}}, {0, {7, 1}}, GetParam());       // transpose
  check({2, 3, 4, 5}, {3, {60, 5, 15, 1}}, {0, {60, 20, 5, 1}}, GetParam());
  check({5, 4}, {1, {20, 3}}, {0, {4, 1}}, GetParam());       // step 3
  check({4, 4}, {0, {4, 1}}, {7, {33, 2}}, GetParam());       // strided target
}

TEST_P(MemrefCopyTest, UnitEmptyAndScalarCopies) {
  check({1, 5, 1}, {2, {100, 1, 7}}, {0, {5, 1, 1}}, GetParam());
  check({3, 0, 4}, {0, {4, 4, 1}}, {0, {4, 4, 1}}, GetParam());
  check({}, {9, {}}, {3, {}}, GetParam());
  check({1, 1}, {9, {3, 1}}, {3, {1, 1}}, GetParam());
}

INSTANTIATE_TEST_SUITE_P(ElementSizes, MemrefCopyTest, ::testing::Values(1, 2, 4, 8, 16));

} // namespace
