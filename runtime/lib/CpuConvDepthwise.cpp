//===- CpuConvDepthwise.cpp - direct depthwise convolution ----------------===//
//
// One plane at a time (small planes in groups). With AVX-512, MobileNet's
// outputs of 7 columns (7x7, stride 1 or 2, 3x3 or 5x5 taps) go 16 planes
// at a time, channel-blocked: transposed into a padded scratch plane of
// 16-channel pixels, each tap of each output one aligned load and FMA
// (avx512Blocked). Other small planes, stride 1 or 2 from a plane twice
// the output's size (split first into its 4 phase planes), are one flat
// row of outputs, 16 of them (several image rows) per masked load of a
// tap (avx512Flat; two planes at once, so that 8 FMA chains overlap).
// Otherwise, for contiguous input rows and a column stride of 1 or 2
// (every depthwise layer of MobileNet and EfficientNet), the taps read
// the input in place: each output vector of 16 columns is kH * kW FMAs of
// a broadcast tap by a masked load (stride 2: the even lanes of one or
// two loads, one permute), the lanes left or right of the plane masked to
// zero, the rows above or below it read from a row of zeros; up to 8
// output rows at a time share each broadcast, 14 for square 3x3 and 5x5
// taps with equal strides, whose input rows are also loaded once per tap
// column for all the output rows they feed (avx512SharedRows); 3x3
// stride 2 splits each input row into its even and odd columns once for
// its three tap columns (avx512Split3Rows). The
// epilogue (bias, activation) and, for a squeeze-and-excitation pool, the
// plane's sum are applied to the outputs in their registers.
// Otherwise (other strides, strided rows, the portable path) the input
// plane is first copied once into scratch, padded (so no tap needs a
// bounds test) and split by column into `strideW` phases (so that, for
// any stride, the inputs of consecutive output columns at one tap are
// consecutive floats), then four rows of outputs at a time are kept in
// registers. The AVX-512 code is compiled through a target attribute (as
// GemmMicroKernels.cpp does), the portable one is left to the compiler's
// vectorizer.
//
//===----------------------------------------------------------------------===//

#include "CpuConvDepthwise.h"
#include "ember/Runtime/GemmEpilogue.h"

#include <immintrin.h>

#include <algorithm>
#include <type_traits>

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
  for (int64_t p = 0; p < sw; ++p) {
    // Columns [lo, hi) of phase p read the input (ix = j * sw + p - padW
    // within [0, inW)); the others are padding.
    int64_t first = g.padW - p;
    int64_t lo = first > 0 ? (first + sw - 1) / sw : 0;
    int64_t hi = (g.inW + first + sw - 1) / sw;
    lo = std::min(lo, ph.width);
    hi = std::clamp(hi, lo, ph.width);
    for (int64_t r = 0; r < ph.rows; ++r) {
      int64_t ih = r - g.padH;
      float *dst = scratch + (p * ph.rows + r) * ph.width;
      if (ih < 0 || ih >= g.inH) {
        std::fill(dst, dst + ph.width, 0.0f);
        continue;
      }
      const float *row = x + ih * xRow + (lo * sw - first) * xCol;
      std::fill(dst, dst + lo, 0.0f);
      if (sw == 1 && xCol == 1)
        std::copy(row, row + (hi - lo), dst + lo);
      else
        for (int64_t j = lo; j < hi; ++j)
          dst[j] = row[(j - lo) * sw * xCol];
      std::fill(dst + hi, dst + ph.width, 0.0f);
    }
  }
}

/// Where each tap reads for output (0, 0), row-major over (kh, kw).
void tapOffsets(const PlaneGeometry &g, const Phases &ph, int64_t *offsets) {
  for (int64_t kh = 0; kh < g.kH; ++kh)
    for (int64_t kw = 0; kw < g.kW; ++kw) {
      int64_t column = kw * g.dilationW;
      int64_t phase = column % g.strideW;
      int64_t r = kh * g.dilationH;
      offsets[kh * g.kW + kw] =
          (phase * ph.rows + r) * ph.width + column / g.strideW;
    }
}

void portablePlane(const PlaneGeometry &g, const Phases &ph,
                   const float *scratch, const int64_t *offsets,
                   const float *taps, float *y, int64_t yRow) {
  const int64_t count = g.kH * g.kW;
  for (int64_t oh = 0; oh < g.outH; ++oh) {
    float *out = y + oh * yRow;
    const float *base = scratch + oh * g.strideH * ph.width;
    std::fill(out, out + g.outW, 0.0f);
    for (int64_t t = 0; t < count; ++t) {
      const float *src = base + offsets[t];
      float weight = taps[t];
      for (int64_t ow = 0; ow < g.outW; ++ow)
        out[ow] += weight * src[ow];
    }
  }
}

#define EMBER_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

