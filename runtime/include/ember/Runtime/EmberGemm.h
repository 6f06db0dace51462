//===- EmberGemm.h - Ember's own f32 GEMM ----------------------*- C++ -*-===//
//
// A BLIS-style GEMM that does not depend on any BLAS's CPU detection: B is
// packed into NR-column panels, A into MR-row panels, blocked for the caches
// (kc x nr of B in L1, mc x kc of A in L2), and a register-blocked
// micro-kernel (AVX-512, AVX2+FMA or portable, chosen once from the CPU)
// computes each tile. Every matrix is strided (row and column stride), so
// transposed operands and leading dimensions are only strides: nothing is
// copied besides the packing. Threads split C into blocks of rows (or
// columns when C is wide) that share nothing. No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_EMBERGEMM_H
#define EMBER_RUNTIME_EMBERGEMM_H

#include "ember/Runtime/GemmEpilogue.h"

#include <cstddef>
#include <cstdint>

namespace ember {
namespace gemm {

/// An f32 matrix view: element (i, j) is data[i * rowStride + j * colStride].
struct StridedMatrix {
  float *data;
  int64_t rowStride, colStride;
};

/// C[m, n] = alpha * A[m, k] * B[k, n] + beta * C on up to `threads`
/// threads. beta == 0 never reads C (it may hold garbage or NaNs). A
/// non-null `epilogue` (GemmEpilogue.h) then finishes each block of C
/// while it is in cache: C = act(... + bias) + residual.
void sgemm(int64_t m, int64_t n, int64_t k, float alpha, StridedMatrix a,
           StridedMatrix b, float beta, StridedMatrix c, int threads,
           const ember_gemm_epilogue *epilogue = nullptr);

/// `batch` independent products, item i at data + i * batchStride of each
/// operand (and of the epilogue's bias and residual); the threads split
/// the batch when it has enough items.
void sgemmBatched(int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                  StridedMatrix a, int64_t aBatchStride, StridedMatrix b,
                  int64_t bBatchStride, float beta, StridedMatrix c,
                  int64_t cBatchStride, int threads,
                  const ember_gemm_epilogue *epilogue = nullptr);

/// The epilogue alone, as one pass over an existing C: for products that
/// did not run on this GEMM (OpenBLAS's matrix-vector path) and for tests.
void applyEpilogue(int64_t m, int64_t n, StridedMatrix c,
                   const ember_gemm_epilogue &epilogue);

/// A B operand packed once into the active kernel's panels, for a loop of
/// products that all read the same B (a recurrent layer's weight): the
/// products skip packing it. Null when k or n is 0 or memory ran out.
struct PackedB;
PackedB *packBOnce(int64_t k, int64_t n, StridedMatrix b);
void releasePackedB(PackedB *packed);
/// sgemm() reading B from `packed` (made by packBOnce from this B); `b` is
/// still given, and read instead when `packed` is null or was packed for
/// another shape or another kernel than the active one.
void sgemmPackedB(int64_t m, int64_t n, int64_t k, float alpha,
                  StridedMatrix a, StridedMatrix b, const PackedB *packed,
                  float beta, StridedMatrix c, int threads,
                  const ember_gemm_epilogue *epilogue = nullptr);

/// Memory nothing writes while it is registered (a loaded model file's
/// image, registered by ModelFile): the runtime's f32 GEMM entry points pack
/// a B operand lying in it once and reuse the panels (CpuGemm.cpp) until
/// the range is released, which drops them.
void registerConstantMemory(const void *begin, size_t size);
void releaseConstantMemory(const void *begin);

/// Which micro-kernel runs. `Detect` (the default) takes the widest the CPU
/// supports: AVX-512, else AVX2+FMA, else portable.
enum class Kernel { Detect, Avx512, Avx2, Portable };

/// For tests: makes every later call use `kernel`; false (and no change)
/// when this CPU cannot run it.
bool forceKernel(Kernel kernel);

/// The name of the micro-kernel calls use now ("avx512", "avx2", "portable").
const char *kernelName();

} // namespace gemm
} // namespace ember

#endif // EMBER_RUNTIME_EMBERGEMM_H
