//===- CpuGemm.cpp - the GEMM entry points compiled CPU code calls ---------===//
//
// f32 products run on Ember's own GEMM (EmberGemm.h) unless EMBER_GEMM=openblas
// asks for OpenBLAS; f64 products run on OpenBLAS; single-row products of
// either type (matrix-vector, memory-bound: no packing) on RowTimesMatrix.h.
//
// B operands in constant memory (a loaded model file's weights, registered
// by ModelFile) are packed into the micro-kernel's panels once per weight
// and kept until the file is released: a compiled model's forward then
// skips re-packing (and, for torch's [out, in] Linear weights, transposing)
// every weight on every call, which at batch 1 of a transformer cost a
// fifth of the forward.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuGemm.h"
#include "ConstantPacks.h"
#include "RowTimesMatrix.h"
#include "ember/Runtime/EmberGemm.h"
#include "ember/Runtime/Threads.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

namespace {

/// EMBER_GEMM, read once: true (the default, "ember") runs f32 GEMMs on
/// Ember's own kernels, false ("openblas") on OpenBLAS.
bool ownGemmSelected() {
  static const bool selected = [] {
    const char *text = std::getenv("EMBER_GEMM");
    if (!text || !*text || std::strcmp(text, "ember") == 0)
      return true;
    if (std::strcmp(text, "openblas") == 0)
      return false;
    std::fprintf(stderr,
                 "ember: ignoring EMBER_GEMM=%s (expected ember or openblas)\n",
                 text);
    return true;
  }();
  return selected;
}

/// A strided matrix view and how BLAS can read it.
template <typename T>
struct Matrix {
  T *data;
  int64_t rows, cols, rowStride, colStride;
};

/// How a view maps onto BLAS: row-major (no transpose) or column-major
/// (transpose), with its leading dimension; `ok` is false for other layouts.
struct BlasLayout {
  bool ok;
  bool transposed;
  int64_t ld;
};

template <typename T>
BlasLayout classify(const Matrix<T> &m) {
  // A dim of size 1 may carry any stride; treat it as contiguous-compatible.
  bool rowMajor = (m.colStride == 1 || m.cols == 1) &&
                  (m.rows <= 1 || m.rowStride >= std::max<int64_t>(1, m.cols));
  if (rowMajor)
    return {true, false,
            std::max<int64_t>({1, m.cols, m.rows > 1 ? m.rowStride : 1})};
  bool colMajor = (m.rowStride == 1 || m.rows == 1) &&
                  (m.cols <= 1 || m.colStride >= std::max<int64_t>(1, m.rows));
  if (colMajor)
    return {true, true,
            std::max<int64_t>({1, m.rows, m.cols > 1 ? m.colStride : 1})};
  return {false, false, 0};
}

/// Copies any strided view into a dense row-major buffer.
template <typename T>
Matrix<T> packRowMajor(const Matrix<T> &m, std::vector<T> &storage) {
  storage.resize(static_cast<size_t>(m.rows * m.cols));
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j)
      storage[i * m.cols + j] = m.data[i * m.rowStride + j * m.colStride];
  return {storage.data(), m.rows, m.cols, m.cols, 1};
}

void blasGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
              const float *a, int64_t lda, const float *b, int64_t ldb,
              float beta, float *c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb,
              beta, c, ldc);
}

void blasGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
              const double *a, int64_t lda, const double *b, int64_t ldb,
              double beta, double *c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a, lda, b, ldb, beta,
              c, ldc);
}

/// B's panels packed once when B is constant memory (kept while its range
/// is registered, ConstantPacks.h), else null: the product packs B itself.
std::shared_ptr<const ember::gemm::PackedB>
packedConstant(const Matrix<float> &b) {
  if (b.rows <= 0 || b.cols <= 0 || b.rowStride < 0 || b.colStride < 0)
    return nullptr;
  const float *end =
      b.data + (b.rows - 1) * b.rowStride + (b.cols - 1) * b.colStride + 1;
  using ember::constant::Packing;
  ember::constant::Key key{
      b.data,
      {int64_t(Packing::GemmB), b.rows, b.cols, b.rowStride, b.colStride}};
  return ember::constant::packOnce<ember::gemm::PackedB>(b.data, end, key, [&] {
    return std::shared_ptr<const ember::gemm::PackedB>(
        ember::gemm::packBOnce(b.rows, b.cols,
                               {b.data, b.rowStride, b.colStride}),
        [](const ember::gemm::PackedB *p) {
          ember::gemm::releasePackedB(const_cast<ember::gemm::PackedB *>(p));
        });
  });
}