/// ROWS output rows from `oh`, 16 columns at a time (the last ones masked).
template <int ROWS>
EMBER_TARGET_AVX512 void
avx512Rows(const PlaneGeometry &g, const Phases &ph, const float *scratch,
           const int64_t *offsets, const float *taps, float *y, int64_t yRow,
           int64_t oh) {
  const int64_t rowStep = g.strideH * ph.width, count = g.kH * g.kW;
  const float *base = scratch + oh * rowStep;
  for (int64_t ow = 0; ow < g.outW; ow += 16) {
    int64_t left = std::min<int64_t>(16, g.outW - ow);
    __mmask16 mask = static_cast<__mmask16>((1u << left) - 1u);
    __m512 acc[ROWS];
#pragma GCC unroll 4
    for (int i = 0; i < ROWS; ++i)
      acc[i] = _mm512_setzero_ps();
    for (int64_t t = 0; t < count; ++t) {
      const float *src = base + offsets[t] + ow;
      __m512 weight = _mm512_set1_ps(taps[t]);
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

/// Lanes l of a 16-float load from column `base` with 0 <= base + l < limit.
inline __mmask16 columnsInside(int64_t base, int64_t limit) {
  int64_t lo = std::clamp<int64_t>(-base, 0, 16);
  int64_t hi = std::clamp<int64_t>(limit - base, lo, 16);
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/// fillPhases for contiguous input rows and strideW 1 or 2: each 16 floats
/// of a padded row are one or two masked loads (lanes in the padding read
/// nothing and are zero; masked-out lanes never fault) and, for stride 2,
/// one permute that picks the phase's columns. At 7x7 or 14x14 the plain
/// fill's small copies and memsets cost more than the FMAs.
EMBER_TARGET_AVX512 void avx512FillPhases(const PlaneGeometry &g,
                                          const Phases &ph, const float *x,
                                          int64_t xRow, float *scratch) {
  const int64_t sw = g.strideW;
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                          20, 22, 24, 26, 28, 30);
  // Rows of the plane as addresses, not pointers: a masked load's address
  // may lie before the row (its lanes there are masked out).
  const uintptr_t origin = reinterpret_cast<uintptr_t>(x);
  auto at = [](uintptr_t row, int64_t column) {
    return reinterpret_cast<const float *>(row + column * sizeof(float));
  };
  for (int64_t p = 0; p < sw; ++p)
    for (int64_t r = 0; r < ph.rows; ++r) {
      float *dst = scratch + (p * ph.rows + r) * ph.width;
      int64_t ih = r - g.padH;
      bool inside = ih >= 0 && ih < g.inH;
      uintptr_t row = origin + ih * xRow * sizeof(float);
      for (int64_t j = 0; j < ph.width; j += 16) {
        __mmask16 store = static_cast<__mmask16>(
            (1u << std::min<int64_t>(16, ph.width - j)) - 1u);
        __m512 v = _mm512_setzero_ps();
        if (inside) {
          // Lane l reads input column (j + l) * sw + p - padW.
          int64_t base = j * sw + p - g.padW;
          if (sw == 1) {
            v = _mm512_maskz_loadu_ps(columnsInside(base, g.inW),
                                      at(row, base));
          } else {
            __m512 lo = _mm512_maskz_loadu_ps(columnsInside(base, g.inW),
                                              at(row, base));
            __m512 hi = _mm512_maskz_loadu_ps(
                columnsInside(base + 16, g.inW), at(row, base + 16));
            v = _mm512_permutex2var_ps(lo, evens, hi);
          }
        }
        _mm512_mask_storeu_ps(dst + j, store, v);
      }
    }
}

EMBER_TARGET_AVX512 void avx512Plane(const PlaneGeometry &g, const Phases &ph,
                                     const float *scratch,
                                     const int64_t *offsets, const float *taps,
                                     float *y, int64_t yRow) {
  int64_t oh = 0;
  for (; oh + 4 <= g.outH; oh += 4)
    avx512Rows<4>(g, ph, scratch, offsets, taps, y, yRow, oh);
  // The last 1 to 3 rows together, not one FMA chain per row.
  switch (g.outH - oh) {
  case 3:
    avx512Rows<3>(g, ph, scratch, offsets, taps, y, yRow, oh);
    break;
  case 2:
    avx512Rows<2>(g, ph, scratch, offsets, taps, y, yRow, oh);
    break;
  case 1:
    avx512Rows<1>(g, ph, scratch, offsets, taps, y, yRow, oh);
    break;
  default:
    break;
  }
}

/// The widest kernel the direct (copy-free) path takes: one column mask
/// per tap column, per 16 output columns.
constexpr int64_t kDirectMaxKW = 16;

/// A row of zeros that the direct path reads in place of input rows above
/// or below the plane (so no tap needs a per-row mask or branch).
constexpr int64_t kZeroRow = 1024;
alignas(64) const float zeroRow[kZeroRow + 32] = {};

/// How the direct path loads the 16 inputs of a tap for 16 output
/// columns: strideW 1, one load; strideW 2, the even lanes of one load
/// (at most 8 output columns) or of two.
enum class Columns { Unit, EvenOfOne, EvenOfTwo };

template <Columns MODE>
EMBER_TARGET_AVX512 inline __m512 loadColumns(uintptr_t at, __mmask16 first,
                                              __mmask16 second) {
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                          20, 22, 24, 26, 28, 30);
  const float *p = reinterpret_cast<const float *>(at);
  __m512 lo = _mm512_maskz_loadu_ps(first, p);
  if (MODE == Columns::Unit)
    return lo;
  if (MODE == Columns::EvenOfOne) // merge-masked: no undefined source
    return _mm512_mask_permutexvar_ps(lo, 0xffff, evens, lo);
  return _mm512_permutex2var_ps(lo, evens, _mm512_maskz_loadu_ps(second, p + 16));
}

/// Whether finishAvx512 applies `e`'s activation.
bool directEpilogue(const PlaneEpilogue &e) {
  return e.activation == EMBER_GEMM_ACT_NONE ||
         e.activation == EMBER_GEMM_ACT_RELU ||
         e.activation == EMBER_GEMM_ACT_HARDSIGMOID ||
         e.activation == EMBER_GEMM_ACT_HARDSWISH;
}

/// clamp(x + 3, 0, 6) * (1/6); the comparisons are false for NaN, which
/// stays.
EMBER_TARGET_AVX512 inline __m512 hardSigmoidAvx512(__m512 x) {
  __m512 t = x + 3.0f;
  t = t > 6.0f ? __m512{} + 6.0f : t;
  t = t < 0.0f ? __m512{} : t;
  return t * (1.0f / 6.0f);
}

/// The activation `activation` of v, as GemmEpilogue.cpp computes it
/// (the same results bit for bit): relu x < 0 ? 0 : x, hardsigmoid,
/// hardswish x * hardsigmoid(x).
EMBER_TARGET_AVX512 inline __m512 activateAvx512(__m512 v, int activation) {
  switch (activation) {
  case EMBER_GEMM_ACT_RELU:
    return v < 0.0f ? __m512{} : v;
  case EMBER_GEMM_ACT_HARDSIGMOID:
    return hardSigmoidAvx512(v);
  case EMBER_GEMM_ACT_HARDSWISH:
    return v * hardSigmoidAvx512(v);
  default:
    return v;
  }
}

/// v + bias, then the activation.
EMBER_TARGET_AVX512 inline __m512 finishAvx512(__m512 v,
                                               const PlaneEpilogue &e) {
  if (e.hasBias)
    v += e.bias;
  return activateAvx512(v, e.activation);
}

/// The lanes of `v` that `store` keeps, summed (the plane's sum, for
/// PlaneEpilogue::sum).
EMBER_TARGET_AVX512 inline float storedSum(__m512 v, __mmask16 store) {
  // Through memory, once per block (GCC 12 warns on _mm512_reduce_add_ps's
  // undefined-vector extracts).
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, _mm512_maskz_mov_ps(store, v));
  float sum = 0;
  for (float lane : lanes)
    sum += lane;
  return sum;
}

/// Rows [oh, oh + ROWS) of the 16 output columns from `ow`, out of their
/// accumulators: the epilogue applied, the lanes `store` keeps added to the
/// plane's sum (when it asks for one: `sum` points to 16 lane sums, which
/// depthwisePlane adds up once per plane; a horizontal sum per block held
/// f1's kernel a quarter of its time) and written to y.
template <int ROWS>
EMBER_TARGET_AVX512 inline void
storeRowsAvx512(__m512 (&acc)[ROWS], float *y, int64_t yRow, int64_t oh,
                int64_t ow, __mmask16 store, const PlaneEpilogue *epilogue) {
  if (epilogue) {
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i)
      acc[i] = finishAvx512(acc[i], *epilogue);
    if (epilogue->sum) {
      __m512 total = _mm512_setzero_ps();
#pragma GCC unroll 16
      for (int i = 0; i < ROWS; ++i)
        total += acc[i];
      _mm512_store_ps(epilogue->sum, _mm512_load_ps(epilogue->sum) +
                                         _mm512_maskz_mov_ps(store, total));
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i)
    _mm512_mask_storeu_ps(y + (oh + i) * yRow + ow, store, acc[i]);
}

/// ROWS output rows from `oh` for the direct path (strideW 1 or 2,
/// contiguous input rows): the taps read the input itself, lanes left or
/// right of the plane masked to zero (`first`/`second`: per tap column,
/// for the 16 output columns from `ow`, the masks of its one or two
/// loads). When EDGE, tap rows above or below the plane read zeroRow (no
/// per-FMA mask or branch); interior row blocks have none.
template <int ROWS, bool EDGE, Columns MODE>
EMBER_TARGET_AVX512 inline void
avx512DirectRows(const PlaneGeometry &g, uintptr_t x, int64_t xRow,
                 const float *taps, float *y, int64_t yRow, int64_t oh,
                 int64_t ow, const __mmask16 *first, const __mmask16 *second,
                 __mmask16 store, const PlaneEpilogue *epilogue) {
  __m512 acc[ROWS];
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; ++i)
    acc[i] = _mm512_setzero_ps();
  const int64_t rowBytes = xRow * static_cast<int64_t>(sizeof(float));
  const int64_t kH = g.kH, kW = g.kW, strideH = g.strideH;
  const int64_t left =
      (ow * g.strideW - g.padW) * static_cast<int64_t>(sizeof(float));
  const int64_t tapStep = g.dilationW * static_cast<int64_t>(sizeof(float));
  const uintptr_t zeros = reinterpret_cast<uintptr_t>(zeroRow) + left;
  for (int64_t kh = 0; kh < kH; ++kh) {
    // Input row of output row oh + i: top + i * strideH.
    int64_t top = oh * strideH - g.padH + kh * g.dilationH;
    uintptr_t source[ROWS];
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; ++i) {
      int64_t ih = top + i * strideH;
      source[i] = !EDGE || (ih >= 0 && ih < g.inH) ? x + left + ih * rowBytes
                                                    : zeros;
    }
    for (int64_t kw = 0; kw < kW; ++kw) {
      __m512 weight = _mm512_set1_ps(taps[kh * kW + kw]);
      __mmask16 lo = first[kw], hi = second[kw];
      int64_t shift = kw * tapStep;
#pragma GCC unroll 8
      for (int i = 0; i < ROWS; ++i)
        acc[i] = _mm512_fmadd_ps(
            weight, loadColumns<MODE>(source[i] + shift, lo, hi), acc[i]);
    }
  }
  storeRowsAvx512<ROWS>(acc, y, yRow, oh, ow, store, epilogue);
}

