//===- EmberGemmTest.cpp - Ember's own f32 GEMM against a reference -------===//
//
// ember::gemm::sgemm (and the runtime entry points on it) against a naive
// double-accumulating product on random inputs: edge sizes around the tile
// shapes, non-square shapes, every transpose combination, leading dimensions
// larger than the matrices, alpha/beta, C laid out by columns, batches, one
// thread and several, and each micro-kernel (AVX-512, AVX2, portable) forced
// in turn, so every path this CPU can run is checked on it; the fused
// epilogues (bias, activation, residual) against the same reference.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuGemm.h"
#include "ember/Runtime/EmberGemm.h"
#include "ember/Runtime/Threads.h"

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

//===----------------------------------------------------------------------===//
// Fused epilogues
//===----------------------------------------------------------------------===//

/// The activations in double precision, as torch defines them.
double referenceActivation(int activation, double x) {
  switch (activation) {
  case EMBER_GEMM_ACT_RELU:
    return x < 0 ? 0 : x;
  case EMBER_GEMM_ACT_GELU_ERF:
    return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  case EMBER_GEMM_ACT_GELU_TANH:
    return 0.5 * x *
           (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  case EMBER_GEMM_ACT_SILU:
    return x / (1 + std::exp(-x));
  case EMBER_GEMM_ACT_SIGMOID:
    return 1 / (1 + std::exp(-x));
  case EMBER_GEMM_ACT_TANH:
    return std::tanh(x);
  case EMBER_GEMM_ACT_HARDSWISH:
    return x * std::min(std::max(x + 3, 0.0), 6.0) / 6;
  case EMBER_GEMM_ACT_HARDSIGMOID:
    return std::min(std::max(x + 3, 0.0), 6.0) / 6;
  default:
    return x;
  }
}

/// Where an addend's elements come from: a bias per column (nn.Linear's),
/// one per row, a full matrix, or nothing.
enum class Addend { None, PerColumn, PerRow, Full };

struct EpilogueCase {
  int64_t m, n, k;
  bool tb, tc;
  int activation;
  Addend bias, residual;
  int threads;
  bool residualFirst = false; // act(A B + bias + residual)
};

/// A view of `values` (m x n, row-major) that broadcasts as `kind` says.
void addendView(Addend kind, int64_t n, const std::vector<float> &values,
                const float *&data, int64_t &rowStride, int64_t &colStride) {
  data = kind == Addend::None ? nullptr : values.data();
  rowStride = kind == Addend::Full || kind == Addend::PerRow ? n : 0;
  colStride = kind == Addend::Full || kind == Addend::PerColumn ? 1 : 0;
  if (kind == Addend::PerRow) // a column of values: one per row
    rowStride = 1;
}

double addendAt(Addend kind, const std::vector<float> &values, int64_t n,
                int64_t i, int64_t j) {
  switch (kind) {
  case Addend::PerColumn:
    return values[j];
  case Addend::PerRow:
    return values[i];
  case Addend::Full:
    return values[i * n + j];
  default:
    return 0;
  }
}

/// One fused product against the double reference act(A B + bias) +
/// residual, C starting as NaNs (beta 0 must not read it).
void checkEpilogue(const EpilogueCase &c, std::mt19937 &rng) {
  SCOPED_TRACE(std::to_string(c.m) + "x" + std::to_string(c.n) + "x" +
               std::to_string(c.k) + " activation " +
               std::to_string(c.activation) + " bias " +
               std::to_string(int(c.bias)) + " residual " +
               std::to_string(int(c.residual)) + (c.tb ? " B^T" : "") +
               (c.tc ? " C^T" : "") + ", " + std::to_string(c.threads) +
               " threads");
  TestMatrix a(c.m, c.k, false, 1, rng), b(c.k, c.n, c.tb, 2, rng),
      out(c.m, c.n, c.tc, 3, rng);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> bias(c.m * c.n), residual(c.m * c.n);
  for (float &v : bias)
    v = dist(rng);
  for (float &v : residual)
    v = dist(rng);
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j)
      out.at(i, j) = std::numeric_limits<float>::quiet_NaN();
  ember_gemm_epilogue epilogue{};
  epilogue.activation = c.activation;
  epilogue.residualBeforeActivation = c.residualFirst;
  addendView(c.bias, c.n, bias, epilogue.bias, epilogue.biasRowStride,
             epilogue.biasColStride);
  addendView(c.residual, c.n, residual, epilogue.residual,
             epilogue.residualRowStride, epilogue.residualColStride);
  ember::gemm::sgemm(c.m, c.n, c.k, 1.0f, a.view(), b.view(), 0.0f,
                     out.view(), c.threads, &epilogue);
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t p = 0; p < c.k; ++p) {
        double term = double(a.at(i, p)) * double(b.at(p, j));
        sum += term;
        magnitude += std::fabs(term);
      }
      double pre = sum + addendAt(c.bias, bias, c.n, i, j);
      double added = addendAt(c.residual, residual, c.n, i, j);
      double expected =
          c.residualFirst ? referenceActivation(c.activation, pre + added)
                          : referenceActivation(c.activation, pre) + added;
      // The product's rounding (the activations' slopes are below 1.2)
      // plus the approximations' few ulps.
      double tolerance =
          1.2e-6 * magnitude + 2e-6 * (1 + std::fabs(expected));
      ASSERT_NEAR(out.at(i, j), expected, tolerance)
          << "at (" << i << ", " << j << ")";
    }
}

