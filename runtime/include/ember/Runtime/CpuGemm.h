//===- CpuGemm.h - GEMM entry points called by compiled CPU code -*- C++ -*-===//
//
// Compiled code calls these for f32/f64 matmuls (see the ember-matmul-to-blas
// pass). Each matrix arrives as an MLIR strided memref descriptor expanded to
// scalars: allocated pointer, aligned pointer, offset, sizes, strides. They
// compute C += A * B (the `_into` variants C = A * B): f32 on Ember's own
// GEMM (EmberGemm.h, any strides; EMBER_GEMM=openblas selects OpenBLAS), f64
// and single-row f32 products on OpenBLAS for any row- or column-major
// strides, copying other layouts first. Plain C symbols: the JIT and AOT
// objects link them by name. No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUGEMM_H
#define EMBER_RUNTIME_CPUGEMM_H

#include "ember/Runtime/GemmEpilogue.h"

#include <cstdint>

#define EMBER_MATRIX_ARGS(T, name)                                             \
  T *name##Alloc, T *name##Data, int64_t name##Offset, int64_t name##Rows,     \
      int64_t name##Cols, int64_t name##RowStride, int64_t name##ColStride

#define EMBER_BATCH_ARGS(T, name)                                              \
  T *name##Alloc, T *name##Data, int64_t name##Offset, int64_t name##Batch,    \
      int64_t name##Rows, int64_t name##Cols, int64_t name##BatchStride,       \
      int64_t name##RowStride, int64_t name##ColStride

extern "C" {
/// C[M,N] += A[M,K] * B[K,N] in f32.
void ember_cpu_sgemm(EMBER_MATRIX_ARGS(float, a), EMBER_MATRIX_ARGS(float, b),
                     EMBER_MATRIX_ARGS(float, c));
/// C[M,N] += A[M,K] * B[K,N] in f64.
void ember_cpu_dgemm(EMBER_MATRIX_ARGS(double, a), EMBER_MATRIX_ARGS(double, b),
                     EMBER_MATRIX_ARGS(double, c));
/// C[i] += A[i] * B[i] for each batch index i, f32.
void ember_cpu_sgemm_batched(EMBER_BATCH_ARGS(float, a),
                             EMBER_BATCH_ARGS(float, b),
                             EMBER_BATCH_ARGS(float, c));
/// C[i] += A[i] * B[i] for each batch index i, f64.
void ember_cpu_dgemm_batched(EMBER_BATCH_ARGS(double, a),
                             EMBER_BATCH_ARGS(double, b),
                             EMBER_BATCH_ARGS(double, c));
/// The same four computing C = A * B: C's old values are not read (the
/// compiler calls these where C was just filled with zeros).
void ember_cpu_sgemm_into(EMBER_MATRIX_ARGS(float, a), EMBER_MATRIX_ARGS(float, b),
                          EMBER_MATRIX_ARGS(float, c));
void ember_cpu_dgemm_into(EMBER_MATRIX_ARGS(double, a), EMBER_MATRIX_ARGS(double, b),
                          EMBER_MATRIX_ARGS(double, c));
void ember_cpu_sgemm_batched_into(EMBER_BATCH_ARGS(float, a), EMBER_BATCH_ARGS(float, b),
                                  EMBER_BATCH_ARGS(float, c));
void ember_cpu_dgemm_batched_into(EMBER_BATCH_ARGS(double, a), EMBER_BATCH_ARGS(double, b),
                                  EMBER_BATCH_ARGS(double, c));
/// The fused f32 products (ember-fuse-matmul-epilogue): C = act(A * B +
/// bias) + residual (C += ... with EMBER_GEMM_FUSED_ACCUMULATE), each
/// block of C finished while in cache (GemmEpilogue.h). `bias` and
/// `residual` are views of C's shape, stride 0 along broadcast dims; one
/// the flags leave out is not read (the compiler passes C there).
enum : int64_t {
  EMBER_GEMM_FUSED_ACTIVATION_MASK = 0xff, // an ember_gemm_activation
  EMBER_GEMM_FUSED_BIAS = 1 << 8,
  EMBER_GEMM_FUSED_RESIDUAL = 1 << 9,
  EMBER_GEMM_FUSED_ACCUMULATE = 1 << 10,
  // The residual added before the activation (act(A B + bias + residual)).
  EMBER_GEMM_FUSED_RESIDUAL_FIRST = 1 << 11,
};
void ember_cpu_sgemm_fused(EMBER_MATRIX_ARGS(float, a), EMBER_MATRIX_ARGS(float, b),
                           EMBER_MATRIX_ARGS(float, c), EMBER_MATRIX_ARGS(float, bias),
                           EMBER_MATRIX_ARGS(float, residual), int64_t flags);
void ember_cpu_sgemm_batched_fused(EMBER_BATCH_ARGS(float, a), EMBER_BATCH_ARGS(float, b),
                                   EMBER_BATCH_ARGS(float, c), EMBER_BATCH_ARGS(float, bias),
                                   EMBER_BATCH_ARGS(float, residual), int64_t flags);
/// A loop's products that all read one B (ember-hoist-gemm-packing): the
/// loop packs B once before it (null when OpenBLAS runs the products) and
/// releases it after; each product passes the handle besides B itself
/// (read when the handle is null or does not fit). Otherwise as
/// ember_cpu_sgemm, ember_cpu_sgemm_into and ember_cpu_sgemm_fused.
void *ember_cpu_sgemm_pack_b(EMBER_MATRIX_ARGS(float, b));
void ember_cpu_sgemm_release_b(void *packed);
void ember_cpu_sgemm_packed(EMBER_MATRIX_ARGS(float, a), EMBER_MATRIX_ARGS(float, b),
                            EMBER_MATRIX_ARGS(float, c), void *packed);
void ember_cpu_sgemm_packed_into(EMBER_MATRIX_ARGS(float, a), EMBER_MATRIX_ARGS(float, b),
                                 EMBER_MATRIX_ARGS(float, c), void *packed);
void ember_cpu_sgemm_packed_fused(EMBER_MATRIX_ARGS(float, a), EMBER_MATRIX_ARGS(float, b),
                                  EMBER_MATRIX_ARGS(float, c), EMBER_MATRIX_ARGS(float, bias),
                                  EMBER_MATRIX_ARGS(float, residual), int64_t flags,
                                  void *packed);
/// B operands packed by ember_cpu_sgemm_pack_b in this process.
uint64_t ember_cpu_packed_b_calls(void);
/// How many fused calls ran in this process (ember.compile_stats()'s
/// "fused_gemm_calls"): how tests see that an epilogue was fused.
uint64_t ember_cpu_fused_gemm_calls(void);
/// Copies between two strided memrefs given as MLIR unranked descriptors
/// ({rank, descriptor*}); compiled code calls it for non-contiguous copies.
void memrefCopy(int64_t elementSize, void *source, void *target);
}

#endif // EMBER_RUNTIME_CPUGEMM_H