/// avx512DirectRows for equal row and column strides S (1 or 2), no
/// dilation and K x K taps: each input row the block reads is loaded once
/// per tap column and serves every output row it is a tap row of (input
/// row r of the block is tap row r - i * S of output row i), the tap
/// column's K weights held in registers: (ROWS - 1) * S + K loads per
/// tap column instead of ROWS * K (the loads and, at stride 2, their
/// permutes, not the FMAs, bounded the per-row form). The input rows'
/// addresses (zeroRow above or below the plane) are found once per block,
/// not per tap column, and the tap columns are unrolled.
template <int ROWS, int K, int S, Columns MODE>
EMBER_TARGET_AVX512 inline void
avx512SharedRows(const PlaneGeometry &g, uintptr_t x, int64_t xRow,
                 const float *taps, float *y, int64_t yRow, int64_t oh,
                 int64_t ow, const __mmask16 *first, const __mmask16 *second,
                 __mmask16 store, const PlaneEpilogue *epilogue) {
  constexpr int kInputs = (ROWS - 1) * S + K;
  __m512 acc[ROWS];
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i)
    acc[i] = _mm512_setzero_ps();
  const int64_t floatBytes = static_cast<int64_t>(sizeof(float));
  const int64_t rowBytes = xRow * floatBytes;
  const int64_t left = (ow * S - g.padW) * floatBytes;
  const int64_t top = oh * S - g.padH;
  const uintptr_t zeros = reinterpret_cast<uintptr_t>(zeroRow) + left;
  uintptr_t source[kInputs];
#pragma GCC unroll 32
  for (int r = 0; r < kInputs; ++r) {
    int64_t ih = top + r;
    source[r] = ih >= 0 && ih < g.inH ? x + left + ih * rowBytes : zeros;
  }
#pragma GCC unroll 8
  for (int kw = 0; kw < K; ++kw) {
    __m512 weight[K];
#pragma GCC unroll 8
    for (int kh = 0; kh < K; ++kh)
      weight[kh] = _mm512_set1_ps(taps[kh * K + kw]);
    const __mmask16 lo = first[kw], hi = second[kw];
    const int64_t shift = kw * floatBytes;
#pragma GCC unroll 32
    for (int r = 0; r < kInputs; ++r) {
      __m512 v = loadColumns<MODE>(source[r] + shift, lo, hi);
#pragma GCC unroll 16
      for (int i = 0; i < ROWS; ++i) {
        int kh = r - i * S;
        if (kh >= 0 && kh < K)
          acc[i] = _mm512_fmadd_ps(weight[kh], v, acc[i]);
      }
    }
  }
  storeRowsAvx512<ROWS>(acc, y, yRow, oh, ow, store, epilogue);
}

/// The direct path's masks for the 16 output columns from `ow`: which of
/// them are stored, and per tap column the lanes of its one or two loads
/// that output lanes use, inside the plane.
struct ColumnMasks {
  __mmask16 store;
  int64_t span; // input columns the 16 outputs span
  __mmask16 first[kDirectMaxKW], second[kDirectMaxKW];

  ColumnMasks(const PlaneGeometry &g, int64_t ow) {
    const int64_t sw = g.strideW;
    int64_t count = std::min<int64_t>(16, g.outW - ow);
    store = static_cast<__mmask16>((1u << count) - 1u);
    span = (count - 1) * sw + 1;
    __mmask16 used =
        static_cast<__mmask16>((1u << std::min<int64_t>(16, span)) - 1u);
    for (int64_t kw = 0; kw < g.kW; ++kw) {
      int64_t column = ow * sw - g.padW + kw * g.dilationW;
      first[kw] = columnsInside(column, g.inW) & used;
      second[kw] = span > 16 ? columnsInside(column + 16, g.inW) &
                                   static_cast<__mmask16>((1u << (span - 16)) - 1u)
                             : 0;
    }
  }
};

/// The input rows the next row block of the direct path adds to this
/// block's, prefetched into L2 a share per column step of this block; for
/// a plane's last block, as many rows past the plane (the first rows of
/// the plane after it, where a caller's next plane lies: a hint, it may
/// lie elsewhere, and a prefetch never faults). At batch 32 the planes
/// come from L3 (or memory), and the hardware prefetchers did not follow
/// the blocks' row-by-row reads of 16 columns at a time: mobilenet's f1,
/// f2 and f3 (3x3 from 112x112, 56x56 and 28x28) ran 10-20% faster with
/// them. Planes of one block prefetch nothing: f4 (5x5 stride 2 from
/// 28x28; the next plane whole, in one burst) ran ~15% slower at batch 1.
struct RowsAhead {
  const char *at;
  int64_t bytes, steps, done = 0, step = 0;

  /// For the block of `rows` output rows from `oh` of `g`, its input rows
  /// `xRow` floats apart from x.
  RowsAhead(const PlaneGeometry &g, uintptr_t x, int64_t xRow, int64_t oh,
            int64_t rows)
      : steps((g.outW + 15) / 16) {
    const int64_t first = (oh + rows - 1) * g.strideH - g.padH +
                          (g.kH - 1) * g.dilationH + 1;
    const int64_t end = rows < g.outH ? first + rows * g.strideH : first;
    const int64_t rowBytes = xRow * static_cast<int64_t>(sizeof(float));
    at = reinterpret_cast<const char *>(x + first * rowBytes);
    bytes = std::max<int64_t>(end - first, 0) * rowBytes;
  }

  /// The next column step's share.
  EMBER_TARGET_AVX512 void next() {
    const int64_t end = bytes * ++step / steps;
    for (; done < end; done += 64)
      _mm_prefetch(at + done, _MM_HINT_T1);
  }
};