TEST_P(EmberGemmKernel, EpilogueEveryActivationWithBias) {
  for (int activation = 0; activation < EMBER_GEMM_ACT_COUNT; ++activation)
    for (Addend bias : {Addend::None, Addend::PerColumn, Addend::PerRow})
      checkEpilogue({37, 70, 45, true, false, activation, bias, Addend::None,
                     1},
                    rng);
}

TEST_P(EmberGemmKernel, EpilogueResidualsAndEdges) {
  const int64_t shapes[][3] = {{1, 1, 1},   {1, 33, 17}, {7, 13, 5},
                               {17, 65, 3}, {50, 3, 20}, {64, 16, 0}};
  for (auto &shape : shapes)
    for (Addend residual : {Addend::Full, Addend::PerColumn, Addend::PerRow})
      for (int layout = 0; layout < 4; ++layout)
        checkEpilogue({shape[0], shape[1], shape[2], bool(layout & 1),
                       bool(layout & 2), EMBER_GEMM_ACT_GELU_ERF,
                       Addend::PerColumn, residual, 1},
                      rng);
}

TEST_P(EmberGemmKernel, EpilogueAfterTheLastKBlockOnThreads) {
  // k past one k block (the epilogue must wait for the last), C split by
  // rows and by columns, and a narrow C computed transposed.
  for (int threads : {1, 2, 3}) {
    checkEpilogue({300, 70, 500, true, false, EMBER_GEMM_ACT_RELU,
                   Addend::PerColumn, Addend::Full, threads},
                  rng);
    checkEpilogue({70, 300, 500, false, true, EMBER_GEMM_ACT_SILU,
                   Addend::PerRow, Addend::None, threads},
                  rng);
    checkEpilogue({400, 5, 300, true, false, EMBER_GEMM_ACT_TANH,
                   Addend::PerColumn, Addend::PerRow, threads},
                  rng);
    // A ResNet block's relu(conv + bias + identity): the residual first.
    checkEpilogue({70, 300, 50, false, false, EMBER_GEMM_ACT_RELU,
                   Addend::PerRow, Addend::Full, threads, true},
                  rng);
    checkEpilogue({70, 300, 50, false, true, EMBER_GEMM_ACT_HARDSWISH,
                   Addend::PerRow, Addend::Full, threads, true},
                  rng);
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

/// Single-row products (batch-1 Linear layers) run on RowTimesMatrix, not
/// the GEMM: both of B's layouts (vector kernels along either stride), a
/// strided row, sizes around the vector widths, and products large enough
/// to be split across the pool; C = A * B + C, f32 and f64.
TEST(EmberGemm, RuntimeEntrySingleRowEveryLayout) {
  std::mt19937 rng(9);
  const int64_t sizes[][2] = {{1, 1}, {7, 5}, {17, 33}, {64, 130}, {512, 1000}, {1100, 70}};
  for (auto [k, n] : sizes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        SCOPED_TRACE(std::to_string(k) + "x" + std::to_string(n) + (ta ? " A^T" : "") +
                     (tb ? " B^T" : ""));
        TestMatrix a(1, k, ta, 3, rng), b(k, n, tb, 2, rng), out(1, n, false, 1, rng);
        TestMatrix original = out;
        ember_cpu_sgemm(nullptr, a.storage.data(), 0, 1, k, a.rowStride(), a.colStride(),
                        nullptr, b.storage.data(), 0, k, n, b.rowStride(), b.colStride(),
                        nullptr, out.storage.data(), 0, 1, n, out.rowStride(),
                        out.colStride());
        std::vector<double> a64(a.storage.begin(), a.storage.end()),
            b64(b.storage.begin(), b.storage.end()),
            out64(original.storage.begin(), original.storage.end());
        ember_cpu_dgemm(nullptr, a64.data(), 0, 1, k, a.rowStride(), a.colStride(), nullptr,
                        b64.data(), 0, k, n, b.rowStride(), b.colStride(), nullptr,
                        out64.data(), 0, 1, n, out.rowStride(), out.colStride());
        for (int64_t j = 0; j < n; ++j) {
          double sum = original.at(0, j);
          for (int64_t p = 0; p < k; ++p)
            sum += double(a.at(0, p)) * b.at(p, j);
          ASSERT_NEAR(out.at(0, j), sum, 1e-6 * k + 1e-6) << "f32 column " << j;
          ASSERT_NEAR(out64[j * out.colStride()], sum, 1e-12 * k) << "f64 column " << j;
        }
        EXPECT_EQ(out.storage.back(), original.storage.back()); // padding untouched
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

/// The activations' approximations over their whole range (tails, zero,
/// infinities and NaN) against libm in double, through the epilogue alone.
TEST(EmberGemm, ActivationsMatchLibmEverywhere) {
  std::vector<float> inputs;
  for (float x = -100.0f; x <= 100.0f; x += 0.0137f)
    inputs.push_back(x);
  for (float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-6f, 0.6249f, 0.6251f,
                  88.0f, -88.0f, 1e30f, -1e30f})
    inputs.push_back(x);
  const float inf = std::numeric_limits<float>::infinity();
  for (Kernel kernel : {Kernel::Avx512, Kernel::Avx2, Kernel::Portable}) {
    if (!ember::gemm::forceKernel(kernel))
      continue;
    SCOPED_TRACE(ember::gemm::kernelName());
    for (int activation = 1; activation < EMBER_GEMM_ACT_COUNT; ++activation) {
      SCOPED_TRACE("activation " + std::to_string(activation));
      std::vector<float> values = inputs;
      values.push_back(inf);
      values.push_back(-inf);
      values.push_back(std::numeric_limits<float>::quiet_NaN());
      ember_gemm_epilogue epilogue{};
      epilogue.activation = activation;
      ember::gemm::applyEpilogue(1, int64_t(values.size()),
                                 {values.data(), 0, 1}, epilogue);
      for (size_t e = 0; e < inputs.size(); ++e) {
        double expected = referenceActivation(activation, inputs[e]);
        ASSERT_NEAR(values[e], expected, 2e-6 * (1 + std::fabs(expected)))
            << "at x = " << inputs[e];
      }
      size_t last = values.size();
      EXPECT_TRUE(std::isnan(values[last - 1])) << "NaN must propagate";
      if (activation != EMBER_GEMM_ACT_GELU_ERF &&
          activation != EMBER_GEMM_ACT_GELU_TANH &&
          activation != EMBER_GEMM_ACT_SILU) { // 0 * inf there
        // (e^x is clamped to f32's normal range: sigmoid(-inf) is 4e-39.)
        for (int side : {3, 2}) {
          float x = side == 3 ? inf : -inf;
          double expected = referenceActivation(activation, x);
          if (std::isnan(expected)) // hardswish(-inf), as torch's
            EXPECT_TRUE(std::isnan(values[last - side])) << "at x = " << x;
          else if (std::isinf(expected))
            EXPECT_EQ(values[last - side], expected) << "at x = " << x;
          else
            EXPECT_NEAR(values[last - side], expected, 1e-30) << "at x = " << x;
        }
      }
    }
  }
  ember::gemm::forceKernel(Kernel::Detect);
}

/// The compiled code's fused entries: bias per column and a full residual
/// given as memref views (stride 0 broadcasts), relu, and the batched one
/// with a per-item bias and EMBER_GEMM_FUSED_ACCUMULATE.
TEST(EmberGemm, FusedRuntimeEntries) {
  std::mt19937 rng(9);
  const int64_t batch = 3, m = 21, n = 35, k = 19;
  TestMatrix a(batch * m, k, false, 0, rng), b(k, n, true, 1, rng),
      out(batch * m, n, false, 0, rng), res(batch * m, n, false, 0, rng);
  std::vector<float> bias(batch * n);
  for (float &v : bias)
    v = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
  TestMatrix original = out;
  ember_cpu_sgemm_fused(
      nullptr, a.storage.data(), 0, m, k, k, 1, nullptr, b.storage.data(), 0,
      k, n, b.rowStride(), b.colStride(), nullptr, out.storage.data(), 0, m,
      n, n, 1, nullptr, bias.data(), 0, m, n, 0, 1, nullptr,
      res.storage.data(), 0, m, n, n, 1,
      EMBER_GEMM_ACT_RELU | EMBER_GEMM_FUSED_BIAS | EMBER_GEMM_FUSED_RESIDUAL);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = bias[j];
      for (int64_t p = 0; p < k; ++p)
        sum += double(a.at(i, p)) * b.at(p, j);
      ASSERT_NEAR(out.at(i, j), std::max(sum, 0.0) + res.at(i, j), 1e-4);
    }
  // Batched, C += A[i] B + bias[i] (no residual: its view is not read).
  out = original;
  ember_cpu_sgemm_batched_fused(
      nullptr, a.storage.data(), 0, batch, m, k, m * k, k, 1, nullptr,
      b.storage.data(), 0, batch, k, n, 0, b.rowStride(), b.colStride(),
      nullptr, out.storage.data(), 0, batch, m, n, m * n, n, 1, nullptr,
      bias.data(), 0, batch, m, n, n, 0, 1, nullptr, nullptr, 0, batch, m, n,
      0, 0, 0, EMBER_GEMM_FUSED_BIAS | EMBER_GEMM_FUSED_ACCUMULATE);
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = original.at(t * m + i, j) + bias[t * n + j];
        for (int64_t p = 0; p < k; ++p)
          sum += double(a.at(t * m + i, p)) * b.at(p, j);
        ASSERT_NEAR(out.at(t * m + i, j), sum, 1e-4);
      }
}

/// A one-row fused product (a batch-1 Linear layer, a squeeze-excitation
/// FC) runs on RowTimesMatrix with the epilogue applied per chunk of the
/// row: bias, hardswish, a residual added after, on 1 and 2 threads, a
/// product large enough to split and a small one, B as a Linear weight's
/// transpose view.
TEST(EmberGemm, SingleRowFusedEntryOnThePool) {
  std::mt19937 rng(11);
  const int64_t sizes[][2] = {{576, 1024}, {7, 5}};
  const int before = ember::numThreads();
  for (int threads : {1, 2}) {
    ember::setNumThreads(threads);
    for (auto [k, n] : sizes) {
      SCOPED_TRACE(std::to_string(threads) + " threads, " + std::to_string(k) +
                   "x" + std::to_string(n));
      TestMatrix a(1, k, false, 0, rng), b(k, n, true, 1, rng),
          out(1, n, false, 0, rng), res(1, n, false, 0, rng);
      std::vector<float> bias(n);
      for (float &v : bias)
        v = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
      ember_cpu_sgemm_fused(
          nullptr, a.storage.data(), 0, 1, k, k, 1, nullptr, b.storage.data(),
          0, k, n, b.rowStride(), b.colStride(), nullptr, out.storage.data(),
          0, 1, n, n, 1, nullptr, bias.data(), 0, 1, n, 0, 1, nullptr,
          res.storage.data(), 0, 1, n, n, 1,
          EMBER_GEMM_ACT_HARDSWISH | EMBER_GEMM_FUSED_BIAS |
              EMBER_GEMM_FUSED_RESIDUAL);
      for (int64_t j = 0; j < n; ++j) {
        double sum = bias[j];
        for (int64_t p = 0; p < k; ++p)
          sum += double(a.at(0, p)) * b.at(p, j);
        ASSERT_NEAR(out.at(0, j),
                    referenceActivation(EMBER_GEMM_ACT_HARDSWISH, sum) + res.at(0, j),
                    1e-5 * k)
            << "column " << j;
      }
    }
  }
  ember::setNumThreads(before);
}

} // namespace
