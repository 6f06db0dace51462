//===- EmberGemmTest.cpp - Ember's own f32 GEMM against a reference -------===//
//
// ember::gemm::sgemm (and the runtime entry points on it) against a naive
// double-accumulating product on random inputs: edge sizes around the tile
// shapes, non-square shapes, every transpose combination, leading dimensions
// larger than the matrices, alpha/beta, C laid out by columns, batches, one
// thread and several, and each micro-kernel (AVX-512, AVX2, portable) forced
// in turn, so every path this CPU can run is checked on it.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuGemm.h"
#include "ember/Runtime/EmberGemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using ember::gemm::Kernel;
using ember::gemm::StridedMatrix;

/// A matrix in a buffer with padding: `transposed` stores it by columns,
/// and the leading dimension exceeds the stored row length by `pad`.
struct TestMatrix {
  int64_t rows, cols;
  bool transposed;
  int64_t ld;
  std::vector<float> storage;

  TestMatrix(int64_t rows, int64_t cols, bool transposed, int64_t pad,
             std::mt19937 &rng)
      : rows(rows), cols(cols), transposed(transposed),
        ld((transposed ? rows : cols) + pad) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    storage.resize(static_cast<size_t>((transposed ? cols : rows) * ld + 1));
    for (float &value : storage)
      value = dist(rng);
  }
  int64_t rowStride() const { return transposed ? 1 : ld; }
  int64_t colStride() const { return transposed ? ld : 1; }
  float &at(int64_t i, int64_t j) {
    return storage[i * rowStride() + j * colStride()];
  }
  StridedMatrix view() { return {storage.data(), rowStride(), colStride()}; }
};

struct Case {
  int64_t m, n, k;
  bool ta, tb, tc;
  int64_t pad;
  float alpha, beta;
  int threads;
};

std::string describe(const Case &c) {
  return std::to_string(c.m) + "x" + std::to_string(c.n) + "x" +
         std::to_string(c.k) + (c.ta ? " A^T" : "") + (c.tb ? " B^T" : "") +
         (c.tc ? " C^T" : "") + " pad " + std::to_string(c.pad) + " alpha " +
         std::to_string(c.alpha) + " beta " + std::to_string(c.beta) + ", " +
         std::to_string(c.threads) + " threads";
}

/// Runs one product and compares every element of C (and that the padding
/// around C is untouched) against the double-accumulated reference.
void check(const Case &c, std::mt19937 &rng) {
  SCOPED_TRACE(describe(c));
  TestMatrix a(c.m, c.k, c.ta, c.pad, rng), b(c.k, c.n, c.tb, c.pad, rng),
      out(c.m, c.n, c.tc, c.pad, rng);
  std::vector<float> before = out.storage;
  if (c.beta == 0.0f) // beta == 0 must not read C: NaNs there must vanish
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j)
        out.at(i, j) = std::numeric_limits<float>::quiet_NaN();
  TestMatrix original = out;
  ember::gemm::sgemm(c.m, c.n, c.k, c.alpha, a.view(), b.view(), c.beta,
                     out.view(), c.threads);
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t p = 0; p < c.k; ++p) {
        double term = double(a.at(i, p)) * double(b.at(p, j));
        sum += term;
        magnitude += std::fabs(term);
      }
      double expected = c.alpha * sum;
      if (c.beta != 0.0f)
        expected += double(c.beta) * original.at(i, j);
      // f32 accumulation over k terms in blocks: a few ulps of the terms'
      // total magnitude (one missing or doubled term is far outside this).
      double tolerance =
          1e-6 * (std::fabs(c.alpha) * magnitude + std::fabs(c.beta)) + 1e-6;
      ASSERT_NEAR(out.at(i, j), expected, tolerance)
          << "at (" << i << ", " << j << ")";
    }
  // Nothing outside C's m x n elements was written.
  std::vector<bool> inside(out.storage.size(), false);
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j)
      inside[i * out.rowStride() + j * out.colStride()] = true;
  for (size_t e = 0; e < out.storage.size(); ++e) {
    if (!inside[e])
      ASSERT_EQ(out.storage[e], before[e]) << "wrote padding element " << e;
  }
}

class EmberGemmKernel : public ::testing::TestWithParam<Kernel> {
protected:
  void SetUp() override {
    if (!ember::gemm::forceKernel(GetParam()))
      GTEST_SKIP() << "this CPU cannot run the kernel";
  }
  void TearDown() override { ember::gemm::forceKernel(Kernel::Detect); }
  std::mt19937 rng{20};
};

TEST_P(EmberGemmKernel, EdgeSizesEveryTransposeAndCLayout) {
  const int64_t sizes[] = {1, 2, 15, 16, 17, 31, 33, 64, 100};
  for (int64_t s : sizes)
    for (int layout = 0; layout < 8; ++layout)
      check({s, s, s, bool(layout & 1), bool(layout & 2), bool(layout & 4),
             0, 1.0f, 0.0f, 1},
            rng);
}

