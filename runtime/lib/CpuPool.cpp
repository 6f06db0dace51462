//===- CpuPool.cpp - max pooling over a padded input ----------------------===//
//
// ember_cpu_max_pool_f32 (CpuConv.h): the running maximum of a kH x kW grid
// of strided windows of an already padded input, as python/ember/nn/
// _pooling.py composes a max pool and the ember-conv-to-runtime pass
// recognizes it. Compiled, that composite is one element-wise loop whose
// stride-2 reads LLVM vectorizes with gapped interleave groups, leaving a
// scalar remainder of 8 of every 56 outputs (resnet18's stem pool ran
// 165 us per thread against ONNX Runtime's 81).
//
// Each output row is the column-wise maximum of the kH input rows, then
// the row-wise maximum of kW neighbours at the column stride. With
// AVX-512, stride 2 and a 3-wide window (every ResNet stem) run in one
// pass in registers: per 16 outputs the column maxima of 32 columns,
// their even and odd lanes (vpermt2ps) and the even lanes shifted by one
// (valignd), the row's end a masked store; no scalar remainder. Other
// windows go through a row buffer. Rows of outputs split over the thread
// pool, a plane's rows in order (so the hardware prefetcher streams x).
//
// The maximum is the composite's: a later value replaces the best if it is
// greater or NaN, so a NaN anywhere in the window wins and a tie keeps the
// earlier value (the one-pass path compares columns first, so of +0 and -0
// it may keep the other). No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuConv.h"
#include "ember/Runtime/ThreadPool.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace {

/// Calls run in this process (ember.compile_stats()'s "max_pool_calls").
std::atomic<uint64_t> maxPoolCalls{0};

#define EMBER_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

/// The window's geometry in input elements.
struct PoolGeometry {
  int64_t rowStart, colStart, strideH, strideW, kernelH, kernelW, dilationH,
      dilationW;
  int64_t outW;
  int64_t colStrideX; // x's column stride (1 for a contiguous row)
  /// Input columns one output row reads: [colStart, colStart + span).
  int64_t span() const {
    return (outW - 1) * strideW + (kernelW - 1) * dilationW + 1;
  }
};

/// The composite's step: `v` replaces `best` if greater or NaN.
inline float maxStep(float best, float v) {
  return (v > best || v != v) ? v : best;
}

/// Portable: the column-wise maximum of the rows into `buf`.
void columnMaxPortable(const PoolGeometry &g, const float *const *rows,
                       float *buf) {
  int64_t span = g.span(), cs = g.colStrideX;
  const float *r0 = rows[0];
  for (int64_t c = 0; c < span; ++c)
    buf[c] = r0[c * cs];
  for (int64_t i = 1; i < g.kernelH; ++i) {
    const float *r = rows[i];
    for (int64_t c = 0; c < span; ++c)
      buf[c] = maxStep(buf[c], r[c * cs]);
  }
}

/// Portable: the row-wise maximum of `buf` into one output row.
void rowMaxPortable(const PoolGeometry &g, const float *buf, float *y,
                    int64_t yColStride) {
  for (int64_t ow = 0; ow < g.outW; ++ow) {
    const float *w = buf + ow * g.strideW;
    float best = w[0];
    for (int64_t j = 1; j < g.kernelW; ++j)
      best = maxStep(best, w[j * g.dilationW]);
    y[ow * yColStride] = best;
  }
}

EMBER_TARGET_AVX512 inline __m512 maxStepAvx512(__m512 best, __m512 v) {
  // vmaxps returns its second operand when either is NaN or they are
  // equal: a NaN best stays, a tie keeps best; a NaN v is put back.
  __m512 m = _mm512_max_ps(v, best);
  return _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
}

/// AVX-512, contiguous rows: the column-wise maximum into `buf`.
EMBER_TARGET_AVX512 void columnMaxAvx512(const PoolGeometry &g,
                                         const float *const *rows,
                                         float *buf) {
  int64_t span = g.span();
  for (int64_t c = 0; c < span; c += 16) {
    __mmask16 m = span - c >= 16 ? __mmask16(0xFFFF)
                                 : __mmask16((1u << (span - c)) - 1);
    __m512 best = _mm512_maskz_loadu_ps(m, rows[0] + c);
    for (int64_t i = 1; i < g.kernelH; ++i)
      best = maxStepAvx512(best, _mm512_maskz_loadu_ps(m, rows[i] + c));
    _mm512_storeu_ps(buf + c, best);
  }
}