/// Runs C = A * B + beta * C on Ember's own GEMM when it is selected and
/// has the element type; false leaves the product to OpenBLAS.
bool ownGemm(const Matrix<float> &a, const Matrix<float> &b,
             const Matrix<float> &c, float beta,
             const ember_gemm_epilogue *epilogue,
             const ember::gemm::PackedB *packed) {
  if (!ownGemmSelected())
    return false;
  std::shared_ptr<const ember::gemm::PackedB> constant;
  if (!packed && (constant = packedConstant(b)))
    packed = constant.get();
  if (packed) {
    ember::gemm::sgemmPackedB(c.rows, c.cols, a.cols, 1.0f,
                              {a.data, a.rowStride, a.colStride},
                              {b.data, b.rowStride, b.colStride}, packed,
                              beta, {c.data, c.rowStride, c.colStride},
                              ember::numThreads(), epilogue);
    return true;
  }
  ember::gemm::sgemm(c.rows, c.cols, a.cols, 1.0f,
                     {a.data, a.rowStride, a.colStride},
                     {b.data, b.rowStride, b.colStride}, beta,
                     {c.data, c.rowStride, c.colStride}, ember::numThreads(),
                     epilogue);
  return true;
}
bool ownGemm(const Matrix<double> &, const Matrix<double> &,
             const Matrix<double> &, double, const ember_gemm_epilogue *,
             const ember::gemm::PackedB *) {
  return false;
}

/// The epilogue as a pass of its own, for products that ran elsewhere.
void finishSeparately(const Matrix<float> &c,
                      const ember_gemm_epilogue *epilogue) {
  if (epilogue)
    ember::gemm::applyEpilogue(c.rows, c.cols,
                               {c.data, c.rowStride, c.colStride}, *epilogue);
}
void finishSeparately(const Matrix<double> &, const ember_gemm_epilogue *) {}

/// C = A * B + beta * C for a one-row C, then the f32 `epilogue`.
void rowProduct(const Matrix<float> &a, const Matrix<float> &b,
                const Matrix<float> &c, float beta,
                const ember_gemm_epilogue *epilogue) {
  ember::gemm::rowTimesMatrix(a.cols, c.cols, a.data, a.colStride, b.data,
                              b.rowStride, b.colStride, beta, c.data,
                              c.colStride, epilogue);
}
void rowProduct(const Matrix<double> &a, const Matrix<double> &b,
                const Matrix<double> &c, double beta,
                const ember_gemm_epilogue *) {
  ember::gemm::rowTimesMatrix(a.cols, c.cols, a.data, a.colStride, b.data,
                              b.rowStride, b.colStride, beta, c.data,
                              c.colStride);
}

template <typename T>
void gemmUnfused(Matrix<T> a, Matrix<T> b, Matrix<T> c, T beta);

/// C += A * B (C = A * B with `overwrite`) for strided views of any layout,
/// then the f32 `epilogue` when there is one (fused into Ember's GEMM when
/// that runs the product).
template <typename T>
void gemm(Matrix<T> a, Matrix<T> b, Matrix<T> c, bool overwrite = false,
          const ember_gemm_epilogue *epilogue = nullptr,
          const ember::gemm::PackedB *packed = nullptr) {
  ember::ensureThreadsConfigured();
  int64_t m = c.rows, n = c.cols, k = a.cols;
  if (m == 0 || n == 0)
    return;
  if (k == 0) {
    if (overwrite)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
          c.data[i * c.rowStride + j * c.colStride] = T(0);
    finishSeparately(c, epilogue);
    return;
  }
  T beta = overwrite ? T(0) : T(1);
  // One row (batch-1 inference): a matrix-vector product, on Ember's own
  // pool (RowTimesMatrix.cpp says why not OpenBLAS's gemv), each chunk of
  // the row finished by the epilogue on the thread that computed it.
  if (m == 1 && c.colStride >= 1) {
    rowProduct(a, b, c, beta, epilogue);
    return;
  }
  if (m > 1 && ownGemm(a, b, c, beta, epilogue, packed))
    return;
  gemmUnfused(a, b, c, beta);
  finishSeparately(c, epilogue);
}