TEST_P(EmberGemmKernel, NonSquareShapes) {
  const int64_t shapes[][3] = {{1, 33, 17},  {33, 1, 17},   {2, 257, 31},
                               {257, 2, 31}, {15, 64, 100}, {100, 17, 64},
                               {1000, 33, 7}, {7, 1000, 33}, {31, 100, 1000},
                               {257, 100, 257}, {64, 16, 0}};
  for (auto &shape : shapes)
    for (int layout = 0; layout < 4; ++layout)
      check({shape[0], shape[1], shape[2], bool(layout & 1), bool(layout & 2),
             false, 0, 1.0f, 0.0f, 1},
            rng);
}

TEST_P(EmberGemmKernel, LeadingDimensionsAlphaBeta) {
  const float scalars[][2] = {{1.0f, 1.0f}, {-0.5f, 2.0f}, {0.0f, 0.5f},
                              {2.0f, 0.0f}};
  for (auto &s : scalars)
    for (int layout = 0; layout < 8; ++layout)
      check({37, 70, 45, bool(layout & 1), bool(layout & 2), bool(layout & 4),
             5, s[0], s[1], 1},
            rng);
}

TEST_P(EmberGemmKernel, ThreadsSplitRowsOrColumns) {
  // Tall C splits by rows, wide C by columns; k past one k block.
  for (int threads : {2, 3, 5}) {
    check({300, 70, 500, false, false, false, 3, 1.0f, 1.0f, threads}, rng);
    check({70, 300, 500, true, true, false, 3, 1.0f, 0.0f, threads}, rng);
    check({129, 129, 129, false, true, true, 0, 0.5f, 0.0f, threads}, rng);
  }
}

TEST_P(EmberGemmKernel, LargeBlocksAcrossEveryCacheBlock) {
  // Past mc, kc and one thread's share in every dimension.
  check({1000, 520, 800, false, false, false, 1, 1.0f, 0.0f, 2}, rng);
}

TEST_P(EmberGemmKernel, BatchedItemsAreIndependent) {
  const int64_t batch = 5, m = 33, n = 17, k = 40;
  for (int threads : {1, 2, 4}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    TestMatrix a(batch * m, k, false, 0, rng), b(batch * k, n, false, 0, rng),
        out(batch * m, n, false, 0, rng);
    TestMatrix original = out;
    ember::gemm::sgemmBatched(batch, m, n, k, 1.0f, a.view(), m * k, b.view(),
                              k * n, 1.0f, out.view(), m * n, threads);
    for (int64_t t = 0; t < batch; ++t)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double sum = original.at(t * m + i, j);
          for (int64_t p = 0; p < k; ++p)
            sum += double(a.at(t * m + i, p)) * b.at(t * k + p, j);
          ASSERT_NEAR(out.at(t * m + i, j), sum, 1e-4);
        }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, EmberGemmKernel,
                         ::testing::Values(Kernel::Avx512, Kernel::Avx2,
                                           Kernel::Portable),
                         [](const auto &info) {
                           switch (info.param) {
                           case Kernel::Avx512:
                             return std::string("avx512");
                           case Kernel::Avx2:
                             return std::string("avx2");
                           default:
                             return std::string("portable");
                           }
                         });

TEST(EmberGemm, DetectsTheWidestKernelThisCpuRuns) {
  ember::gemm::forceKernel(Kernel::Detect);
  __builtin_cpu_init();
  std::string expected = __builtin_cpu_supports("avx512f") ? "avx512"
                         : __builtin_cpu_supports("avx2") &&
                                 __builtin_cpu_supports("fma")
                             ? "avx2"
                             : "portable";
  EXPECT_EQ(ember::gemm::kernelName(), expected);
}

/// The entry compiled code calls, with a transposed B view (a memref with
/// strides [1, ld]) and C = A * B + C.
TEST(EmberGemm, RuntimeEntryReadsStridedViews) {
  std::mt19937 rng(7);
  const int64_t m = 19, n = 23, k = 29;
  TestMatrix a(m, k, false, 2, rng), b(k, n, true, 3, rng),
      out(m, n, false, 1, rng);
  TestMatrix original = out;
  ember_cpu_sgemm(nullptr, a.storage.data(), 0, m, k, a.rowStride(),
                  a.colStride(), nullptr, b.storage.data(), 0, k, n,
                  b.rowStride(), b.colStride(), nullptr, out.storage.data(),
                  0, m, n, out.rowStride(), out.colStride());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = original.at(i, j);
      for (int64_t p = 0; p < k; ++p)
        sum += double(a.at(i, p)) * b.at(p, j);
      ASSERT_NEAR(out.at(i, j), sum, 1e-4);
    }
}

/// The batched `_into` entry: C = A[i] * B[i] with B shared by every item
/// (batch stride 0, a broadcast operand).
TEST(EmberGemm, BatchedIntoEntryWithBroadcastOperand) {
  std::mt19937 rng(8);
  const int64_t batch = 3, m = 40, n = 50, k = 60;
  TestMatrix a(batch * m, k, false, 0, rng), b(k, n, false, 0, rng),
      out(batch * m, n, false, 0, rng);
  ember_cpu_sgemm_batched_into(
      nullptr, a.storage.data(), 0, batch, m, k, m * k, k, 1, nullptr,
      b.storage.data(), 0, batch, k, n, 0, n, 1, nullptr, out.storage.data(),
      0, batch, m, n, m * n, n, 1);
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += double(a.at(t * m + i, p)) * b.at(p, j);
        ASSERT_NEAR(out.at(t * m + i, j), sum, 1e-4);
      }
}

} // namespace
