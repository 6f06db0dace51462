//===- CpuConvStem.h - direct convolution, few input channels -*- C++ -*-===//
//
// An image network's first convolution reads the 3 colour channels: as a
// GEMM its depth (C * kH * kW, 27 for 3x3) is too short to amortise
// packing, and the stride-2 phase planes cost as much again
// (mobilenet_v3_small's 3->16 3x3 stride-2 stem at batch 1: phase build
// 39 us + GEMM 81 us on 2 threads). CpuConv.cpp runs such convolutions
// through this direct kernel instead: one output row at a time, 16 output
// channels of 16 pixels in registers.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUCONVSTEM_H
#define EMBER_RUNTIME_CPUCONVSTEM_H

#include <cstdint>

namespace ember {
namespace conv {

/// One image's 2-D convolution (one group, no dilation): x [inC, inH, inW]
/// with contiguous rows, y [outC, outH, outW] with contiguous rows.
struct StemGeometry {
  int64_t inC, inH, inW, outC, outH, outW, kH, kW, strideH, strideW, padH,
      padW;
  int64_t xChannel, xRow, yChannel, yRow; // strides in floats
};

/// Whether stemRows takes `g`: AVX-512, at most kStemMaxInputs input
/// channels, kH * kW <= 9 taps, at most kStemMaxOutputs output channels,
/// strideW 1 or 2.
bool stemApplies(const StemGeometry &g);

/// The weights [outC, inC, kH, kW] as stemRows reads them: blocks of 16
/// output channels (zero-padded), each [inC, kH, kW, 16].
void packStemWeights(const StemGeometry &g, const float *w, float *packed);
int64_t stemPackedSize(const StemGeometry &g);

/// Output rows [oh0, oh1) of one image: y = act(conv(x, w) + bias), bias
/// (outC floats, may be null) and activation (an ember_gemm_activation:
/// none, relu, hardsigmoid or hardswish) applied in registers. False when
/// the thread's row buffer could not be allocated (nothing written).
bool stemRows(const StemGeometry &g, const float *x, const float *packed,
              const float *bias, int activation, float *y, int64_t oh0,
              int64_t oh1);

/// Whether stemRows applies `activation`.
bool stemActivation(int activation);

constexpr int64_t kStemMaxInputs = 4, kStemMaxOutputs = 32;

} // namespace conv
} // namespace ember

#endif // EMBER_RUNTIME_CPUCONVSTEM_H
