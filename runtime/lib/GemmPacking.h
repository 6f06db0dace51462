//===- GemmPacking.h - vectorized packing of transposed GEMM operands -*- C++ -*-===//
//
// Packing a GEMM operand stored "across" its panels (a linear layer's
// weight read as B = W^T, whose panel rows are strided and whose columns
// are contiguous) is a transpose. Element by element it costs a load and a
// store per value with the loads far apart; here 8 x 8 blocks are
// transposed in AVX2 registers. Internal to the runtime (EmberGemm.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GEMMPACKING_H
#define EMBER_RUNTIME_GEMMPACKING_H

#include <cstdint>

namespace ember {
namespace gemm {

/// True when this CPU runs the AVX2 transposing packer.
bool transposedPackingAvailable();

/// out[p * ld + j] = src[j * stride + p] for p < rows, j < cols: the
/// transpose of a cols x rows block whose rows lie `stride` apart. Only
/// writes the rows x cols block of `out` (columns cols..ld stay as they
/// are). Requires transposedPackingAvailable().
void packTransposed(const float *src, int64_t stride, int64_t rows,
                    int64_t cols, int64_t ld, float *out);

} // namespace gemm
} // namespace ember

#endif // EMBER_RUNTIME_GEMMPACKING_H
