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

//===----------------------------------------------------------------------===//
// Wide windows (more than kMaxTaps taps: resnet18's 7x7 stride-2 stem).
//
// Per tap the row kernel above loads 16 pixels and broadcasts 16 weights:
// with 49 taps and 64 outputs that is as many loads as FMAs. Here output
// channels are the lanes instead (as ONNX Runtime's NCHWc kernels do): a
// tile of 14 output pixels x 32 channels keeps 28 sums in registers and
// runs each tap as 2 weight loads, 14 broadcasts of input pixels and 28
// FMAs (the direct 3x3 tile's ratio, CpuConvDirect.cpp). The input pixels
// are read in place from zero-padded copies of the rows a band of output
// rows reads (each input row copied once a band; no phase split: a
// broadcast takes any address). The sums of one output row go to a
// [pixel][channel] stage, then 16x16 blocks of it are transposed in
// registers into y's channel rows, bias and activation applied on the way.
//===----------------------------------------------------------------------===//

constexpr int64_t kWidePixels = 14, kWideChannels = 32, kWideBandRows = 8;

bool isWide(const StemGeometry &g) { return g.kH * g.kW > kMaxTaps; }

/// Output columns the tiles compute (whole tiles of kWidePixels).
int64_t wideColumns(const StemGeometry &g) {
  return (g.outW + kWidePixels - 1) / kWidePixels * kWidePixels;
}

/// Floats per padded input row: every tile's reads stay inside.
int64_t wideRowWidth(const StemGeometry &g) {
  return std::max(g.inW + 2 * g.padW,
                  (wideColumns(g) - 1) * g.strideW + g.kW);
}

int64_t wideBandRows(const StemGeometry &g) {
  return (kWideBandRows - 1) * g.strideH + g.kH;
}

/// Output channels rounded up to whole tiles.
int64_t wideChannels(const StemGeometry &g) {
  return (g.outC + kWideChannels - 1) / kWideChannels * kWideChannels;
}

/// The stage's pixels: whole tiles and whole 16x16 transpose blocks.
int64_t wideStagePixels(const StemGeometry &g) {
  return (wideColumns(g) + kLanes - 1) / kLanes * kLanes;
}

int64_t wideScratch(const StemGeometry &g) {
  return g.inC * wideBandRows(g) * wideRowWidth(g) +
         wideStagePixels(g) * wideChannels(g);
}

/// Input rows [ih0, ih0 + rows) of every channel, zero-padded (rows outside
/// the image are zeros; columns start padW to the left), into `band`
/// (channels channelFloats apart, rows `width`).
void buildBand(const StemGeometry &g, const float *x, int64_t ih0,
               int64_t rows, int64_t width, int64_t channelFloats,
               float *band) {
  for (int64_t c = 0; c < g.inC; ++c)
    for (int64_t r = 0; r < rows; ++r) {
      float *d = band + c * channelFloats + r * width;
      const int64_t ih = ih0 + r;
      if (ih < 0 || ih >= g.inH) {
        std::fill(d, d + width, 0.0f);
        continue;
      }
      std::fill(d, d + g.padW, 0.0f);
      std::memcpy(d + g.padW, x + c * g.xChannel + ih * g.xRow,
                  g.inW * sizeof(float));
      std::fill(d + g.padW + g.inW, d + width, 0.0f);
    }
}

/// Output pixels [ow0, ow0 + 14) of one row, channels [cb * 32, cb * 32 +
/// 32) into the stage ([pixel][wideChannels]). `rows` points at the band
/// row of the tile's first tap (channel 0, kh 0), column ow0 * S.
/// Spread over its taps, the tile prefetches for writing `lineCount` lines
/// of y at `lines`: the row's outputs leave the stage as a burst of
/// stores to 64 planes, which at batch 32 (y past the caches) stalled on
/// their misses (1.5x the batch-1 time per image before).
template <int S>
EMBER_TARGET_AVX512 __attribute__((target("prfchw"))) void
wideTile(const StemGeometry &g, const float *rows, int64_t channelFloats,
         int64_t width, const float *w, float *stage, int64_t stageRow,
         const char *const *lines, int64_t lineCount) {
  __m512 acc[kWidePixels][2];
#pragma GCC unroll 14
  for (int p = 0; p < kWidePixels; ++p)
    acc[p][0] = acc[p][1] = _mm512_setzero_ps();
  // Rows innermost: along kw, tap kw + S reads the floats tap kw read one
  // pixel on, and GCC kept them in registers across taps (spilling sums).
  int64_t line = 0;
  for (int64_t kw = 0; kw < g.kW; ++kw)
    for (int64_t c = 0; c < g.inC; ++c) {
      for (int64_t i = 0; i < 2 && line < lineCount; ++i, ++line)
        __builtin_prefetch(lines[line], 1, 3);
      const float *row = rows + c * channelFloats + kw;
      for (int64_t kh = 0; kh < g.kH; ++kh, row += width,
                   w += kWideChannels) {
        const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + kLanes);
#pragma GCC unroll 14
        for (int p = 0; p < kWidePixels; ++p) {
          const __m512 v = _mm512_set1_ps(row[S * p]);
          acc[p][0] = _mm512_fmadd_ps(v, w0, acc[p][0]);
          acc[p][1] = _mm512_fmadd_ps(v, w1, acc[p][1]);
        }
      }
    }
