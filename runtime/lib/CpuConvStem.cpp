//===- CpuConvStem.cpp - direct convolution of a few input channels -------===//
//
// Per output row, the input rows it reads (inC * kH of them) are copied
// once into a small buffer, zero-padded and split by column into strideW
// phases, so that the inputs of 16 consecutive output columns at any tap
// are 16 consecutive floats (one unaligned load, no gather, no mask).
// Then each block of 16 output columns keeps 16 output channels in 16
// registers and runs inC * kH * kW taps of one load and 16 FMAs with a
// broadcast weight (27 x 16 for a 3x3 RGB stem). Bias and activation are
// applied in registers with CpuConvDepthwise.cpp's arithmetic.
//
//===----------------------------------------------------------------------===//

#include "CpuConvStem.h"
#include "ScratchBuffer.h"
#include "ember/Runtime/GemmEpilogue.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#define EMBER_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace ember {
namespace conv {
namespace {

constexpr int kLanes = 16;
constexpr int64_t kMaxTaps = 9;

/// The calling thread's phase rows.
thread_local ScratchBuffer phaseRows;

bool haveAvx512() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return have;
}

/// Floats per phase row: every 16-column block's loads stay inside.
int64_t phaseWidth(const StemGeometry &g) {
  int64_t blocks = (g.outW + kLanes - 1) / kLanes;
  return blocks * kLanes + (g.kW - 1) / g.strideW + 1;
}

EMBER_TARGET_AVX512 inline __m512 hardSigmoid(__m512 x) {
  __m512 t = x + 3.0f;
  t = t > 6.0f ? __m512{} + 6.0f : t;
  t = t < 0.0f ? __m512{} : t;
  return t * (1.0f / 6.0f);
}

template <int Act> EMBER_TARGET_AVX512 inline __m512 activate(__m512 v) {
  if constexpr (Act == EMBER_GEMM_ACT_RELU)
    return v < 0.0f ? __m512{} : v;
  if constexpr (Act == EMBER_GEMM_ACT_HARDSIGMOID)
    return hardSigmoid(v);
  if constexpr (Act == EMBER_GEMM_ACT_HARDSWISH)
    return v * hardSigmoid(v);
  return v;
}

/// Writes, for output row oh, phase p of input row (c, kh) at
/// rows + ((c * kH + kh) * strideW + p) * width: element j is the padded
/// input column j * strideW + p (zero outside the image).
EMBER_TARGET_AVX512 void buildRows(const StemGeometry &g, const float *x,
                                   int64_t oh, float *rows, int64_t width) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                         20, 22, 24, 26, 28, 30);
  for (int64_t c = 0; c < g.inC; ++c)
    for (int64_t kh = 0; kh < g.kH; ++kh) {
      const int64_t ih = oh * g.strideH - g.padH + kh;
      float *dst = rows + (c * g.kH + kh) * g.strideW * width;
      if (ih < 0 || ih >= g.inH) {
        std::fill(dst, dst + g.strideW * width, 0.0f);
        continue;
      }
      const float *src = x + c * g.xChannel + ih * g.xRow;
      for (int64_t p = 0; p < g.strideW; ++p) {
        float *d = dst + p * width;
        // Columns [jlo, jhi) read the image: iw = j * strideW + first.
        const int64_t first = p - g.padW;
        const int64_t jlo =
            first >= 0 ? 0
                       : std::min((-first + g.strideW - 1) / g.strideW, width);
        const int64_t jhi = std::clamp<int64_t>(
            (g.inW - first + g.strideW - 1) / g.strideW, jlo, width);
        std::fill(d, d + jlo, 0.0f);
        std::fill(d + jhi, d + width, 0.0f);
        const float *from = src + jlo * g.strideW + first;
        if (g.strideW == 1) {
          std::memcpy(d + jlo, from, (jhi - jlo) * sizeof(float));
          continue;
        }
        // Stride 2: the even lanes of two loads, masked to the row's
        // floats (2 * count - 1 of them from `from`).
        for (int64_t j = 0; j < jhi - jlo; j += kLanes) {
          const int64_t left = 2 * (jhi - jlo - j) - 1;
          auto mask = [](int64_t n) {
            return static_cast<__mmask16>(
                n >= kLanes ? 0xFFFF : n <= 0 ? 0 : (1u << n) - 1);
          };
          const __m512 lo = _mm512_maskz_loadu_ps(mask(left), from + 2 * j);
          const __m512 hi =
              _mm512_maskz_loadu_ps(mask(left - kLanes), from + 2 * j + kLanes);
          _mm512_mask_storeu_ps(d + jlo + j, mask(jhi - jlo - j),
                                _mm512_permutex2var_ps(lo, even, hi));
        }
      }
    }
}