/// C = A * B + beta * C on OpenBLAS.
template <typename T>
void gemmUnfused(Matrix<T> a, Matrix<T> b, Matrix<T> c, T beta) {
  int64_t m = c.rows, n = c.cols, k = a.cols;
  bool overwrite = beta == T(0);
  std::vector<T> aCopy, bCopy, cCopy;
  BlasLayout la = classify(a);
  if (!la.ok) {
    a = packRowMajor(a, aCopy);
    la = classify(a);
  }
  BlasLayout lb = classify(b);
  if (!lb.ok) {
    b = packRowMajor(b, bCopy);
    lb = classify(b);
  }
  // BLAS writes C row-major; anything else goes through a dense copy.
  BlasLayout lc = classify(c);
  Matrix<T> target = c;
  if (!lc.ok || lc.transposed) {
    if (overwrite) { // C's old values are not read
      cCopy.resize(static_cast<size_t>(m * n));
      target = {cCopy.data(), m, n, n, 1};
    } else {
      target = packRowMajor(c, cCopy);
    }
    lc = classify(target);
  }
  blasGemm(la.transposed, lb.transposed, m, n, k, a.data, la.ld, b.data,
           lb.ld, beta, target.data, lc.ld);
  if (target.data != c.data)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        c.data[i * c.rowStride + j * c.colStride] = target.data[i * n + j];
}

} // namespace

