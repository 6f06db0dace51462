//===- CpuConvDirect.h - direct convolution reading x in place ---*- C++ -*-===//
//
// A 2-D convolution computed straight from an NCHW input: no im2col, no
// packed input panels, no stride phase planes. A register tile holds P
// consecutive output pixels of one output row for 16 * V output channels;
// each (kh, kw, input channel) step broadcasts P inputs from x and loads V
// vectors of weights packed once per weight tensor. Padding costs no
// branch per step: out-of-range rows skip their taps for the whole tile,
// and out-of-range columns only ever fall on a tile's first or last pixel
// (the row is cut so), whose FMAs a variant of the step drops. CpuConv.cpp
// picks this path per layer where it beats its packed-GEMM paths.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUCONVDIRECT_H
#define EMBER_RUNTIME_CPUCONVDIRECT_H

#include <cstdint>

namespace ember {
namespace conv {

/// The shape of one direct convolution (one group, unit dilation).
struct DirectShape {
  int64_t channels, outChannels, inH, inW, outH, outW, kH, kW, strideH,
      strideW, padH, padW;
};

/// What the direct path applies to each output in registers before storing
/// it: act(acc + bias [+ residual]) [+ residual] with act relu or none
/// (GemmEpilogue.h's order). Image n's channel o reads bias at bias + n *
/// biasImage + o * biasChannel (one value a plane) and output row h of the
/// residual at residual + n * residualImage + o * residualChannel + h *
/// residualRow (columns contiguous). Null pointers add nothing.
struct DirectFinish {
  const float *bias = nullptr;
  int64_t biasImage = 0, biasChannel = 0;
  const float *residual = nullptr;
  int64_t residualImage = 0, residualChannel = 0, residualRow = 0;
  bool relu = false, residualFirst = false;
};

/// Whether directForward takes `shape` (AVX-512 present, column stride 1 or
/// 2, a non-empty kernel and output).
bool directApplies(const DirectShape &shape);

/// Floats of the weights packed for `shape` (packDirectWeights).
int64_t directPackedSize(const DirectShape &shape);

/// Packs w ([outChannels, channels, kH, kW], contiguous) into blocks of
/// the tile's output channels: [block][kh][kw][channel][channel of block],
/// the channels past outChannels zero.
void packDirectWeights(const DirectShape &shape, const float *w, float *out);

/// y = conv(x, w) for `batch` images, then `finish` (optional). x's element
/// (n, c, h, w) is at x[n * xImage + c * xChannel + h * xRow + w] and y's
/// (n, o, h, w) at y[n * yImage + o * yChannel + h * yRow + w]; `packed`
/// is packDirectWeights' output. Runs on the thread pool.
void directForward(const DirectShape &shape, int64_t batch, const float *x,
                   int64_t xImage, int64_t xChannel, int64_t xRow,
                   const float *packed, float *y, int64_t yImage,
                   int64_t yChannel, int64_t yRow, const DirectFinish *finish);

} // namespace conv
} // namespace ember

#endif // EMBER_RUNTIME_CPUCONVDIRECT_H
