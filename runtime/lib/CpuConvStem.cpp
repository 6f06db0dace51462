//===- CpuConvStem.cpp - direct convolution of a few input channels -------===//
//
// The input rows an output row reads (inC * kH of them) are copied into a
// small ring of rows (each input row once, kept while the next output rows
// read it), zero-padded and split by column into strideW phases, so that
// the inputs of 16 consecutive output columns at any tap are 16
// consecutive floats (one unaligned load, no gather, no mask).
// Then up to 3 blocks of 16 output columns keep 8 output channels in 24
// registers and run inC * kH * kW taps (27 for a 3x3 RGB stem) of 3 loads,
// 8 weight broadcasts and 24 FMAs. Bias and activation are
// applied in registers with CpuConvDepthwise.cpp's arithmetic.
//
//===----------------------------------------------------------------------===//

#include "CpuConvStem.h"
#include "ScratchBuffer.h"
#include "ember/Runtime/GemmEpilogue.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <iterator>

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

/// Writes the strideW phases of input row ih of channel c to dst: element
/// j of phase p (at dst + p * width) is the padded input column
/// j * strideW + p (zero outside the image).
EMBER_TARGET_AVX512 void buildRow(const StemGeometry &g, const float *x,
                                  int64_t c, int64_t ih, float *dst,
                                  int64_t width) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                         20, 22, 24, 26, 28, 30);
  if (ih < 0 || ih >= g.inH) {
    std::fill(dst, dst + g.strideW * width, 0.0f);
    return;
  }
  const float *src = x + c * g.xChannel + ih * g.xRow;
  for (int64_t p = 0; p < g.strideW; ++p) {
    float *d = dst + p * width;
    // Columns [jlo, jhi) read the image: iw = j * strideW + first.
    const int64_t first = p - g.padW;
    const int64_t jlo =
        first >= 0 ? 0 : std::min((-first + g.strideW - 1) / g.strideW, width);
    const int64_t jhi = std::clamp<int64_t>(
        (g.inW - first + g.strideW - 1) / g.strideW, jlo, width);
    std::fill(d, d + jlo, 0.0f);
    std::fill(d + jhi, d + width, 0.0f);
    const float *from = src + jlo * g.strideW + first;
    if (g.strideW == 1) {
      std::memcpy(d + jlo, from, (jhi - jlo) * sizeof(float));
      continue;
    }
    // Stride 2: the even lanes of two loads, masked to the row's floats
    // (2 * count - 1 of them from `from`).
    for (int64_t j = 0; j < jhi - jlo; j += kLanes) {
      const int64_t left = 2 * (jhi - jlo - j) - 1;
      auto mask = [](int64_t n) {
        return static_cast<__mmask16>(n >= kLanes ? 0xFFFF
                                      : n <= 0    ? 0
                                                  : (1u << n) - 1);
      };
      const __m512 lo = _mm512_maskz_loadu_ps(mask(left), from + 2 * j);
      const __m512 hi =
          _mm512_maskz_loadu_ps(mask(left - kLanes), from + 2 * j + kLanes);
      _mm512_mask_storeu_ps(d + jlo + j, mask(jhi - jlo - j),
                            _mm512_permutex2var_ps(lo, even, hi));
    }
  }
}

/// The phase rows of one image's input rows, kH per channel, reused from
/// one output row to the next: with stride 2 and 3 rows a window shares
/// its last row with the next window, and rebuilding it was a third of
/// the row building (which, reading the image from memory, cost as much
/// as the FMAs at batch 32). Slot (c, ih mod kH) holds row ih; any kH
/// consecutive rows have distinct slots.
class RowRing {
public:
  RowRing(const StemGeometry &g, float *storage, int64_t width)
      : g(g), storage(storage), width(width) {
    std::fill(std::begin(held), std::end(held), kNone);
  }

  /// Builds the rows output row oh reads that are not held yet and points
  /// rows[c * kH + kh] at input row oh * strideH - padH + kh of channel c.
  void moveTo(const float *x, int64_t oh, const float **rows) {
    for (int64_t c = 0; c < g.inC; ++c)
      for (int64_t kh = 0; kh < g.kH; ++kh) {
        const int64_t ih = oh * g.strideH - g.padH + kh;
        const int64_t slot = c * g.kH + ((ih % g.kH) + g.kH) % g.kH;
        float *dst = storage + slot * g.strideW * width;
        if (held[slot] != ih) {
          buildRow(g, x, c, ih, dst, width);
          held[slot] = ih;
        }
        rows[c * g.kH + kh] = dst;
      }
  }

private:
  static constexpr int64_t kNone = INT64_MIN;
  const StemGeometry &g;
  float *storage;
  int64_t width;
  int64_t held[kStemMaxInputs * kMaxTaps];
};