#define EMBER_MATRIX(name)                                                     \
  { name##Data + name##Offset, name##Rows, name##Cols, name##RowStride,        \
    name##ColStride }

#define EMBER_BATCH_ITEM(name, i)                                              \
  { name##Data + name##Offset + (i) * name##BatchStride, name##Rows,           \
    name##Cols, name##RowStride, name##ColStride }

#define EMBER_BATCH_OPERANDS                                                   \
  cBatch, cRows, cCols, aCols,                                                 \
      {aData + aOffset, aRowStride, aColStride}, aBatchStride,                 \
      {bData + bOffset, bRowStride, bColStride}, bBatchStride,                 \
      {cData + cOffset, cRowStride, cColStride}, cBatchStride

namespace {

/// The batched f32 products on Ember's own GEMM (which splits the batch
/// across threads); false when EMBER_GEMM selects OpenBLAS.
bool ownBatchedGemm(int64_t batch, int64_t m, int64_t n, int64_t k,
                    ember::gemm::StridedMatrix a, int64_t aBatchStride,
                    ember::gemm::StridedMatrix b, int64_t bBatchStride,
                    ember::gemm::StridedMatrix c, int64_t cBatchStride,
                    float beta,
                    const ember_gemm_epilogue *epilogue = nullptr) {
  if (!ownGemmSelected())
    return false;
  ember::ensureThreadsConfigured();
  ember::gemm::sgemmBatched(batch, m, n, k, 1.0f, a, aBatchStride, b,
                            bBatchStride, beta, c, cBatchStride,
                            ember::numThreads(), epilogue);
  return true;
}

/// Fused calls run in this process (ember_cpu_fused_gemm_calls).
std::atomic<uint64_t> fusedCalls{0};
/// B operands packed once for a loop of products (ember_cpu_packed_b_calls).
std::atomic<uint64_t> packedBCalls{0};

/// The epilogue a fused call's flags and addend views describe.
ember_gemm_epilogue fusedEpilogue(int64_t flags, const float *bias,
                                  int64_t biasRowStride, int64_t biasColStride,
                                  int64_t biasBatchStride,
                                  const float *residual,
                                  int64_t residualRowStride,
                                  int64_t residualColStride,
                                  int64_t residualBatchStride) {
  ember_gemm_epilogue epilogue{};
  epilogue.activation =
      static_cast<int32_t>(flags & EMBER_GEMM_FUSED_ACTIVATION_MASK);
  epilogue.residualBeforeActivation =
      (flags & EMBER_GEMM_FUSED_RESIDUAL_FIRST) != 0;
  if (flags & EMBER_GEMM_FUSED_BIAS) {
    epilogue.bias = bias;
    epilogue.biasRowStride = biasRowStride;
    epilogue.biasColStride = biasColStride;
    epilogue.biasBatchStride = biasBatchStride;
  }
  if (flags & EMBER_GEMM_FUSED_RESIDUAL) {
    epilogue.residual = residual;
    epilogue.residualRowStride = residualRowStride;
    epilogue.residualColStride = residualColStride;
    epilogue.residualBatchStride = residualBatchStride;
  }
  return epilogue;
}

} // namespace

extern "C" {

void ember_cpu_sgemm(EMBER_MATRIX_ARGS(float, a), EMBER_MATRIX_ARGS(float, b),
                     EMBER_MATRIX_ARGS(float, c)) {
  gemm<float>(EMBER_MATRIX(a), EMBER_MATRIX(b), EMBER_MATRIX(c));
}

void ember_cpu_dgemm(EMBER_MATRIX_ARGS(double, a), EMBER_MATRIX_ARGS(double, b),
                     EMBER_MATRIX_ARGS(double, c)) {
  gemm<double>(EMBER_MATRIX(a), EMBER_MATRIX(b), EMBER_MATRIX(c));
}

void ember_cpu_sgemm_batched(EMBER_BATCH_ARGS(float, a),
                             EMBER_BATCH_ARGS(float, b),
                             EMBER_BATCH_ARGS(float, c)) {
  if (ownBatchedGemm(EMBER_BATCH_OPERANDS, 1.0f))
    return;
  for (int64_t i = 0; i < cBatch; ++i)
    gemm<float>(EMBER_BATCH_ITEM(a, i), EMBER_BATCH_ITEM(b, i),
                EMBER_BATCH_ITEM(c, i));
}

void ember_cpu_dgemm_batched(EMBER_BATCH_ARGS(double, a),
                             EMBER_BATCH_ARGS(double, b),
                             EMBER_BATCH_ARGS(double, c)) {
  for (int64_t i = 0; i < cBatch; ++i)
    gemm<double>(EMBER_BATCH_ITEM(a, i), EMBER_BATCH_ITEM(b, i),
                 EMBER_BATCH_ITEM(c, i));
}

void ember_cpu_sgemm_into(EMBER_MATRIX_ARGS(float, a), EMBER_MATRIX_ARGS(float, b),
                          EMBER_MATRIX_ARGS(float, c)) {
  gemm<float>(EMBER_MATRIX(a), EMBER_MATRIX(b), EMBER_MATRIX(c), /*overwrite=*/true);
}

void ember_cpu_dgemm_into(EMBER_MATRIX_ARGS(double, a), EMBER_MATRIX_ARGS(double, b),
                          EMBER_MATRIX_ARGS(double, c)) {
  gemm<double>(EMBER_MATRIX(a), EMBER_MATRIX(b), EMBER_MATRIX(c), /*overwrite=*/true);
}

void ember_cpu_sgemm_batched_into(EMBER_BATCH_ARGS(float, a), EMBER_BATCH_ARGS(float, b),
                                  EMBER_BATCH_ARGS(float, c)) {
  if (ownBatchedGemm(EMBER_BATCH_OPERANDS, 0.0f))
    return;
  for (int64_t i = 0; i < cBatch; ++i)
    gemm<float>(EMBER_BATCH_ITEM(a, i), EMBER_BATCH_ITEM(b, i), EMBER_BATCH_ITEM(c, i),
                /*overwrite=*/true);
}

void ember_cpu_dgemm_batched_into(EMBER_BATCH_ARGS(double, a), EMBER_BATCH_ARGS(double, b),
                                  EMBER_BATCH_ARGS(double, c)) {
  for (int64_t i = 0; i < cBatch; ++i)
    gemm<double>(EMBER_BATCH_ITEM(a, i), EMBER_BATCH_ITEM(b, i), EMBER_BATCH_ITEM(c, i),
                 /*overwrite=*/true);
}

void ember_cpu_sgemm_fused(EMBER_MATRIX_ARGS(float, a),
                           EMBER_MATRIX_ARGS(float, b),
                           EMBER_MATRIX_ARGS(float, c),
                           EMBER_MATRIX_ARGS(float, bias),
                           EMBER_MATRIX_ARGS(float, residual), int64_t flags) {
  fusedCalls.fetch_add(1, std::memory_order_relaxed);
  ember_gemm_epilogue epilogue = fusedEpilogue(
      flags, biasData + biasOffset, biasRowStride, biasColStride, 0,
      residualData + residualOffset, residualRowStride, residualColStride, 0);
  gemm<float>(EMBER_MATRIX(a), EMBER_MATRIX(b), EMBER_MATRIX(c),
              /*overwrite=*/!(flags & EMBER_GEMM_FUSED_ACCUMULATE), &epilogue);
}

void ember_cpu_sgemm_batched_fused(EMBER_BATCH_ARGS(float, a),
                                   EMBER_BATCH_ARGS(float, b),
                                   EMBER_BATCH_ARGS(float, c),
                                   EMBER_BATCH_ARGS(float, bias),
                                   EMBER_BATCH_ARGS(float, residual),
                                   int64_t flags) {
  fusedCalls.fetch_add(1, std::memory_order_relaxed);
  ember_gemm_epilogue epilogue = fusedEpilogue(
      flags, biasData + biasOffset, biasRowStride, biasColStride,
      biasBatchStride, residualData + residualOffset, residualRowStride,
      residualColStride, residualBatchStride);
  bool overwrite = !(flags & EMBER_GEMM_FUSED_ACCUMULATE);
  if (ownBatchedGemm(EMBER_BATCH_OPERANDS, overwrite ? 0.0f : 1.0f,
                     &epilogue))
    return;
  for (int64_t i = 0; i < cBatch; ++i) {
    ember_gemm_epilogue item = epilogue;
    if (item.bias)
      item.bias += i * item.biasBatchStride;
    if (item.residual)
      item.residual += i * item.residualBatchStride;
    gemm<float>(EMBER_BATCH_ITEM(a, i), EMBER_BATCH_ITEM(b, i),
                EMBER_BATCH_ITEM(c, i), overwrite, &item);
  }
}

void *ember_cpu_sgemm_pack_b(EMBER_MATRIX_ARGS(float, b)) {
  // OpenBLAS packs for itself: nothing to keep.
  if (!ownGemmSelected())
    return nullptr;
  ember::ensureThreadsConfigured();
  packedBCalls.fetch_add(1, std::memory_order_relaxed);
  return ember::gemm::packBOnce(bRows, bCols,
                                {bData + bOffset, bRowStride, bColStride});
}

void ember_cpu_sgemm_release_b(void *packed) {
  ember::gemm::releasePackedB(static_cast<ember::gemm::PackedB *>(packed));
}

void ember_cpu_sgemm_packed(EMBER_MATRIX_ARGS(float, a),
                            EMBER_MATRIX_ARGS(float, b),
                            EMBER_MATRIX_ARGS(float, c), void *packed) {
  gemm<float>(EMBER_MATRIX(a), EMBER_MATRIX(b), EMBER_MATRIX(c),
              /*overwrite=*/false, nullptr,
              static_cast<const ember::gemm::PackedB *>(packed));
}

void ember_cpu_sgemm_packed_into(EMBER_MATRIX_ARGS(float, a),
                                 EMBER_MATRIX_ARGS(float, b),
                                 EMBER_MATRIX_ARGS(float, c), void *packed) {
  gemm<float>(EMBER_MATRIX(a), EMBER_MATRIX(b), EMBER_MATRIX(c),
              /*overwrite=*/true, nullptr,
              static_cast<const ember::gemm::PackedB *>(packed));
}

void ember_cpu_sgemm_packed_fused(EMBER_MATRIX_ARGS(float, a),
                                  EMBER_MATRIX_ARGS(float, b),
                                  EMBER_MATRIX_ARGS(float, c),
                                  EMBER_MATRIX_ARGS(float, bias),
                                  EMBER_MATRIX_ARGS(float, residual),
                                  int64_t flags, void *packed) {
  fusedCalls.fetch_add(1, std::memory_order_relaxed);
  ember_gemm_epilogue epilogue = fusedEpilogue(
      flags, biasData + biasOffset, biasRowStride, biasColStride, 0,
      residualData + residualOffset, residualRowStride, residualColStride, 0);
  gemm<float>(EMBER_MATRIX(a), EMBER_MATRIX(b), EMBER_MATRIX(c),
              /*overwrite=*/!(flags & EMBER_GEMM_FUSED_ACCUMULATE), &epilogue,
              static_cast<const ember::gemm::PackedB *>(packed));
}

uint64_t ember_cpu_packed_b_calls(void) {
  return packedBCalls.load(std::memory_order_relaxed);
}

uint64_t ember_cpu_fused_gemm_calls(void) {
  return fusedCalls.load(std::memory_order_relaxed);
}

} // extern "C"