/// Rows [oh, oh + ROWS) of the direct path, every 16 output columns.
template <int ROWS>
EMBER_TARGET_AVX512 void avx512DirectBlock(const PlaneGeometry &g,
                                           uintptr_t x, int64_t xRow,
                                           const float *taps, float *y,
                                           int64_t yRow, int64_t oh,
                                           const PlaneEpilogue *epilogue) {
  // Whether every tap row of these output rows lies inside the plane.
  int64_t top = oh * g.strideH - g.padH;
  int64_t bottom = (oh + ROWS - 1) * g.strideH - g.padH + (g.kH - 1) * g.dilationH;
  bool interior = top >= 0 && bottom < g.inH;
  RowsAhead ahead(g, x, xRow, oh, ROWS);
  for (int64_t ow = 0; ow < g.outW; ow += 16) {
    ahead.next();
    ColumnMasks m(g, ow);
#define EMBER_DIRECT_ROWS(EDGE, MODE)                                          \
  avx512DirectRows<ROWS, EDGE, MODE>(g, x, xRow, taps, y, yRow, oh, ow,       \
                                     m.first, m.second, m.store, epilogue)
    if (g.strideW == 1) {
      if (interior)
        EMBER_DIRECT_ROWS(false, Columns::Unit);
      else
        EMBER_DIRECT_ROWS(true, Columns::Unit);
    } else if (m.span <= 16) {
      if (interior)
        EMBER_DIRECT_ROWS(false, Columns::EvenOfOne);
      else
        EMBER_DIRECT_ROWS(true, Columns::EvenOfOne);
    } else {
      if (interior)
        EMBER_DIRECT_ROWS(false, Columns::EvenOfTwo);
      else
        EMBER_DIRECT_ROWS(true, Columns::EvenOfTwo);
    }
#undef EMBER_DIRECT_ROWS
  }
}

/// Whether avx512SharedRows takes `g`: 3x3 or 5x5 taps, equal strides (1
/// or 2), no dilation.
bool sharedFits(const PlaneGeometry &g) {
  return g.strideH == g.strideW && g.dilationH == 1 && g.dilationW == 1 &&
         g.kW == g.kH && (g.kH == 3 || g.kH == 5);
}

/// Rows [oh, oh + ROWS) of a sharedFits plane, every 16 output columns.
template <int ROWS>
EMBER_TARGET_AVX512 void avx512SharedBlock(const PlaneGeometry &g,
                                           uintptr_t x, int64_t xRow,
                                           const float *taps, float *y,
                                           int64_t yRow, int64_t oh,
                                           const PlaneEpilogue *epilogue) {
  RowsAhead ahead(g, x, xRow, oh, ROWS);
  for (int64_t ow = 0; ow < g.outW; ow += 16) {
    ahead.next();
    ColumnMasks m(g, ow);
#define EMBER_SHARED_ROWS(K, S, MODE)                                          \
  avx512SharedRows<ROWS, K, S, MODE>(g, x, xRow, taps, y, yRow, oh, ow,       \
                                     m.first, m.second, m.store, epilogue)
    if (g.strideW == 1)
      g.kH == 3 ? EMBER_SHARED_ROWS(3, 1, Columns::Unit)
                : EMBER_SHARED_ROWS(5, 1, Columns::Unit);
    else if (m.span <= 16)
      g.kH == 3 ? EMBER_SHARED_ROWS(3, 2, Columns::EvenOfOne)
                : EMBER_SHARED_ROWS(5, 2, Columns::EvenOfOne);
    else
      g.kH == 3 ? EMBER_SHARED_ROWS(3, 2, Columns::EvenOfTwo)
                : EMBER_SHARED_ROWS(5, 2, Columns::EvenOfTwo);
#undef EMBER_SHARED_ROWS
  }
}

/// Rows [oh, oh + ROWS) of a 3x3 stride-2 plane (sharedFits), 16 output
/// columns from `ow`: each input row's 33 columns are three masked loads,
/// split once into its even and odd columns (two permutes) and the evens
/// shifted by one (one valign): the three tap columns' inputs, for every
/// output row the input row is a tap row of. The shared-rows form took two
/// loads and a permute per tap column, and kept an address per input row
/// (29 for 14 rows) that did not fit in registers. Rows above or below the
/// plane are skipped, not read from zeroRow.
template <int ROWS>
EMBER_TARGET_AVX512 inline void
avx512Split3Rows(const PlaneGeometry &g, const float *x, int64_t xRow,
                 const __m512 *weight, float *y, int64_t yRow, int64_t oh,
                 int64_t ow, const PlaneEpilogue *epilogue) {
  constexpr int kInputs = (ROWS - 1) * 2 + 3;
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                          20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19,
                                         21, 23, 25, 27, 29, 31);
  const int64_t c0 = ow * 2 - g.padW, top = oh * 2 - g.padH;
  const __mmask16 a = columnsInside(c0, g.inW),
                  b = columnsInside(c0 + 16, g.inW),
                  c = columnsInside(c0 + 32, g.inW) & 1;
  // Addresses, not pointers: the loads' masked-out lanes may lie outside
  // the plane.
  const uintptr_t base = reinterpret_cast<uintptr_t>(x) +
                         (top * xRow + c0) * static_cast<int64_t>(sizeof(float));
  const int64_t rowBytes = xRow * static_cast<int64_t>(sizeof(float));
  __m512 acc[ROWS];
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; ++i)
    acc[i] = _mm512_setzero_ps();
#pragma GCC unroll 32
  for (int r = 0; r < kInputs; ++r) {
    int64_t ih = top + r;
    if (ih < 0 || ih >= g.inH)
      continue;
    const float *row = reinterpret_cast<const float *>(base + r * rowBytes);
    __m512 lo = _mm512_maskz_loadu_ps(a, row);
    __m512 hi = _mm512_maskz_loadu_ps(b, row + 16);
    __m512 last = _mm512_maskz_loadu_ps(c, row + 32);
    __m512 even = _mm512_permutex2var_ps(lo, evens, hi);
    __m512 tap[3] = {even, _mm512_permutex2var_ps(lo, odds, hi),
                     _mm512_castsi512_ps(_mm512_alignr_epi32(
                         _mm512_castps_si512(last), _mm512_castps_si512(even),
                         1))};
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; ++i) {
      int kh = r - 2 * i;
      if (kh >= 0 && kh < 3)
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; ++kw)
          acc[i] = _mm512_fmadd_ps(weight[kh * 3 + kw], tap[kw], acc[i]);
    }
  }
  const __mmask16 store = static_cast<__mmask16>(
      (1u << std::min<int64_t>(16, g.outW - ow)) - 1u);
  storeRowsAvx512<ROWS>(acc, y, yRow, oh, ow, store, epilogue);
}

/// Rows [oh, oh + ROWS) of a 3x3 stride-2 plane, every 16 output columns.
template <int ROWS>
EMBER_TARGET_AVX512 void avx512Split3Block(const PlaneGeometry &g,
                                           const float *x, int64_t xRow,
                                           const __m512 *weight, float *y,
                                           int64_t yRow, int64_t oh,
                                           const PlaneEpilogue *epilogue) {
  RowsAhead ahead(g, reinterpret_cast<uintptr_t>(x), xRow, oh, ROWS);
  for (int64_t ow = 0; ow < g.outW; ow += 16) {
    ahead.next();
    avx512Split3Rows<ROWS>(g, x, xRow, weight, y, yRow, oh, ow, epilogue);
  }
}

/// Calls f(std::integral_constant<int, R>{}) for a block of R = `rows`
/// rows, 1 to 8 (the block kernels are templates on their row count);
/// nothing for other counts.
template <typename F> void withRowCount(int64_t rows, F &&f) {
  switch (rows) {
  case 1: f(std::integral_constant<int, 1>{}); break;
  case 2: f(std::integral_constant<int, 2>{}); break;
  case 3: f(std::integral_constant<int, 3>{}); break;
  case 4: f(std::integral_constant<int, 4>{}); break;
  case 5: f(std::integral_constant<int, 5>{}); break;
  case 6: f(std::integral_constant<int, 6>{}); break;
  case 7: f(std::integral_constant<int, 7>{}); break;
  case 8: f(std::integral_constant<int, 8>{}); break;
  default: break;
  }
}

