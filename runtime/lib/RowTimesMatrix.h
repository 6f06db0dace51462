//===- RowTimesMatrix.h - one row times a matrix, on Ember's pool -*- C++ -*-===//
//
// Internal to the runtime: the single-row product (batch-1 inference's
// Linear layers, a matrix-vector product) that CpuGemm.cpp runs for f32 and
// f64 instead of OpenBLAS's gemv.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_ROWTIMESMATRIX_H
#define EMBER_RUNTIME_ROWTIMESMATRIX_H

#include "ember/Runtime/GemmEpilogue.h"

#include <cstdint>

namespace ember {
namespace gemm {

/// y[j * incy] = x B[:, j] + beta * y[j * incy] for j in [0, n), where x is
/// one row of k elements (stride incx) and B[i, j] is b[i * rsb + j * csb]
/// (any strides; rsb == 1 and csb == 1 have vector kernels). beta == 0
/// never reads y. The columns are split across Ember's thread pool. A
/// non-null f32 `epilogue` (GemmEpilogue.h; column j's addends at
/// j * biasColStride and j * residualColStride) then finishes each chunk
/// of y while it is in cache, on the thread that computed it.
void rowTimesMatrix(int64_t k, int64_t n, const float *x, int64_t incx,
                    const float *b, int64_t rsb, int64_t csb, float beta,
                    float *y, int64_t incy,
                    const ember_gemm_epilogue *epilogue = nullptr);
void rowTimesMatrix(int64_t k, int64_t n, const double *x, int64_t incx,
                    const double *b, int64_t rsb, int64_t csb, double beta,
                    double *y, int64_t incy);

} // namespace gemm
} // namespace ember

#endif // EMBER_RUNTIME_ROWTIMESMATRIX_H