#pragma GCC unroll 14
  for (int p = 0; p < kWidePixels; ++p) {
    _mm512_storeu_ps(stage + p * stageRow, acc[p][0]);
    _mm512_storeu_ps(stage + p * stageRow + kLanes, acc[p][1]);
  }
}

/// The 16x16 block at `src` (16 rows `srcRow` floats apart) transposed:
/// out[j] holds column j of the block.
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline void
transpose16(const float *src, int64_t srcRow,
                                            __m512 out[kLanes]) {
  __m512 t[kLanes], u[kLanes];
#pragma GCC unroll 8
  for (int k = 0; k < kLanes; k += 2) {
    const __m512 a = _mm512_loadu_ps(src + k * srcRow),
                 b = _mm512_loadu_ps(src + (k + 1) * srcRow);
    t[k] = _mm512_unpacklo_ps(a, b);
    t[k + 1] = _mm512_unpackhi_ps(a, b);
  }
  // u[4k + j], 128-bit lane L: column 4L + j of rows 4k..4k+3.
#pragma GCC unroll 4
  for (int k = 0; k < kLanes; k += 4) {
    u[k] = _mm512_shuffle_ps(t[k], t[k + 2], 0x44);
    u[k + 1] = _mm512_shuffle_ps(t[k], t[k + 2], 0xEE);
    u[k + 2] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0x44);
    u[k + 3] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
  }
  // Lane L of u[j], u[4 + j], u[8 + j], u[12 + j] is column 4L + j.
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88),
                 v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD),
                 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88),
                 v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
    out[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    out[4 + j] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    out[8 + j] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    out[12 + j] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

/// The stage's row of outputs into y's channel rows at `y`, bias and
/// activation applied.
template <int Act>
EMBER_TARGET_AVX512 void storeStage(const StemGeometry &g, const float *stage,
                                    int64_t stageRow, const float *bias,
                                    float *y) {
  for (int64_t c0 = 0; c0 < g.outC; c0 += kLanes)
    for (int64_t ow = 0; ow < g.outW; ow += kLanes) {
      __m512 columns[kLanes];
      transpose16(stage + ow * stageRow + c0, stageRow, columns);
      const __mmask16 store = static_cast<__mmask16>(
          (1u << std::min<int64_t>(kLanes, g.outW - ow)) - 1);
      const int64_t channels = std::min<int64_t>(kLanes, g.outC - c0);
      for (int64_t j = 0; j < channels; ++j) {
        __m512 v = columns[j];
        if (bias)
          v += bias[c0 + j];
        _mm512_mask_storeu_ps(y + (c0 + j) * g.yChannel + ow, store,
                              activate<Act>(v));
      }
    }
}

template <int Act, int S>
EMBER_TARGET_AVX512 void wideRowsWith(const StemGeometry &g, const float *x,
                                      const float *packed, const float *bias,
                                      float *y, int64_t oh0, int64_t oh1,
                                      float *scratch) {
  const int64_t width = wideRowWidth(g), bandRows = wideBandRows(g);
  const int64_t channelFloats = bandRows * width, columns = wideColumns(g);
  const int64_t stageRow = wideChannels(g);
  const int64_t blockFloats = g.inC * g.kH * g.kW * kWideChannels;
  float *band = scratch, *stage = scratch + g.inC * channelFloats;
  // y's lines of one output row, prefetched by its first 3/4 of tiles.
  const char *lines[kStemMaxOutputs * 16];
  const int64_t tiles = stageRow / kWideChannels * (columns / kWidePixels);
  const int64_t rowLines = std::min<int64_t>(
      g.outC * ((g.outW * 4 + 63) / 64 + 1), std::size(lines));
  const int64_t perTile =
      std::min((rowLines + tiles * 3 / 4) / std::max<int64_t>(tiles * 3 / 4, 1),
               2 * g.kW * g.inC);
  for (int64_t b0 = oh0; b0 < oh1; b0 += kWideBandRows) {
    const int64_t b1 = std::min(oh1, b0 + kWideBandRows);
    buildBand(g, x, b0 * g.strideH - g.padH, (b1 - b0 - 1) * g.strideH + g.kH,
              width, channelFloats, band);
    for (int64_t oh = b0; oh < b1; ++oh) {
      const float *rows = band + (oh - b0) * g.strideH * width;
      float *yRow = y + oh * g.yRow;
      int64_t count = 0;
      for (int64_t o = 0; o < g.outC; ++o) {
        const uintptr_t first =
            reinterpret_cast<uintptr_t>(yRow + o * g.yChannel) & ~uintptr_t{63};
        const uintptr_t end =
            reinterpret_cast<uintptr_t>(yRow + o * g.yChannel + g.outW);
        for (uintptr_t a = first; a < end && count < rowLines; a += 64)
          lines[count++] = reinterpret_cast<const char *>(a);
      }
      int64_t next = 0;
      for (int64_t cb = 0; cb < stageRow; cb += kWideChannels)
        for (int64_t ow = 0; ow < columns; ow += kWidePixels) {
          const int64_t n = std::clamp<int64_t>(count - next, 0, perTile);
          wideTile<S>(g, rows + ow * S, channelFloats, width,
                      packed + cb / kWideChannels * blockFloats,
                      stage + ow * stageRow + cb, stageRow, lines + next, n);
          next += n;
        }
      storeStage<Act>(g, stage, stageRow, bias, y + oh * g.yRow);
    }
  }
}

template <int Act>
void wideRows(const StemGeometry &g, const float *x, const float *packed,
              const float *bias, float *y, int64_t oh0, int64_t oh1,
              float *scratch) {
  if (g.strideW == 1)
    wideRowsWith<Act, 1>(g, x, packed, bias, y, oh0, oh1, scratch);
  else
    wideRowsWith<Act, 2>(g, x, packed, bias, y, oh0, oh1, scratch);
}

} // namespace