/// The plane without a padded copy (strideW 1 or 2, contiguous rows): at
/// 7x7 and 14x14 the copy cost as much as the FMAs. Rows go in blocks of
/// up to 8 of even size, one broadcast of a tap serving a whole block; a
/// sharedFits plane whose rows are a multiple of 14 (MobileNet's 56, 28
/// and 14) in blocks of 14: 14 accumulators keep more FMA chains in
/// flight (a 14x14 plane's 5x5 ran ~10% slower as two blocks of 7).
EMBER_TARGET_AVX512 void avx512DirectPlane(const PlaneGeometry &g,
                                           const float *x, int64_t xRow,
                                           const float *taps, float *y,
                                           int64_t yRow,
                                           const PlaneEpilogue *epilogue) {
  // Addresses, not pointers: a masked load's address may lie outside the
  // plane (its lanes there are masked out and never fault).
  uintptr_t origin = reinterpret_cast<uintptr_t>(x);
  const bool shared = sharedFits(g);
  int64_t blocks = (g.outH + 7) / 8;
  if (shared && g.strideW == 2 && g.kH == 3) {
    __m512 weight[9];
    for (int t = 0; t < 9; ++t)
      weight[t] = _mm512_set1_ps(taps[t]);
    for (int64_t b = 0, oh = 0; b < blocks; ++b) {
      int64_t end = g.outH * (b + 1) / blocks;
      withRowCount(end - oh, [&](auto rows) {
        avx512Split3Block<decltype(rows)::value>(g, x, xRow, weight, y, yRow,
                                                 oh, epilogue);
      });
      oh = end;
    }
    return;
  }
  if (shared && g.outH % 14 == 0) {
    for (int64_t oh = 0; oh < g.outH; oh += 14)
      avx512SharedBlock<14>(g, origin, xRow, taps, y, yRow, oh, epilogue);
    return;
  }
  for (int64_t b = 0, oh = 0; b < blocks; ++b) {
    int64_t end = g.outH * (b + 1) / blocks;
    withRowCount(end - oh, [&](auto rows) {
      constexpr int R = decltype(rows)::value;
      if (shared)
        avx512SharedBlock<R>(g, origin, xRow, taps, y, yRow, oh, epilogue);
      else
        avx512DirectBlock<R>(g, origin, xRow, taps, y, yRow, oh, epilogue);
    });
    oh = end;
  }
}

/// Small stride-1 planes as one flat row: with unit strides, no dilation
/// and input rows as wide as the output's (both contiguous), tap (kh, kw)
/// reads input element o + (kh - padH) * W + (kw - padW) for output o, so
/// 16 consecutive outputs (parts of several image rows) are one masked
/// load per tap. Per-lane masks drop the taps that fall left or right of
/// a lane's row, or above or below the plane. At 7x7 a vector per image
/// row used 7 of its 16 lanes; flat, a plane is 4 vectors (49 of 64).
///
/// Stride 2 from a plane exactly twice the output's size (14x14 into 7x7)
/// takes the same kernel after one pass that splits the input into its 4
/// phase planes (even or odd rows by even or odd columns, each as large
/// as the output): tap (kh, kw) reads phase ((kh - padH) & 1, (kw - padW)
/// & 1) at row and column shifts floor((k - pad) / 2), a flat stride-1
/// read of that phase. The direct path kept 7 of 16 lanes busy there (one
/// vector per output row) and spent a permute on every load.
constexpr int64_t kFlatMaxVectors = 8;
constexpr int64_t kFlatMaxTaps = 8; // kH and kW
constexpr int64_t kFlatMaxPixels = 16 * kFlatMaxVectors;

/// Per vector of 16 outputs: the lanes inside the plane, and for each tap
/// (kh, kw) the lanes whose input lies inside the plane (one mask per tap,
/// not a row and a column mask to combine at every FMA), and where the
/// tap reads, in bytes from the plane's input (stride 1) or from its
/// first phase plane (stride 2).
struct FlatMasks {
  int64_t key[8] = {};
  __mmask16 store[kFlatMaxVectors];
  __mmask16 tap[kFlatMaxVectors][kFlatMaxTaps * kFlatMaxTaps];
  int64_t offset[kFlatMaxTaps * kFlatMaxTaps];
};

bool flatFits(const PlaneGeometry &g, int64_t xRow, int64_t xCol,
              int64_t yRow) {
  if (g.dilationH != 1 || g.dilationW != 1 || xCol != 1 || xRow != g.inW ||
      yRow != g.outW || g.outW >= 16 ||
      g.outH * g.outW > kFlatMaxPixels || g.kH > kFlatMaxTaps ||
      g.kW > kFlatMaxTaps)
    return false;
  if (g.strideH == 1 && g.strideW == 1)
    return g.inW == g.outW;
  return g.strideH == 2 && g.strideW == 2 && g.inH == 2 * g.outH &&
         g.inW == 2 * g.outW;
}

/// floor(a / 2) for a of either sign.
int64_t halfDown(int64_t a) { return a >= 0 ? a / 2 : -((1 - a) / 2); }

/// The masks for `g`, computed once per thread for each geometry in a row
/// (the planes of one layer share them).
const FlatMasks &flatMasks(const PlaneGeometry &g) {
  thread_local FlatMasks masks;
  const int64_t key[8] = {g.inH,  g.outH, g.outW, g.kH,
                          g.kW,   g.padH, g.padW, g.strideH};
  if (std::equal(key, key + 8, masks.key))
    return masks;
  std::copy(key, key + 8, masks.key);
  const int64_t count = g.outH * g.outW;
  const bool phases = g.strideH == 2;
  // Per tap row (column): the row (column) shift it reads at and the
  // rows (columns) of the plane or phase it reads within.
  auto shift = [&](int64_t k, int64_t pad) {
    return phases ? halfDown(k - pad) : k - pad;
  };
  const int64_t rows = phases ? g.outH : g.inH, cols = g.outW;
  for (int64_t kh = 0; kh < g.kH; ++kh)
    for (int64_t kw = 0; kw < g.kW; ++kw) {
      int64_t phase = phases ? ((kh - g.padH) & 1) * 2 + ((kw - g.padW) & 1)
                             : 0;
      masks.offset[kh * kFlatMaxTaps + kw] = static_cast<int64_t>(
          (phase * count + shift(kh, g.padH) * g.outW + shift(kw, g.padW)) *
          sizeof(float));
    }
  for (int64_t v = 0; v * 16 < count; ++v) {
    masks.store[v] = 0;
    std::fill(masks.tap[v], masks.tap[v] + kFlatMaxTaps * kFlatMaxTaps, 0);
    for (int l = 0; l < 16; ++l) {
      int64_t o = v * 16 + l;
      if (o >= count)
        break;
      int64_t r = o / g.outW, c = o % g.outW;
      __mmask16 bit = static_cast<__mmask16>(1u << l);
      masks.store[v] |= bit;
      for (int64_t kh = 0; kh < g.kH; ++kh)
        for (int64_t kw = 0; kw < g.kW; ++kw) {
          int64_t ih = r + shift(kh, g.padH), iw = c + shift(kw, g.padW);
          if (ih >= 0 && ih < rows && iw >= 0 && iw < cols)
            masks.tap[v][kh * kFlatMaxTaps + kw] |= bit;
        }
    }
  }
  return masks;
}