/// Output channels per register block: 8 channels of P (up to 3) blocks of
/// 16 pixels are 8 * P sums in registers, and each tap costs P loads and 8
/// broadcasts for 8 * P FMAs. With 16 channels of one pixel block (1 load
/// and 16 broadcast operands per 16 FMAs) the loads, not the FMAs, set the
/// pace.
constexpr int kBlockOutputs = 8;

/// One output row, output channels [o, o + 8) (their weights at `a`, 16
/// floats per tap), pixel blocks [ow, ow + 16 * P).
template <int Act, int P>
EMBER_TARGET_AVX512 void pixelBlocks(const StemGeometry &g,
                                     const float *const *rows,
                                     const int64_t *tapStart, const float *a,
                                     const float *bias, int64_t o, int64_t ow,
                                     float *y) {
  __m512 acc[kBlockOutputs][P];
#pragma GCC unroll 8
  for (int i = 0; i < kBlockOutputs; ++i)
#pragma GCC unroll 3
    for (int p = 0; p < P; ++p)
      acc[i][p] = _mm512_setzero_ps();
  const float *w = a;
  for (int64_t c = 0; c < g.inC; ++c)
    for (int64_t kh = 0; kh < g.kH; ++kh) {
      const float *row = rows[c * g.kH + kh] + ow;
      for (int64_t kw = 0; kw < g.kW; ++kw, w += kLanes) {
        __m512 v[P];
#pragma GCC unroll 3
        for (int p = 0; p < P; ++p)
          v[p] = _mm512_loadu_ps(row + tapStart[kw] + p * kLanes);
#pragma GCC unroll 8
        for (int i = 0; i < kBlockOutputs; ++i) {
          const __m512 weight = _mm512_set1_ps(w[i]);
#pragma GCC unroll 3
          for (int p = 0; p < P; ++p)
            acc[i][p] = _mm512_fmadd_ps(v[p], weight, acc[i][p]);
        }
      }
    }
  const int64_t outputs = std::min<int64_t>(kBlockOutputs, g.outC - o);
#pragma GCC unroll 3
  for (int p = 0; p < P; ++p) {
    const __mmask16 store = static_cast<__mmask16>(
        (1u << std::min<int64_t>(kLanes, g.outW - ow - p * kLanes)) - 1);
#pragma GCC unroll 8
    for (int i = 0; i < kBlockOutputs; ++i) {
      if (i >= outputs)
        break;
      __m512 v = acc[i][p];
      if (bias)
        v += bias[o + i];
      _mm512_mask_storeu_ps(y + (o + i) * g.yChannel + ow + p * kLanes, store,
                            activate<Act>(v));
    }
  }
}

/// One output row, output channels [o0, o0 + 16) (packed block `a`).
template <int Act>
EMBER_TARGET_AVX512 void rowBlock(const StemGeometry &g,
                                  const float *const *rows, int64_t width,
                                  const float *a, const float *bias, int64_t o0,
                                  float *y) {
  // Where tap column kw starts in a row's phases: worked out once per row
  // block, keeping integer divisions out of the FMA loop.
  int64_t tapStart[kMaxTaps];
  for (int64_t kw = 0; kw < g.kW; ++kw)
    tapStart[kw] = kw % g.strideW * width + kw / g.strideW;
  const int64_t blocks = (g.outW + kLanes - 1) / kLanes;
  for (int64_t half = 0; half < kLanes && o0 + half < g.outC;
       half += kBlockOutputs) {
    const float *w = a + half;
    const int64_t o = o0 + half;
    // 3 blocks at a time; 4 left go as 2 + 2 (7 blocks of a 112 row: 3, 2, 2).
    for (int64_t block = 0; block < blocks;) {
      const int64_t left = blocks - block;
      const int64_t ow = block * kLanes;
      if (left >= 5 || left == 3) {
        pixelBlocks<Act, 3>(g, rows, tapStart, w, bias, o, ow, y);
        block += 3;
      } else if (left >= 2) {
        pixelBlocks<Act, 2>(g, rows, tapStart, w, bias, o, ow, y);
        block += 2;
      } else {
        pixelBlocks<Act, 1>(g, rows, tapStart, w, bias, o, ow, y);
        block += 1;
      }
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
  RowRing ring(g, rows, width);
  const float *rowPtrs[kStemMaxInputs * kMaxTaps];
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    ring.moveTo(x, oh, rowPtrs);
    for (int64_t o0 = 0; o0 < g.outC; o0 += kLanes)
      rowBlock<Act>(g, rowPtrs, width, packed + o0 / kLanes * blockFloats, bias,
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