bool stemActivation(int activation) {
  return activation == EMBER_GEMM_ACT_NONE ||
         activation == EMBER_GEMM_ACT_RELU ||
         activation == EMBER_GEMM_ACT_HARDSIGMOID ||
         activation == EMBER_GEMM_ACT_HARDSWISH;
}

bool stemApplies(const StemGeometry &g) {
  const int64_t maxOutputs = isWide(g) ? kStemMaxOutputs : kNarrowMaxOutputs;
  return haveAvx512() && g.inC >= 1 && g.inC <= kStemMaxInputs &&
         g.kH >= 1 && g.kW >= 1 && g.outC >= 1 && g.outC <= maxOutputs &&
         (g.strideW == 1 || g.strideW == 2) && g.strideH >= 1 &&
         g.padH >= 0 && g.padW >= 0 && g.outW >= 1;
}

int64_t stemPackedSize(const StemGeometry &g) {
  if (isWide(g))
    return wideChannels(g) * g.inC * g.kH * g.kW;
  return (g.outC + kLanes - 1) / kLanes * g.inC * g.kH * g.kW * kLanes;
}

void packStemWeights(const StemGeometry &g, const float *w, float *packed) {
  const int64_t taps = g.inC * g.kH * g.kW;
  std::fill(packed, packed + stemPackedSize(g), 0.0f);
  if (isWide(g)) { // blocks of 32 outputs, each [kW, inC, kH, 32]
    for (int64_t o = 0; o < g.outC; ++o)
      for (int64_t c = 0; c < g.inC; ++c)
        for (int64_t kh = 0; kh < g.kH; ++kh)
          for (int64_t kw = 0; kw < g.kW; ++kw) {
            const int64_t t = (kw * g.inC + c) * g.kH + kh;
            packed[(o / kWideChannels * taps + t) * kWideChannels +
                   o % kWideChannels] = w[((o * g.inC + c) * g.kH + kh) * g.kW + kw];
          }
    return;
  }
  for (int64_t o = 0; o < g.outC; ++o)
    for (int64_t t = 0; t < taps; ++t)
      packed[(o / kLanes * taps + t) * kLanes + o % kLanes] = w[o * taps + t];
}

bool stemRows(const StemGeometry &g, const float *x, const float *packed,
              const float *bias, int activation, float *y, int64_t oh0,
              int64_t oh1) {
  if (isWide(g)) {
    float *scratch = phaseRows.get(wideScratch(g));
    if (!scratch)
      return false;
    switch (activation) {
    case EMBER_GEMM_ACT_RELU:
      wideRows<EMBER_GEMM_ACT_RELU>(g, x, packed, bias, y, oh0, oh1, scratch);
      break;
    case EMBER_GEMM_ACT_HARDSIGMOID:
      wideRows<EMBER_GEMM_ACT_HARDSIGMOID>(g, x, packed, bias, y, oh0, oh1,
                                           scratch);
      break;
    case EMBER_GEMM_ACT_HARDSWISH:
      wideRows<EMBER_GEMM_ACT_HARDSWISH>(g, x, packed, bias, y, oh0, oh1,
                                         scratch);
      break;
    default:
      wideRows<EMBER_GEMM_ACT_NONE>(g, x, packed, bias, y, oh0, oh1, scratch);
    }
    return true;
  }
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