/// The 4 phase planes of a stride-2 flatFits plane `x` (2 * outH rows of
/// 2 * outW) into `phases`: phase a * 2 + b at a * 2 + b times outH *
/// outW floats holds x[2i + a][2j + b] at i * outW + j. Per input row, one
/// or two masked loads and a permute that puts its even columns in the
/// low lanes and its odd ones in the high lanes (or two permutes of the
/// two loads), stored as two rows of outW floats.
EMBER_TARGET_AVX512 void avx512SplitPhases(const PlaneGeometry &g,
                                           const float *x, float *phases) {
  const int64_t w = g.outW, plane = g.outH * g.outW;
  const __mmask16 row = static_cast<__mmask16>((1u << w) - 1u);
  if (w <= 8) {
    // Evens to lanes 0..7, odds to 8..15.
    const __m512i split = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3,
                                            5, 7, 9, 11, 13, 15);
    const __mmask16 in = static_cast<__mmask16>((1u << (2 * w)) - 1u);
    for (int64_t ih = 0; ih < g.inH; ++ih) {
      // Merge-masked: no undefined source (GCC 12 warns on one).
      __m512 row2 = _mm512_maskz_loadu_ps(in, x + ih * g.inW);
      __m512 v = _mm512_mask_permutexvar_ps(row2, 0xffff, split, row2);
      float *even = phases + (ih & 1) * 2 * plane + (ih >> 1) * w;
      _mm512_mask_storeu_ps(even, row, v);
      // Lanes 8.. to the odd phase: an address 8 floats before its row,
      // the lanes before 8 masked out (they never write).
      uintptr_t odd = reinterpret_cast<uintptr_t>(even + plane) -
                      8 * sizeof(float);
      _mm512_mask_storeu_ps(reinterpret_cast<float *>(odd),
                            static_cast<__mmask16>(row << 8), v);
    }
    return;
  }
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                          20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19,
                                         21, 23, 25, 27, 29, 31);
  const __mmask16 high = static_cast<__mmask16>((1u << (2 * w - 16)) - 1u);
  for (int64_t ih = 0; ih < g.inH; ++ih) {
    const float *src = x + ih * g.inW;
    __m512 lo = _mm512_loadu_ps(src);
    __m512 hi = _mm512_maskz_loadu_ps(high, src + 16);
    float *even = phases + (ih & 1) * 2 * plane + (ih >> 1) * w;
    _mm512_mask_storeu_ps(even, row, _mm512_permutex2var_ps(lo, evens, hi));
    _mm512_mask_storeu_ps(even + plane, row,
                          _mm512_permutex2var_ps(lo, odds, hi));
  }
}

/// P planes of V vectors each at once (P * V accumulators: one plane of a
/// 7x7 is 4, too few FMA chains to hide their latency), K x K taps (K 0:
/// g's, unrolled by neither). Plane p reads x[p] (stride 2: its phase
/// planes), taps[p], writes y[p].
template <int V, int K, int P>
EMBER_TARGET_AVX512 void
avx512FlatPlanes(const PlaneGeometry &g, const FlatMasks &m,
                 const float *const *x, const float *const *taps,
                 float *const *y, const PlaneEpilogue *epilogues) {
  __m512 acc[P][V];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v)
      acc[p][v] = _mm512_setzero_ps();
  // Addresses, not pointers: a masked load may start before the plane.
  uintptr_t origin[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p)
    origin[p] = reinterpret_cast<uintptr_t>(x[p]);
  const int64_t floatBytes = static_cast<int64_t>(sizeof(float));
  const int64_t kH = K ? K : g.kH, kW = K ? K : g.kW;
#pragma GCC unroll 8
  for (int64_t kh = 0; kh < kH; ++kh)
#pragma GCC unroll 8
    for (int64_t kw = 0; kw < kW; ++kw) {
      const int64_t at = m.offset[kh * kFlatMaxTaps + kw];
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) {
        __m512 weight = _mm512_set1_ps(taps[p][kh * kW + kw]);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v)
          acc[p][v] = _mm512_fmadd_ps(
              weight,
              _mm512_maskz_loadu_ps(
                  m.tap[v][kh * kFlatMaxTaps + kw],
                  reinterpret_cast<const float *>(origin[p] + at +
                                                  v * 16 * floatBytes)),
              acc[p][v]);
      }
    }
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    __m512 total = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      if (epilogues)
        acc[p][v] = finishAvx512(acc[p][v], epilogues[p]);
      _mm512_mask_storeu_ps(y[p] + v * 16, m.store[v], acc[p][v]);
      total += _mm512_maskz_mov_ps(m.store[v], acc[p][v]);
    }
    if (epilogues && epilogues[p].sum)
      *epilogues[p].sum = storedSum(total, 0xffff);
  }
}

/// avx512FlatPlanes for `P` (1 or 2) planes of `g` (stride 2: through
/// their phase planes, split here).
template <int P>
EMBER_TARGET_AVX512 void avx512Flat(const PlaneGeometry &g,
                                    const float *const *planes,
                                    const float *const *taps, float *const *y,
                                    const PlaneEpilogue *epilogues) {
  const FlatMasks &m = flatMasks(g);
  alignas(64) float phases[P][4 * kFlatMaxPixels];
  const float *split[P];
  const float *const *x = planes;
  if (g.strideH == 2) {
    for (int p = 0; p < P; ++p) {
      avx512SplitPhases(g, planes[p], phases[p]);
      split[p] = phases[p];
    }
    x = split;
  }
  const int64_t vectors = (g.outH * g.outW + 15) / 16;
  // MobileNet's 7x7 planes with 5x5 or 3x3 taps: the taps unrolled.
  if (vectors == 4 && g.kH == g.kW && (g.kH == 5 || g.kH == 3)) {
    if (g.kH == 5)
      avx512FlatPlanes<4, 5, P>(g, m, x, taps, y, epilogues);
    else
      avx512FlatPlanes<4, 3, P>(g, m, x, taps, y, epilogues);
    return;
  }
  switch (vectors) {
#define EMBER_FLAT(V)                                                          \
  case V:                                                                      \
    avx512FlatPlanes<V, 0, P>(g, m, x, taps, y, epilogues);                    \
    break;
    EMBER_FLAT(1)
    EMBER_FLAT(2)
    EMBER_FLAT(3)
    EMBER_FLAT(4)
    EMBER_FLAT(5)
    EMBER_FLAT(6)
    EMBER_FLAT(7)
    EMBER_FLAT(8)
#undef EMBER_FLAT
  default:
    break;
  }
}

/// MobileNet's planes of 7 output columns (7x7, stride 1 from 7x7 or 2
/// from 14x14) 16 at a time, channel-blocked as ONNX Runtime's NCHWc
/// kernels are: the 16 input planes are transposed into a zero-padded
/// scratch plane whose every pixel is one vector of the 16 channels, so
/// that each tap of each output pixel is one aligned load and one FMA with
/// the tap's 16 weights, no masks, no permutes, no lanes left idle. The
/// flat row used 64 lanes for 49 outputs, a mask for every tap and a
/// load across two cache lines for most. The outputs are transposed back
/// to their planes; the epilogue's bias and the SE mean's sums are a
/// vector per channel block.
constexpr int64_t kBlockedPlanes = kDepthwiseMaxGroup;
constexpr int64_t kBlockedWidth = 7;  // output columns
constexpr int64_t kBlockedMaxOutput = 64;
constexpr int64_t kBlockedMaxInput = 400; // padded input pixels

bool blockedFits(const PlaneGeometry &g, int64_t xRow, int64_t xCol,
                 int64_t yRow) {
  const int64_t padded = ((g.outH - 1) * g.strideH + g.kH) *
                         ((g.outW - 1) * g.strideW + g.kW);
  return flatFits(g, xRow, xCol, yRow) && g.outW == kBlockedWidth &&
         g.outH * g.outW <= kBlockedMaxOutput && g.kH == g.kW &&
         (g.kH == 3 || g.kH == 5) && g.strideH == g.strideW &&
         padded <= kBlockedMaxInput;
}