/// AVX-512, stride 2, window 3: out[j] = max(buf[2j], buf[2j+1],
/// buf[2j+2]) for 16 outputs per step. `buf` holds at least 32 floats past
/// the span (any values: those lanes are never stored).
EMBER_TARGET_AVX512 void rowMaxStride2Window3Avx512(const PoolGeometry &g,
                                                    const float *buf,
                                                    float *y) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                         20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19,
                                        21, 23, 25, 27, 29, 31);
  for (int64_t ow = 0; ow < g.outW; ow += 16) {
    const float *p = buf + 2 * ow;
    __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
    __m512 a2 = _mm512_loadu_ps(p + 2), b2 = _mm512_loadu_ps(p + 18);
    __m512 best = _mm512_permutex2var_ps(a, even, b);
    best = maxStepAvx512(best, _mm512_permutex2var_ps(a, odd, b));
    best = maxStepAvx512(best, _mm512_permutex2var_ps(a2, even, b2));
    int64_t left = g.outW - ow;
    if (left >= 16)
      _mm512_storeu_ps(y + ow, best);
    else
      _mm512_mask_storeu_ps(y + ow, __mmask16((1u << left) - 1), best);
  }
}

/// Lanes [c, span) of a 16-wide step at column c.
EMBER_TARGET_AVX512 inline __mmask16 spanMask(int64_t c, int64_t span) {
  int64_t left = span - c;
  if (left >= 16)
    return 0xFFFF;
  return left <= 0 ? 0 : __mmask16((1u << left) - 1);
}

/// The column-wise maximum of 16 columns from `c` (vmaxps: a NaN may be
/// lost), and their sum into `sum`, which turns NaN if any of them is NaN.
EMBER_TARGET_AVX512 inline __m512 columnStep(const float *const *rows,
                                             int64_t kernelH, int64_t c,
                                             __mmask16 m, __m512 &sum) {
  __m512 r = _mm512_maskz_loadu_ps(m, rows[0] + c);
  __m512 best = r, s = r;
  for (int64_t i = 1; i < kernelH; ++i) {
    r = _mm512_maskz_loadu_ps(m, rows[i] + c);
    best = _mm512_max_ps(r, best);
    s = _mm512_add_ps(s, r);
  }
  sum = _mm512_add_ps(sum, s);
  return best;
}

/// AVX-512, stride 2, window 3, one pass in registers: per 16 outputs the
/// column maxima of 32 columns, their even and odd lanes (vpermt2ps) and
/// the even lanes shifted by one (valignd with the next step's), so no
/// row buffer and no reload. The maxima ignore NaN; the sum of every value
/// read says whether one was NaN (or +inf met -inf): then false, and the
/// caller redoes the row with the exact steps.
EMBER_TARGET_AVX512 bool rowStride2Window3FusedAvx512(const PoolGeometry &g,
                                                      const float *const *rows,
                                                      float *y) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                         20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19,
                                        21, 23, 25, 27, 29, 31);
  int64_t span = g.span(), kernelH = g.kernelH;
  __m512 sum = _mm512_setzero_ps();
  __m512 a = columnStep(rows, kernelH, 0, spanMask(0, span), sum);
  __m512 b = columnStep(rows, kernelH, 16, spanMask(16, span), sum);
  __m512 e = _mm512_permutex2var_ps(a, even, b);
  __m512 o = _mm512_permutex2var_ps(a, odd, b);
  for (int64_t ow = 0; ow < g.outW; ow += 16) {
    int64_t c = 2 * ow + 32;
    __m512 nextE = _mm512_setzero_ps(), nextO = nextE;
    if (c < span) {
      __m512 na = columnStep(rows, kernelH, c, spanMask(c, span), sum);
      __m512 nb = columnStep(rows, kernelH, c + 16, spanMask(c + 16, span), sum);
      nextE = _mm512_permutex2var_ps(na, even, nb);
      nextO = _mm512_permutex2var_ps(na, odd, nb);
    }
    __m512 shifted = _mm512_castsi512_ps(_mm512_alignr_epi32(
        _mm512_castps_si512(nextE), _mm512_castps_si512(e), 1));
    __m512 best = _mm512_max_ps(_mm512_max_ps(o, e), shifted);
    int64_t left = g.outW - ow;
    if (left >= 16)
      _mm512_storeu_ps(y + ow, best);
    else
      _mm512_mask_storeu_ps(y + ow, __mmask16((1u << left) - 1), best);
    e = nextE;
    o = nextO;
  }
  return _mm512_cmp_ps_mask(sum, sum, _CMP_UNORD_Q) == 0;
}

bool haveAvx512() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return have;
}

} // namespace

