//===- GemmPackedBTest.cpp - products reading a B packed once --------------===//
//
// ember::gemm::packBOnce + sgemmPackedB (a recurrent loop's weight packed
// before the loop, ember-hoist-gemm-packing) against a naive double
// product: the recurrent step's shapes and edges (n not a whole number of
// tiles, k over several k blocks), B transposed or not (the transposed
// pack's 16 x 16 register transposes and its scalar remainders), beta 0
// and 1, a fused epilogue, one thread and several, each micro-kernel this
// CPU runs; a handle packed for another shape or kernel, or none, falls
// back to packing B per call; the runtime entry points end to end.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuGemm.h"
#include "ember/Runtime/EmberGemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

using ember::gemm::Kernel;
using ember::gemm::PackedB;
using ember::gemm::StridedMatrix;

std::vector<float> randomValues(size_t count, std::mt19937 &rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float &v : values)
    v = dist(rng);
  return values;
}

struct Product {
  int64_t m, n, k;
  bool transposedB;
  std::vector<float> a, b, c;
  int64_t ldb() const { return transposedB ? k + 3 : n + 3; }
  StridedMatrix aView() { return {a.data(), k, 1}; }
  StridedMatrix bView() {
    return transposedB ? StridedMatrix{b.data(), 1, ldb()}
                       : StridedMatrix{b.data(), ldb(), 1};
  }
  StridedMatrix cView() { return {c.data(), n, 1}; }
  float bAt(int64_t p, int64_t j) const {
    return transposedB ? b[j * ldb() + p] : b[p * ldb() + j];
  }

  Product(int64_t m, int64_t n, int64_t k, bool transposedB, std::mt19937 &rng)
      : m(m), n(n), k(k), transposedB(transposedB) {
    a = randomValues(static_cast<size_t>(m * k), rng);
    b = randomValues(static_cast<size_t>((transposedB ? n : k) * ldb()), rng);
    c = randomValues(static_cast<size_t>(m * n), rng);
  }

  /// C = relu(A B + beta C + bias) + residual with `epilogue`, else A B +
  /// beta C, against what `c` holds now (its values before the product).
  void expectEqual(const std::vector<float> &before, float beta,
                   const std::vector<float> *bias,
                   const std::vector<float> *residual) const {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = beta * before[i * n + j], magnitude = 1;
        for (int64_t p = 0; p < k; ++p) {
          double term = double(a[i * k + p]) * bAt(p, j);
          sum += term;
          magnitude += std::fabs(term);
        }
        if (bias)
          sum = std::max(sum + (*bias)[j], 0.0) + (*residual)[i * n + j];
        ASSERT_NEAR(c[i * n + j], sum, 2e-6 * magnitude)
            << "at (" << i << ", " << j << ")";
      }
  }
};

class PackedBKernel : public ::testing::TestWithParam<Kernel> {
protected:
  void SetUp() override {
    if (!ember::gemm::forceKernel(GetParam()))
      GTEST_SKIP() << "this CPU cannot run the kernel";
  }
  void TearDown() override { ember::gemm::forceKernel(Kernel::Detect); }
  std::mt19937 rng{31};
};

TEST_P(PackedBKernel, MatchesTheReferenceAtStepShapesAndEdges) {
  struct Shape {
    int64_t m, n, k;
  };
  // The LSTM step forward (h W^T) and backward (dG W), then edges: n
  // around and between tiles, k over several k blocks, one row.
  // Then rows split among threads (m >= n), and 197 rows (a ViT's tokens,
  // one block a little over mc) with the shared A packed once.
  const Shape shapes[] = {{32, 1024, 256}, {32, 256, 1024}, {7, 70, 600},
                          {33, 17, 31},    {5, 130, 16},    {2, 1, 3},
                          {390, 70, 250},  {197, 250, 100}};
  for (const Shape &s : shapes)
    for (bool transposed : {true, false})
      for (float beta : {0.0f, 1.0f})
        for (int threads : {1, 2, 3}) {
          SCOPED_TRACE(::testing::Message()
                       << s.m << "x" << s.n << "x" << s.k
                       << (transposed ? " B^T" : "") << " beta " << beta
                       << ", " << threads << " threads");
          Product product(s.m, s.n, s.k, transposed, rng);
          PackedB *packed =
              ember::gemm::packBOnce(s.k, s.n, product.bView());
          ASSERT_NE(packed, nullptr);
          // Twice on one handle, as a loop does.
          for (int step = 0; step < 2; ++step) {
            std::vector<float> before = product.c;
            ember::gemm::sgemmPackedB(s.m, s.n, s.k, 1.0f, product.aView(),
                                      product.bView(), packed, beta,
                                      product.cView(), threads);
            product.expectEqual(before, beta, nullptr, nullptr);
          }
          ember::gemm::releasePackedB(packed);
        }
}

TEST_P(PackedBKernel, FusedEpilogueOnEveryThreadsColumns) {
  const int64_t m = 32, n = 300, k = 80;
  Product product(m, n, k, true, rng);
  std::vector<float> bias = randomValues(n, rng);
  std::vector<float> residual = randomValues(m * n, rng);
  ember_gemm_epilogue epilogue{};
  epilogue.activation = EMBER_GEMM_ACT_RELU;
  epilogue.bias = bias.data();
  epilogue.biasColStride = 1;
  epilogue.residual = residual.data();
  epilogue.residualRowStride = n;
  epilogue.residualColStride = 1;
  PackedB *packed = ember::gemm::packBOnce(k, n, product.bView());
  for (int threads : {1, 2, 4}) {
    SCOPED_TRACE(threads);
    std::vector<float> before = product.c;
    ember::gemm::sgemmPackedB(m, n, k, 1.0f, product.aView(), product.bView(),
                              packed, 0.0f, product.cView(), threads,
                              &epilogue);
    product.expectEqual(before, 0.0f, &bias, &residual);
  }
  ember::gemm::releasePackedB(packed);
}