// transpose16's shuffles, merge-masked: GCC 12 warns on the unmasked
// intrinsics' undefined sources.
EMBER_TARGET_AVX512 inline __m512 unpackLo(__m512 a, __m512 b) {
  return _mm512_mask_unpacklo_ps(a, 0xffff, a, b);
}
EMBER_TARGET_AVX512 inline __m512 unpackHi(__m512 a, __m512 b) {
  return _mm512_mask_unpackhi_ps(a, 0xffff, a, b);
}
EMBER_TARGET_AVX512 inline __m512 unpackLo64(__m512 a, __m512 b) {
  __m512d x = _mm512_castps_pd(a);
  return _mm512_castpd_ps(
      _mm512_mask_unpacklo_pd(x, 0xff, x, _mm512_castps_pd(b)));
}
EMBER_TARGET_AVX512 inline __m512 unpackHi64(__m512 a, __m512 b) {
  __m512d x = _mm512_castps_pd(a);
  return _mm512_castpd_ps(
      _mm512_mask_unpackhi_pd(x, 0xff, x, _mm512_castps_pd(b)));
}
/// 128-bit blocks (a.0, a.2, b.0, b.2) and (a.1, a.3, b.1, b.3).
EMBER_TARGET_AVX512 inline __m512 evenBlocks(__m512 a, __m512 b) {
  return _mm512_mask_shuffle_f32x4(a, 0xffff, a, b, 0x88);
}
EMBER_TARGET_AVX512 inline __m512 oddBlocks(__m512 a, __m512 b) {
  return _mm512_mask_shuffle_f32x4(a, 0xffff, a, b, 0xDD);
}

/// Rows r[0..15] to columns: r[j] becomes the 16 rows' element j.
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline void
transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = unpackLo(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = unpackHi(r[2 * i], r[2 * i + 1]);
  }
  // r[4i + j], 128-bit block L: column 4L + j of rows 4i .. 4i + 3.
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = unpackLo64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = unpackHi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = unpackLo64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = unpackHi64(t[4 * i + 1], t[4 * i + 3]);
  }
  __m512 u[16];
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    __m512 a = evenBlocks(r[j], r[4 + j]), b = oddBlocks(r[j], r[4 + j]);
    __m512 c = evenBlocks(r[8 + j], r[12 + j]);
    __m512 d = oddBlocks(r[8 + j], r[12 + j]);
    u[j] = evenBlocks(a, c);
    u[8 + j] = oddBlocks(a, c);
    u[4 + j] = evenBlocks(b, d);
    u[12 + j] = oddBlocks(b, d);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i)
    r[i] = u[i];
}

/// Elements [at, at + n) (n <= 16) of the 16 arrays `rows`, transposed:
/// r[j] holds element at + j of each array, one lane per array (lanes of
/// r[j] for j >= n are zero).
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline void
loadTransposed16(const float *const *rows, int64_t at, int64_t n,
                 __m512 r[16]) {
  const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1u);
#pragma GCC unroll 16
  for (int c = 0; c < 16; ++c)
    r[c] = _mm512_maskz_loadu_ps(mask, rows[c] + at);
  transpose16(r);
}

/// Per thread: the padded, channel-blocked input (its border zero, written
/// when the geometry changes; the pixels inside are rewritten every call)
/// and where each input pixel goes in it: a pixel no tap reads, and the
/// lanes past the last pixel of the last 16, go to the slot past the
/// padded input (kBlockedTrash), so that every transposed pixel is one
/// store, without a test.
constexpr int64_t kBlockedTrash = kBlockedMaxInput;
struct BlockedScratch {
  int64_t key[7] = {};
  alignas(64) float input[kBlockedMaxInput + 1][kBlockedPlanes];
  alignas(64) float output[kBlockedMaxOutput][kBlockedPlanes];
  int16_t slot[kBlockedMaxInput + 16]; // per input pixel
};

/// Not inlined: inlined, GCC recomputed the thread_local's address (a TLS
/// call, with a vzeroupper) at every pixel store of the transposes.
__attribute__((noinline)) BlockedScratch &
blockedScratch(const PlaneGeometry &g, int64_t paddedW) {
  thread_local BlockedScratch scratch;
  const int64_t key[7] = {g.inH, g.inW, g.outH, g.kH, g.strideH, g.padH,
                          g.padW};
  if (std::equal(key, key + 7, scratch.key))
    return scratch;
  std::copy(key, key + 7, scratch.key);
  std::fill(&scratch.input[0][0],
            &scratch.input[0][0] + kBlockedMaxInput * kBlockedPlanes, 0.0f);
  std::fill(&scratch.output[0][0],
            &scratch.output[0][0] + kBlockedMaxOutput * kBlockedPlanes, 0.0f);
  const int64_t paddedH = (g.outH - 1) * g.strideH + g.kH;
  std::fill(scratch.slot, scratch.slot + kBlockedMaxInput + 16,
            static_cast<int16_t>(kBlockedTrash));
  for (int64_t ih = 0; ih < g.inH; ++ih)
    for (int64_t iw = 0; iw < g.inW; ++iw) {
      int64_t r = ih + g.padH, c = iw + g.padW;
      if (r < paddedH && c < paddedW)
        scratch.slot[ih * g.inW + iw] = static_cast<int16_t>(r * paddedW + c);
    }
  return scratch;
}

/// The next plane block's input and output lines (where a caller's next
/// block of one image's channels lies: a hint, it may lie elsewhere, and a
/// prefetch never faults), prefetched a few at a time between the FMAs of
/// this block's rows. The transposes read 16 planes at once, each a short
/// piece at a time, which the hardware prefetchers followed worse than the
/// flat path's one plane at a time when the input came from L3; all the
/// lines in one burst before the block (196 at f9) stalled it on the fill
/// buffers for a quarter of its time.
struct NextBlock {
  const char *x, *y;
  int64_t xLines, lines, done = 0;

  /// Prefetches the lines before `end` not yet prefetched.
  EMBER_TARGET_AVX512 void upTo(int64_t end) {
    for (; done < end; ++done)
      _mm_prefetch(done < xLines ? x + done * 64 : y + (done - xLines) * 64,
                   _MM_HINT_T0);
  }
};