extern "C" void ember_cpu_max_pool_f32(
    EMBER_TENSOR5_ARGS(float, x), EMBER_TENSOR5_ARGS(float, y),
    int64_t rowStart, int64_t colStart, int64_t strideH, int64_t strideW,
    int64_t kernelH, int64_t kernelW, int64_t dilationH, int64_t dilationW) {
  maxPoolCalls.fetch_add(1, std::memory_order_relaxed);
  (void)xAlloc;
  (void)yAlloc;
  (void)ySize0;
  (void)ySize1;
  (void)ySize2;
  PoolGeometry g{rowStart, colStart, strideH, strideW, kernelH,
                 kernelW,  dilationH, dilationW, ySize4, xStride4};
  int64_t planesC = xSize1, planesD = xSize2;
  int64_t planes = xSize0 * planesC * planesD, outH = ySize3;
  if (planes == 0 || outH == 0 || g.outW == 0)
    return;
  const float *xBase = xData + xOffset;
  float *yBase0 = yData + yOffset;
  // The compiler matched slices whose windows lie in x wherever the
  // composite was valid; should they not, taps outside x are skipped
  // rather than read.
  int64_t lastRow = rowStart + (outH - 1) * strideH + (kernelH - 1) * dilationH;
  int64_t lastCol = colStart + g.span() - 1;
  if (rowStart < 0 || colStart < 0 || lastRow >= xSize3 || lastCol >= xSize4) {
    for (int64_t p = 0; p < planes; ++p) {
      int64_t d = p % planesD, c = (p / planesD) % planesC,
              n = p / (planesD * planesC);
      const float *xp = xBase + n * xStride0 + c * xStride1 + d * xStride2;
      float *yp = yBase0 + n * yStride0 + c * yStride1 + d * yStride2;
      for (int64_t oh = 0; oh < outH; ++oh)
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t i = 0; i < kernelH; ++i)
            for (int64_t j = 0; j < kernelW; ++j) {
              int64_t r = rowStart + oh * strideH + i * dilationH;
              int64_t col = colStart + ow * strideW + j * dilationW;
              if (r >= 0 && r < xSize3 && col >= 0 && col < xSize4)
                best = maxStep(best, xp[r * xStride3 + col * xStride4]);
            }
          yp[oh * yStride3 + ow * yStride4] = best;
        }
    }
    return;
  }
  float *yBase = yBase0;
  bool vector = haveAvx512() && g.colStrideX == 1;
  bool fastRow = vector && strideW == 2 && kernelW == 3 && dilationW == 1 &&
                 yStride4 == 1;
  int64_t span = g.span();
  // Slack past the span: the vector steps read up to 34 floats beyond the
  // last output's window and store whole vectors of the column pass.
  int64_t bufSize = span + 64;
  int64_t taps = kernelH * kernelW;
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, g.outW * taps));
  ember::parallelFor(0, planes * outH, grain, [&](int64_t lo, int64_t hi) {
    float stackBuf[4096];
    std::vector<float> heapBuf;
    float *buf = stackBuf;
    if (bufSize > 4096) {
      heapBuf.resize(bufSize);
      buf = heapBuf.data();
    }
    std::fill(buf + span, buf + bufSize, -std::numeric_limits<float>::infinity());
    const float *rows[64];
    std::vector<const float *> heapRows;
    const float **rowPtrs = rows;
    if (kernelH > 64) {
      heapRows.resize(kernelH);
      rowPtrs = heapRows.data();
    }
    // The row's plane and output row, stepped along (one division per
    // chunk, not six per row: they cost as much as a row's maxima).
    int64_t firstPlane = lo / outH, oh = lo % outH;
    int64_t d = firstPlane % planesD, c = (firstPlane / planesD) % planesC,
            n = firstPlane / (planesD * planesC);
    for (int64_t r = lo; r < hi; ++r) {
      if (oh == outH) {
        oh = 0;
        if (++d == planesD) {
          d = 0;
          if (++c == planesC) {
            c = 0;
            ++n;
          }
        }
      }
      const float *xp = xBase + n * xStride0 + c * xStride1 + d * xStride2 +
                        colStart * xStride4;
      for (int64_t i = 0; i < kernelH; ++i)
        rowPtrs[i] = xp + (rowStart + oh * strideH + i * dilationH) * xStride3;
      float *yRow = yBase + n * yStride0 + c * yStride1 + d * yStride2 +
                    oh * yStride3;
      ++oh;
      // The input rows the next output row adds, into L1 while this row
      // runs: its reads come from the layer before (the stem's output,
      // partly in the other core's cache), a plane of 113 x 113 floats
      // per channel at resnet18's stem. 11% off the pool at batch 1 (two
      // rows ahead did as well, four worse).
      if (fastRow && oh < outH) {
        const int64_t fresh =
            std::min(kernelH, (strideH + dilationH - 1) / dilationH);
        for (int64_t i = kernelH - fresh; i < kernelH; ++i) {
          const float *line = rowPtrs[i] + strideH * xStride3;
          for (int64_t col = 0; col < span; col += 16)
            _mm_prefetch(reinterpret_cast<const char *>(line + col),
                         _MM_HINT_T0);
        }
      }
      if (fastRow && rowStride2Window3FusedAvx512(g, rowPtrs, yRow))
        continue;
      if (vector)
        columnMaxAvx512(g, rowPtrs, buf);
      else
        columnMaxPortable(g, rowPtrs, buf);
      if (fastRow)
        rowMaxStride2Window3Avx512(g, buf, yRow);
      else
        rowMaxPortable(g, buf, yRow, yStride4);
    }
  });
}

extern "C" uint64_t ember_cpu_max_pool_calls(void) {
  return maxPoolCalls.load(std::memory_order_relaxed);
}
