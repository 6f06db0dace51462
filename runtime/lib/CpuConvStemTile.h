//===- CpuConvStemTile.h - wide windows, few input channels -*- C++ -*-===//
//
// The tile kernel of CpuConvStemTile.cpp: convolutions of a few input
// channels with windows of more than 9 taps (resnet18's 7x7 stride-2
// stem), which CpuConvStem.cpp's row kernel does not take. Same geometry
// and calling pattern as CpuConvStem.h (CpuConv.cpp's forwardStem runs
// either).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUCONVSTEMTILE_H
#define EMBER_RUNTIME_CPUCONVSTEMTILE_H

#include "CpuConvStem.h"

#include <cstdint>

namespace ember {
namespace conv {

/// Whether stemTileRows takes `g` with `activation` (an
/// ember_gemm_activation: none or relu): AVX-512, at most kStemMaxInputs
/// input channels, more than 9 taps, kStemTileMinOutputs to
/// kStemTileMaxOutputs output channels, strideW 1 or 2.
bool stemTileApplies(const StemGeometry &g, int activation);

/// The weights [outC, inC, kH, kW] as stemTileRows reads them: blocks of
/// 32 output channels (zero-padded), each [kW, inC, kH, 32].
void packStemTileWeights(const StemGeometry &g, const float *w, float *packed);
int64_t stemTilePackedSize(const StemGeometry &g);

/// Output rows [oh0, oh1) of one image: y = act(conv(x, w) + bias), bias
/// (outC floats, may be null) and the activation applied in registers.
/// False when the thread's buffer could not be allocated (nothing
/// written).
bool stemTileRows(const StemGeometry &g, const float *x, const float *packed,
                  const float *bias, int activation, float *y, int64_t oh0,
                  int64_t oh1);

/// The tile computes 32 output channels a block: with fewer outputs most
/// of it would be padding (the GEMM path's 14-row tiles waste less; not
/// measured below 64).
constexpr int64_t kStemTileMinOutputs = 32, kStemTileMaxOutputs = 64;

} // namespace conv
} // namespace ember

#endif // EMBER_RUNTIME_CPUCONVSTEMTILE_H