/// Output rows of a blockedFits plane block: acc[ow] over the K x K taps
/// (weights[kh * K + kw], 16 channels each) of the padded input, one load
/// a padded input pixel, each feeding the outputs whose taps it is.
template <int K, int S>
EMBER_TARGET_AVX512 void
avx512BlockedRows(const PlaneGeometry &g, BlockedScratch &scratch,
                  int64_t paddedW, const __m512 *weights, __m512 bias,
                  bool applied, int activation, float *sums,
                  NextBlock &next) {
  constexpr int OW = kBlockedWidth, kInputs = (OW - 1) * S + K;
  const int64_t slots = g.outH * K; // (oh, kh) steps, each its share of next
  __m512 total = _mm512_setzero_ps();
  for (int64_t oh = 0; oh < g.outH; ++oh) {
    __m512 acc[OW];
#pragma GCC unroll 8
    for (int i = 0; i < OW; ++i)
      acc[i] = _mm512_setzero_ps();
#pragma GCC unroll 5
    for (int kh = 0; kh < K; ++kh) {
      next.upTo(next.lines * (oh * K + kh + 1) / slots);
      const float *row = scratch.input[(oh * S + kh) * paddedW];
      __m512 w[K];
#pragma GCC unroll 5
      for (int kw = 0; kw < K; ++kw)
        w[kw] = weights[kh * K + kw];
#pragma GCC unroll 32
      for (int ic = 0; ic < kInputs; ++ic) {
        __m512 v = _mm512_load_ps(row + ic * kBlockedPlanes);
#pragma GCC unroll 5
        for (int kw = 0; kw < K; ++kw) {
          int at = ic - kw;
          if (at >= 0 && at % S == 0 && at / S < OW)
            acc[at / S] = _mm512_fmadd_ps(w[kw], v, acc[at / S]);
        }
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < OW; ++i) {
      __m512 v = acc[i];
      if (applied) {
        v = activateAvx512(v + bias, activation);
        total += v;
      }
      _mm512_store_ps(scratch.output[oh * OW + i], v);
    }
  }
  _mm512_storeu_ps(sums, total);
}

/// kBlockedPlanes planes of a blockedFits `g`: plane p reads x[p] and
/// taps[p], writes y[p]; `epilogues` (optional) one per plane.
EMBER_TARGET_AVX512 void avx512Blocked(const PlaneGeometry &g,
                                       const float *const *x,
                                       const float *const *taps,
                                       float *const *y,
                                       const PlaneEpilogue *epilogues) {
  const int64_t paddedW = (g.outW - 1) * g.strideW + g.kW;
  BlockedScratch &scratch = blockedScratch(g, paddedW);
  const int64_t pixels = g.inH * g.inW, outputs = g.outH * g.outW;
  const int64_t xLines = (kBlockedPlanes * pixels * 4 + 63) / 64;
  NextBlock next{reinterpret_cast<const char *>(x[15] + pixels),
                 reinterpret_cast<const char *>(y[15] + outputs), xLines,
                 xLines + (kBlockedPlanes * outputs * 4 + 63) / 64};
  // The input planes, 16 pixels of the 16 planes at a time, transposed.
  for (int64_t q = 0; q < pixels; q += 16) {
    int64_t n = std::min<int64_t>(16, pixels - q);
    __m512 r[16];
    loadTransposed16(x, q, n, r);
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j)
      _mm512_store_ps(scratch.input[scratch.slot[q + j]], r[j]);
  }
  // The taps, a vector of the 16 planes' weights per tap.
  const int64_t count = g.kH * g.kW;
  __m512 weights[32];
  for (int64_t t0 = 0; t0 < count; t0 += 16) {
    int64_t n = std::min<int64_t>(16, count - t0);
    __m512 r[16];
    loadTransposed16(taps, t0, n, r);
    for (int64_t j = 0; j < n; ++j)
      weights[t0 + j] = r[j];
  }
  alignas(64) float bias[16] = {}, sums[16];
  const bool applied = epilogues != nullptr;
  if (applied)
    for (int c = 0; c < 16; ++c)
      bias[c] = epilogues[c].hasBias ? epilogues[c].bias : 0.0f;
  const int activation = applied ? epilogues[0].activation : 0;
  const __m512 biasVector = _mm512_load_ps(bias);
#define EMBER_BLOCKED(K, S)                                                    \
  avx512BlockedRows<K, S>(g, scratch, paddedW, weights, biasVector, applied,   \
                          activation, sums, next)
  if (g.kH == 5)
    g.strideH == 1 ? EMBER_BLOCKED(5, 1) : EMBER_BLOCKED(5, 2);
  else
    g.strideH == 1 ? EMBER_BLOCKED(3, 1) : EMBER_BLOCKED(3, 2);
#undef EMBER_BLOCKED
  // The outputs back to their planes, 16 pixels at a time.
  for (int64_t q = 0; q < outputs; q += 16) {
    int64_t n = std::min<int64_t>(16, outputs - q);
    __mmask16 mask = static_cast<__mmask16>((1u << n) - 1u);
    __m512 r[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j)
      r[j] = _mm512_load_ps(scratch.output[q + j]);
    transpose16(r);
#pragma GCC unroll 16
    for (int c = 0; c < 16; ++c)
      _mm512_mask_storeu_ps(y[c] + q, mask, r[c]);
  }
  if (applied)
    for (int c = 0; c < 16; ++c)
      if (epilogues[c].sum)
        *epilogues[c].sum = sums[c];
}

} // namespace

int64_t depthwiseScratchSize(const PlaneGeometry &g) {
  Phases ph = phasesOf(g);
  // The phases, then one offset per tap (int64_t, two floats' room each).
  return g.strideW * ph.rows * ph.width + 2 * g.kH * g.kW + 2;
}

int64_t depthwiseGroup(const PlaneGeometry &g, int64_t xRow, int64_t xCol,
                       int64_t yRow, bool avx512) {
  if (!avx512 || !flatFits(g, xRow, xCol, yRow))
    return 1;
  return blockedFits(g, xRow, xCol, yRow) ? kBlockedPlanes : 2;
}

bool depthwisePlanes(const PlaneGeometry &g, int64_t count,
                     const float *const *x, const float *const *taps,
                     float *const *y, const PlaneEpilogue *epilogues) {
  bool applied = epilogues && directEpilogue(epilogues[0]);
  if (count == kBlockedPlanes)
    avx512Blocked(g, x, taps, y, applied ? epilogues : nullptr);
  else
    avx512Flat<2>(g, x, taps, y, applied ? epilogues : nullptr);
  return applied;
}

bool depthwisePlane(const PlaneGeometry &g, const float *x, int64_t xRow,
                    int64_t xCol, const float *taps, float *y, int64_t yRow,
                    float *scratch, bool avx512,
                    const PlaneEpilogue *epilogue) {
  if (avx512 && flatFits(g, xRow, xCol, yRow)) {
    bool applied = epilogue && directEpilogue(*epilogue);
    avx512Flat<1>(g, &x, &taps, &y, applied ? epilogue : nullptr);
    return applied;
  }
  if (avx512 && (g.strideW == 1 || g.strideW == 2) && xCol == 1 &&
      g.kW <= kDirectMaxKW && g.inW <= kZeroRow) {
    bool applied = epilogue && directEpilogue(*epilogue);
    // The blocks add their sums lane by lane (storeRowsAvx512).
    alignas(64) float lanes[16] = {};
    PlaneEpilogue summed;
    const PlaneEpilogue *blocks = applied ? epilogue : nullptr;
    if (applied && epilogue->sum) {
      summed = *epilogue;
      summed.sum = lanes;
      blocks = &summed;
    }
    avx512DirectPlane(g, x, xRow, taps, y, yRow, blocks);
    if (blocks == &summed) {
      float sum = 0;
      for (float lane : lanes)
        sum += lane;
      *epilogue->sum = sum;
    }
    return applied;
  }
  Phases ph = phasesOf(g);
  int64_t phases = g.strideW * ph.rows * ph.width;
  // The offsets' slot rounded up to 8 bytes (ScratchBuffer's memory is).
  int64_t *offsets = reinterpret_cast<int64_t *>(scratch + (phases + 1) / 2 * 2);
  tapOffsets(g, ph, offsets);
  if (avx512 && xCol == 1 && (g.strideW == 1 || g.strideW == 2))
    avx512FillPhases(g, ph, x, xRow, scratch);
  else
    fillPhases(g, ph, x, xRow, xCol, scratch);
  if (avx512)
    avx512Plane(g, ph, scratch, offsets, taps, y, yRow);
  else
    portablePlane(g, ph, scratch, offsets, taps, y, yRow);
  return false;
}

} // namespace conv
} // namespace ember
