//===- CpuConvWinograd.h - Winograd F(4x4, 3x3) convolution -----*- C++ -*-===//
//
// A 3x3, stride-1 convolution (one group, unit dilation) as Winograd's
// F(4x4, 3x3): each 4x4 block of outputs (a tile) comes from the 6x6 block
// of inputs under it through 36 products per (input, output channel)
// instead of 144. The weights are transformed once per weight tensor
// (U = G g G^T); per block of tiles the inputs are transformed (V = B^T d
// B), 36 GEMMs multiply U by V, and the products are transformed back (A^T
// m A) with the bias, relu and residual applied at the store. CpuConv.cpp
// picks this path per layer where it beats the direct and GEMM paths.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUCONVWINOGRAD_H
#define EMBER_RUNTIME_CPUCONVWINOGRAD_H

#include "CpuConvDirect.h"

#include <cstdint>

namespace ember {
namespace conv {

/// Whether winogradForward takes `shape`: AVX-512 present, a 3x3 window at
/// stride 1 (any padding), non-empty channels and output.
bool winogradApplies(const DirectShape &shape);

/// Floats of the weights transformed for `shape` (packWinogradWeights).
int64_t winogradPackedSize(const DirectShape &shape);

/// Transforms w ([outChannels, channels, 3, 3], contiguous) into U:
/// [point of the 6x6 tile][block of 16 output channels][channel][16], the
/// output channels past outChannels zero.
void packWinogradWeights(const DirectShape &shape, const float *w, float *out);

/// y = conv(x, w) for `batch` images, then `finish` (optional), with the
/// strides of directForward (CpuConvDirect.h); `packed` is
/// packWinogradWeights' output. Runs on the thread pool.
void winogradForward(const DirectShape &shape, int64_t batch, const float *x,
                     int64_t xImage, int64_t xChannel, int64_t xRow,
                     const float *packed, float *y, int64_t yImage,
                     int64_t yChannel, int64_t yRow,
                     const DirectFinish *finish);

/// F(2x2, 3x3)'s counterparts of winogradPackedSize and packWinogradWeights
/// (U: [point of the 4x4 tile][block of 16 output channels][channel][16]),
/// and its forward, false (y partly written or not) when its offsets do not
/// fit 32 bits or its buffers do not fit in memory.
int64_t winogradF2PackedSize(const DirectShape &shape);
void packWinogradF2Weights(const DirectShape &shape, const float *w,
                           float *out);
bool winogradF2Forward(const DirectShape &shape, int64_t batch, const float *x,
                       int64_t xImage, int64_t xChannel, int64_t xRow,
                       const float *packed, float *y, int64_t yImage,
                       int64_t yChannel, int64_t yRow,
                       const DirectFinish *finish);

} // namespace conv
} // namespace ember


#endif // EMBER_RUNTIME_CPUCONVWINOGRAD_H