/// One output row, output channels [o0, o0 + 16) (packed block `a`).
template <int Act>
EMBER_TARGET_AVX512 void rowBlock(const StemGeometry &g, const float *rows,
                                  int64_t width, const float *a,
                                  const float *bias, int64_t o0, float *y) {
  const int64_t outputs = std::min<int64_t>(kLanes, g.outC - o0);
  // Where tap column kw starts in a row's phases: worked out once per row
  // block, keeping integer divisions out of the FMA loop.
  int64_t tapStart[kMaxTaps];
  for (int64_t kw = 0; kw < g.kW; ++kw)
    tapStart[kw] = kw % g.strideW * width + kw / g.strideW;
  for (int64_t ow = 0; ow < g.outW; ow += kLanes) {
    // Unrolled, so that the 16 sums stay in registers.
    __m512 acc[kLanes];
#pragma GCC unroll 16
    for (int o = 0; o < kLanes; ++o)
      acc[o] = _mm512_setzero_ps();
    const float *w = a;
    for (int64_t c = 0; c < g.inC; ++c)
      for (int64_t kh = 0; kh < g.kH; ++kh) {
        const float *row = rows + (c * g.kH + kh) * g.strideW * width;
        for (int64_t kw = 0; kw < g.kW; ++kw, w += kLanes) {
          const __m512 v = _mm512_loadu_ps(row + tapStart[kw] + ow);
#pragma GCC unroll 16
          for (int o = 0; o < kLanes; ++o)
            acc[o] = _mm512_fmadd_ps(v, _mm512_set1_ps(w[o]), acc[o]);
        }
      }
    const __mmask16 store = static_cast<__mmask16>(
        (1u << std::min<int64_t>(kLanes, g.outW - ow)) - 1);
#pragma GCC unroll 16
    for (int o = 0; o < kLanes; ++o) {
      if (o >= outputs)
        break;
      __m512 v = acc[o];
      if (bias)
        v += bias[o0 + o];
      _mm512_mask_storeu_ps(y + (o0 + o) * g.yChannel + ow, store,
                            activate<Act>(v));
    }
  }
}

template <int Act>
EMBER_TARGET_AVX512 void rowsWith(const StemGeometry &g, const float *x,
                                  const float *packed, const float *bias,
                                  float *y, int64_t oh0, int64_t oh1,
                                  float *rows) {
  const int64_t width = phaseWidth(g);
  const int64_t blockFloats = g.inC * g.kH * g.kW * kLanes;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    buildRows(g, x, oh, rows, width);
    for (int64_t o0 = 0; o0 < g.outC; o0 += kLanes)
      rowBlock<Act>(g, rows, width, packed + o0 / kLanes * blockFloats, bias,
                    o0, y + oh * g.yRow);
  }
}

} // namespace

bool stemActivation(int activation) {
  return activation == EMBER_GEMM_ACT_NONE ||
         activation == EMBER_GEMM_ACT_RELU ||
         activation == EMBER_GEMM_ACT_HARDSIGMOID ||
         activation == EMBER_GEMM_ACT_HARDSWISH;
}

bool stemApplies(const StemGeometry &g) {
  return haveAvx512() && g.inC >= 1 && g.inC <= kStemMaxInputs &&
         g.kH * g.kW <= kMaxTaps && g.outC >= 1 && g.outC <= kStemMaxOutputs &&
         (g.strideW == 1 || g.strideW == 2) && g.strideH >= 1 &&
         g.padH >= 0 && g.padW >= 0 && g.outW >= 1;
}

int64_t stemPackedSize(const StemGeometry &g) {
  return (g.outC + kLanes - 1) / kLanes * g.inC * g.kH * g.kW * kLanes;
}

void packStemWeights(const StemGeometry &g, const float *w, float *packed) {
  const int64_t taps = g.inC * g.kH * g.kW;
  std::fill(packed, packed + stemPackedSize(g), 0.0f);
  for (int64_t o = 0; o < g.outC; ++o)
    for (int64_t t = 0; t < taps; ++t)
      packed[(o / kLanes * taps + t) * kLanes + o % kLanes] = w[o * taps + t];
}

bool stemRows(const StemGeometry &g, const float *x, const float *packed,
              const float *bias, int activation, float *y, int64_t oh0,
              int64_t oh1) {
  float *rows = phaseRows.get(g.inC * g.kH * g.strideW * phaseWidth(g));
  if (!rows)
    return false;
  switch (activation) {
  case EMBER_GEMM_ACT_RELU:
    rowsWith<EMBER_GEMM_ACT_RELU>(g, x, packed, bias, y, oh0, oh1, rows);
    break;
  case EMBER_GEMM_ACT_HARDSIGMOID:
    rowsWith<EMBER_GEMM_ACT_HARDSIGMOID>(g, x, packed, bias, y, oh0, oh1, rows);
    break;
  case EMBER_GEMM_ACT_HARDSWISH:
    rowsWith<EMBER_GEMM_ACT_HARDSWISH>(g, x, packed, bias, y, oh0, oh1, rows);
    break;
  default:
    rowsWith<EMBER_GEMM_ACT_NONE>(g, x, packed, bias, y, oh0, oh1, rows);
  }
  return true;
}

} // namespace conv
} // namespace ember
