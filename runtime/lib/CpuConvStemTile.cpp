//===- CpuConvStemTile.cpp - a wide window over a few input channels ------===//
//
// resnet18's first convolution, 7x7 stride 2 from 3 to 64 channels: as a
// GEMM (CpuConv.cpp's shifted path) its 147-deep im2col panels are packed
// from stride-phase planes for every tile, and CpuConvStem.cpp's row
// kernel (16 pixels in a register, the weights broadcast) would load as
// often as it multiplies. Here output channels are the lanes instead (as
// ONNX Runtime's NCHWc kernels do): a tile of 14 output pixels x 32
// channels keeps 28 sums in registers and runs each tap as 2 weight
// loads, 14 broadcasts of input pixels and 28 FMAs (the direct 3x3
// tile's ratio, CpuConvDirect.cpp). The input pixels are read in place
// from zero-padded copies of the rows a band of output rows reads (each
// input row copied once a band; no phase split: a broadcast takes any
// address). The sums of one output row go to a [pixel][channel] stage,
// then 16x16 blocks of it are transposed in registers into y's channel
// rows, bias and relu applied on the way.
//
// Why y's lines are prefetched: without it, at batch 32 (y, 103 MB, past
// the caches) each image took 1.5x its batch-1 time, the row's burst of
// stores to 64 planes waiting on their misses; the inner loop alone ran
// as fast in both. (The same gap was seen last session in a direct 7x7
// kernel's model runs against its standalone loop.)
//
//===----------------------------------------------------------------------===//

#include "CpuConvStemTile.h"
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
constexpr int64_t kWidePixels = 14, kWideChannels = 32, kWideBandRows = 8;

/// The calling thread's band of input rows and its stage.
thread_local ScratchBuffer bandAndStage;

bool haveAvx512() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return have;
}

template <int Act> EMBER_TARGET_AVX512 inline __m512 activate(__m512 v) {
  if constexpr (Act == EMBER_GEMM_ACT_RELU)
    return _mm512_max_ps(v, _mm512_setzero_ps());
  return v;
}

/// Output columns the tiles compute (whole tiles of kWidePixels).
int64_t wideColumns(const StemGeometry &g) {
  return (g.outW + kWidePixels - 1) / kWidePixels * kWidePixels;
}

/// Floats per padded input row: every tile's reads stay inside.
int64_t wideRowWidth(const StemGeometry &g) {
  return std::max(g.inW + 2 * g.padW, (wideColumns(g) - 1) * g.strideW + g.kW);
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
void buildBand(const StemGeometry &g, const float *x, int64_t ih0, int64_t rows,
               int64_t width, int64_t channelFloats, float *band) {
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
      for (int64_t kh = 0; kh < g.kH; ++kh, row += width, w += kWideChannels) {
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
transpose16(const float *src, int64_t srcRow, __m512 out[kLanes]) {
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

bool stemTileApplies(const StemGeometry &g, int activation) {
  return haveAvx512() && g.inC >= 1 && g.inC <= kStemMaxInputs &&
         g.kH * g.kW > 9 && g.outC >= kStemTileMinOutputs &&
         g.outC <= kStemTileMaxOutputs && (g.strideW == 1 || g.strideW == 2) &&
         g.strideH >= 1 && g.padH >= 0 && g.padW >= 0 && g.outW >= 1 &&
         (activation == EMBER_GEMM_ACT_NONE ||
          activation == EMBER_GEMM_ACT_RELU);
}

int64_t stemTilePackedSize(const StemGeometry &g) {
  return wideChannels(g) * g.inC * g.kH * g.kW;
}

void packStemTileWeights(const StemGeometry &g, const float *w, float *packed) {
  const int64_t taps = g.inC * g.kH * g.kW;
  std::fill(packed, packed + stemTilePackedSize(g), 0.0f);
  for (int64_t o = 0; o < g.outC; ++o)
    for (int64_t c = 0; c < g.inC; ++c)
      for (int64_t kh = 0; kh < g.kH; ++kh)
        for (int64_t kw = 0; kw < g.kW; ++kw) {
          const int64_t t = (kw * g.inC + c) * g.kH + kh;
          packed[(o / kWideChannels * taps + t) * kWideChannels +
                 o % kWideChannels] =
              w[((o * g.inC + c) * g.kH + kh) * g.kW + kw];
        }
}

bool stemTileRows(const StemGeometry &g, const float *x, const float *packed,
                  const float *bias, int activation, float *y, int64_t oh0,
                  int64_t oh1) {
  float *scratch = bandAndStage.get(wideScratch(g));
  if (!scratch)
    return false;
  if (activation == EMBER_GEMM_ACT_RELU)
    wideRows<EMBER_GEMM_ACT_RELU>(g, x, packed, bias, y, oh0, oh1, scratch);
  else
    wideRows<EMBER_GEMM_ACT_NONE>(g, x, packed, bias, y, oh0, oh1, scratch);
  return true;
}

} // namespace conv
} // namespace ember