TEST_P(PackedBKernel, AHandleThatDoesNotFitIsNotRead) {
  const int64_t m = 9, n = 40, k = 20;
  Product product(m, n, k, true, rng);
  // Packed for a narrower B (the first 24 columns): another shape.
  PackedB *other = ember::gemm::packBOnce(k, 24, product.bView());
  for (PackedB *handle : {other, static_cast<PackedB *>(nullptr)}) {
    std::vector<float> before = product.c;
    ember::gemm::sgemmPackedB(m, n, k, 1.0f, product.aView(), product.bView(),
                              handle, 0.0f, product.cView(), 2);
    product.expectEqual(before, 0.0f, nullptr, nullptr);
  }
  ember::gemm::releasePackedB(other);
}

INSTANTIATE_TEST_SUITE_P(Kernels, PackedBKernel,
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

// A handle packed under one kernel and read under another (a kernel forced
// in between) is not read: the product packs B itself.
TEST(PackedB, AHandleFromAnotherKernelIsNotRead) {
  std::mt19937 rng(5);
  if (!ember::gemm::forceKernel(Kernel::Portable))
    GTEST_SKIP();
  const int64_t m = 12, n = 100, k = 50;
  Product product(m, n, k, true, rng);
  PackedB *packed = ember::gemm::packBOnce(k, n, product.bView());
  ember::gemm::forceKernel(Kernel::Detect);
  std::vector<float> before = product.c;
  ember::gemm::sgemmPackedB(m, n, k, 1.0f, product.aView(), product.bView(),
                            packed, 1.0f, product.cView(), 2);
  product.expectEqual(before, 1.0f, nullptr, nullptr);
  ember::gemm::releasePackedB(packed);
}

// What compiled code calls: pack, products into C, accumulate, fused, release.
TEST(PackedB, RuntimeEntryPoints) {
  std::mt19937 rng(6);
  const int64_t m = 32, n = 96, k = 64;
  Product product(m, n, k, true, rng);
  uint64_t packsBefore = ember_cpu_packed_b_calls();
  void *handle = ember_cpu_sgemm_pack_b(nullptr, product.b.data(), 0, k, n, 1,
                                        product.ldb());
  ASSERT_NE(handle, nullptr);
  EXPECT_EQ(ember_cpu_packed_b_calls(), packsBefore + 1);
  std::vector<float> before = product.c;
  ember_cpu_sgemm_packed_into(nullptr, product.a.data(), 0, m, k, k, 1,
                              nullptr, product.b.data(), 0, k, n, 1,
                              product.ldb(), nullptr, product.c.data(), 0, m,
                              n, n, 1, handle);
  product.expectEqual(before, 0.0f, nullptr, nullptr);
  before = product.c;
  ember_cpu_sgemm_packed(nullptr, product.a.data(), 0, m, k, k, 1, nullptr,
                         product.b.data(), 0, k, n, 1, product.ldb(), nullptr,
                         product.c.data(), 0, m, n, n, 1, handle);
  product.expectEqual(before, 1.0f, nullptr, nullptr);
  std::vector<float> bias = randomValues(n, rng);
  std::vector<float> residual = randomValues(m * n, rng);
  before = product.c;
  ember_cpu_sgemm_packed_fused(
      nullptr, product.a.data(), 0, m, k, k, 1, nullptr, product.b.data(), 0,
      k, n, 1, product.ldb(), nullptr, product.c.data(), 0, m, n, n, 1,
      nullptr, bias.data(), 0, m, n, 0, 1, nullptr, residual.data(), 0, m, n,
      n, 1,
      EMBER_GEMM_ACT_RELU | EMBER_GEMM_FUSED_BIAS | EMBER_GEMM_FUSED_RESIDUAL,
      handle);
  product.expectEqual(before, 0.0f, &bias, &residual);
  ember_cpu_sgemm_release_b(handle);
}

// A B in registered constant memory (a model file's weights) is packed once
// by the plain entry points; releasing the range drops the panels, so new
// contents at the same address (another file mapped there) are read.
TEST(PackedB, ConstantMemoryIsPackedOnceUntilReleased) {
  std::mt19937 rng(7);
  const int64_t m = 40, n = 130, k = 70;
  Product product(m, n, k, true, rng);
  ember::gemm::registerConstantMemory(product.b.data(),
                                      product.b.size() * sizeof(float));
  for (int call = 0; call < 2; ++call) {
    std::vector<float> before = product.c;
    ember_cpu_sgemm_into(nullptr, product.a.data(), 0, m, k, k, 1, nullptr,
                         product.b.data(), 0, k, n, 1, product.ldb(), nullptr,
                         product.c.data(), 0, m, n, n, 1);
    product.expectEqual(before, 0.0f, nullptr, nullptr);
  }
  ember::gemm::releaseConstantMemory(product.b.data());
  std::vector<float> fresh = randomValues(product.b.size(), rng);
  std::copy(fresh.begin(), fresh.end(), product.b.begin()); // same address
  ember::gemm::registerConstantMemory(product.b.data(),
                                      product.b.size() * sizeof(float));
  std::vector<float> before = product.c;
  ember_cpu_sgemm_into(nullptr, product.a.data(), 0, m, k, k, 1, nullptr,
                       product.b.data(), 0, k, n, 1, product.ldb(), nullptr,
                       product.c.data(), 0, m, n, n, 1);
  product.expectEqual(before, 0.0f, nullptr, nullptr);
  ember::gemm::releaseConstantMemory(product.b.data());
}

} // namespace
