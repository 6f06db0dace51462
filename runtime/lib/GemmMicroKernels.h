//===- GemmMicroKernels.h - register-blocked f32 GEMM micro-kernels -*- C++ -*-===//
//
// The innermost piece of Ember's own GEMM (EmberGemm.cpp): a micro-kernel
// multiplies one packed MR-row panel of A by one packed NR-column panel of B
// (both zero-padded to full MR/NR, so it always computes a whole tile in
// registers) and writes the mr x nr corner that exists into C. One kernel per
// ISA (AVX-512, AVX2+FMA, portable C++), each compiled for its ISA through a
// target attribute, so the runtime builds with baseline flags and picks one
// once by CPU detection. Internal to the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GEMMMICROKERNELS_H
#define EMBER_RUNTIME_GEMMMICROKERNELS_H

#include <cstdint>

namespace ember {
namespace gemm {

/// C[0:mr, 0:nr] = alpha * (Ap * Bp) + beta * C, where Ap is k x MR packed
/// column by column (Ap[p * MR + i] = A[i, p]) and Bp is k x NR packed row by
/// row (Bp[p * NR + j] = B[p, j]). C is strided (rsc, csc); beta == 0 never
/// reads C (it may hold garbage or NaNs).
using MicroKernel = void (*)(int64_t k, const float *ap, const float *bp,
                             float *c, int64_t rsc, int64_t csc, int mr,
                             int nr, float alpha, float beta);

/// A micro-kernel with its tile shape and the cache blocking that fits it:
/// kc x nr of B stays in L1, mc x kc of A in L2, kc x nc of B in L3.
struct MicroKernelInfo {
  const char *name;
  int mr, nr;
  MicroKernel kernel;
  int mc, kc, nc;
};

/// The AVX-512 kernel (the CPU must support avx512f).
const MicroKernelInfo &avx512Kernel();
/// The AVX-512 tile the convolution forward uses (CpuConv.cpp).
const MicroKernelInfo &avx512ConvKernel();
/// For the last panel of avx512ConvKernel's A when only `rows` (1 to 13)
/// of its 14 rows exist: a tile of `rows` x 32 reading that panel (the full
/// kernel would spend the FMAs of all 14 rows on it).
MicroKernel avx512ConvEdgeKernel(int rows);
/// The tile of avx512ConvKernel (rows 14) or of its edge (1 to 13 rows)
/// that also prefetches its A panel ahead into L1: for weights that stream
/// from L3 (more than L2 holds, or a batch-1 forward that reads each once).
MicroKernel avx512ConvStreamingKernel(int rows);
/// Where the columns of a convolution forward's tile go when they are not
/// one run of C: CpuConv.cpp's shifted-input grid is wider than the output
/// rows, so a tile's NR grid pixels are a few runs of consecutive output
/// pixels (one per output row it touches) with dropped columns between.
/// Run r covers the tile's columns [begin[r], end[r]) and stores column
/// begin[r] of row i at c + i * rsc + offset[r] (and reads the residual of
/// that column at residualOffset[r] from the residual's row i).
struct TileRuns {
  static constexpr int kMax = 8;
  int count = 0;
  int begin[kMax], end[kMax];
  int64_t offset[kMax], residualOffset[kMax];
};

/// The epilogue a run-storing tile applies in registers after its last k
/// block: act(acc + bias[i * biasStride] [+ residual]) [+ residual] with
/// act relu or none (GemmEpilogue.h's order; null pointers add nothing).
struct TileFinish {
  const float *bias = nullptr;
  int64_t biasStride = 0;
  const float *residual = nullptr; // row i at residual + i * residualStride
  int64_t residualStride = 0;
  bool relu = false, residualFirst = false;
};

/// C's rows [0, mr) of the tile Ap * Bp (as MicroKernel, alpha 1) plus
/// `prior` (when given: an earlier k blocks' mr x NR tile, row stride
/// priorStride), `finish` applied when given, stored through `runs`.
using RunKernel = void (*)(int64_t k, const float *ap, const float *bp,
                           float *c, int64_t rsc, const TileRuns &runs,
                           const float *prior, int64_t priorStride,
                           const TileFinish *finish);

/// avx512ConvKernel's tile storing through runs, for an A panel (packed 14
/// rows wide) of which `rows` (1 to 14) exist.
RunKernel avx512ConvRunKernel(int rows);
/// The AVX2 + FMA kernel (the CPU must support avx2 and fma).
const MicroKernelInfo &avx2Kernel();
/// Plain C++, for any CPU.
const MicroKernelInfo &portableKernel();

} // namespace gemm
} // namespace ember

#endif // EMBER_RUNTIME_GEMMMICROKERNELS_H
