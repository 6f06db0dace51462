//===- CpuConvDepthwise.cpp - direct depthwise convolution ----------------===//
//
// One plane at a time: the input plane is first copied once into scratch,
// padded (so no tap needs a bounds test) and split by column into
// `strideW` phases (so that, for any stride, the inputs of consecutive
// output columns at one tap are consecutive floats). Each output vector
// then is kH * kW FMAs of a broadcast tap by a contiguous load, four rows
// of outputs at a time in registers to cover the FMA latency. The AVX-512
// path is compiled through a target attribute (as GemmMicroKernels.cpp
// does), the portable one is left to the compiler's vectorizer.
//
//===----------------------------------------------------------------------===//

#include "CpuConvDepthwise.h"

#include <immintrin.h>

#include <algorithm>

namespace ember {
namespace conv {
namespace {

/// The padded, phase-split copy of the input plane: phase p, row r,
/// column j holds padded input (r, j * strideW + p).
struct Phases {
  int64_t rows, width;
};

Phases phasesOf(const PlaneGeometry &g) {
  int64_t rows = (g.outH - 1) * g.strideH + (g.kH - 1) * g.dilationH + 1;
  int64_t cols = (g.outW - 1) * g.strideW + (g.kW - 1) * g.dilationW + 1;
  return {rows, (cols + g.strideW - 1) / g.strideW};
}

void fillPhases(const PlaneGeometry &g, const Phases &ph, const float *x,
                int64_t xRow, int64_t xCol, float *scratch) {
  const int64_t sw = g.strideW;
  for (int64_t r = 0; r < ph.rows; ++r) {
    int64_t ih = r - g.padH;
    bool rowInside = ih >= 0 && ih < g.inH;
    const float *row = x + ih * xRow;
    for (int64_t p = 0; p < sw; ++p) {
      float *dst = scratch + (p * ph.rows + r) * ph.width;
      for (int64_t j = 0; j < ph.width; ++j) {
        int64_t ix = j * sw + p - g.padW;
        dst[j] = rowInside && ix >= 0 && ix < g.inW ? row[ix * xCol] : 0.0f;
      }
    }
  }
}

/// Where tap (kh, kw) of output (oh, 0) reads in the phases.
inline const float *tapSource(const PlaneGeometry &g, const Phases &ph,
                              const float *scratch, int64_t oh, int64_t kh,
                              int64_t kw) {
  int64_t column = kw * g.dilationW;
  int64_t phase = column % g.strideW;
  int64_t r = oh * g.strideH + kh * g.dilationH;
  return scratch + (phase * ph.rows + r) * ph.width + column / g.strideW;
}

void portablePlane(const PlaneGeometry &g, const Phases &ph,
                   const float *scratch, const float *taps, float *y,
                   int64_t yRow) {
  for (int64_t oh = 0; oh < g.outH; ++oh) {
    float *out = y + oh * yRow;
    std::fill(out, out + g.outW, 0.0f);
    for (int64_t kh = 0; kh < g.kH; ++kh)
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        const float *src = tapSource(g, ph, scratch, oh, kh, kw);
        float weight = taps[kh * g.kW + kw];
        for (int64_t ow = 0; ow < g.outW; ++ow)
          out[ow] += weight * src[ow];
      }
  }
}

#define EMBER_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

/// ROWS output rows from `oh`, 16 columns at a time (the last ones masked).
template <int ROWS>
EMBER_TARGET_AVX512 void avx512Rows(const PlaneGeometry &g, const Phases &ph,
                                    const float *scratch, const float *taps,
                                    float *y, int64_t yRow, int64_t oh) {
  const int64_t rowStep = g.strideH * ph.width;
  for (int64_t ow = 0; ow < g.outW; ow += 16) {
    int64_t left = std::min<int64_t>(16, g.outW - ow);
    __mmask16 mask = static_cast<__mmask16>((1u << left) - 1u);
    __m512 acc[ROWS];
#pragma GCC unroll 4
    for (int i = 0; i < ROWS; ++i)
      acc[i] = _mm512_setzero_ps();
    for (int64_t kh = 0; kh < g.kH; ++kh)
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        const float *src = tapSource(g, ph, scratch, oh, kh, kw) + ow;
        __m512 weight = _mm512_set1_ps(taps[kh * g.kW + kw]);
#pragma GCC unroll 4
        for (int i = 0; i < ROWS; ++i)
          acc[i] = _mm512_fmadd_ps(
              weight, _mm512_maskz_loadu_ps(mask, src + i * rowStep), acc[i]);
      }
#pragma GCC unroll 4
    for (int i = 0; i < ROWS; ++i)
      _mm512_mask_storeu_ps(y + (oh + i) * yRow + ow, mask, acc[i]);
  }
}

EMBER_TARGET_AVX512 void avx512Plane(const PlaneGeometry &g, const Phases &ph,
                                     const float *scratch, const float *taps,
                                     float *y, int64_t yRow) {
  int64_t oh = 0;
  for (; oh + 4 <= g.outH; oh += 4)
    avx512Rows<4>(g, ph, scratch, taps, y, yRow, oh);
  for (; oh < g.outH; ++oh)
    avx512Rows<1>(g, ph, scratch, taps, y, yRow, oh);
}

} // namespace

int64_t depthwiseScratchSize(const PlaneGeometry &g) {
  Phases ph = phasesOf(g);
  // A masked vector load may start up to 15 floats before the end.
  return g.strideW * ph.rows * ph.width + 16;
}

void depthwisePlane(const PlaneGeometry &g, const float *x, int64_t xRow,
                    int64_t xCol, const float *taps, float *y, int64_t yRow,
                    float *scratch, bool avx512) {
  Phases ph = phasesOf(g);
  fillPhases(g, ph, x, xRow, xCol, scratch);
  if (avx512)
    avx512Plane(g, ph, scratch, taps, y, yRow);
  else
    portablePlane(g, ph, scratch, taps, y, yRow);
}

} // namespace conv
} // namespace ember
