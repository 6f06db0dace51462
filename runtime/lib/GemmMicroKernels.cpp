//===- GemmMicroKernels.cpp - AVX-512, AVX2 and portable f32 micro-kernels ===//
//
// Each kernel keeps an MR x NR tile of C in registers: per step of k it
// loads one row of the B panel (NR/lanes vector loads), broadcasts each of
// the MR values of the A panel's column and issues MR * NR/lanes independent
// FMAs, enough accumulators to cover the FMA latency on both pipes. The
// ISA-specific ones are compiled through target attributes (not file-wide
// copts), so this file builds with the runtime's baseline flags and the
// sanitizer builds that compile the runtime outside Bazel get them too.
//
//===----------------------------------------------------------------------===//

#include "GemmMicroKernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

namespace ember {
namespace gemm {
namespace {

#define EMBER_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define EMBER_TARGET_AVX2 __attribute__((target("avx2,fma")))

/// Writes a finished tile (row-major, MR x NR, already scaled by alpha) into
/// the strided C: the edges and C layouts the vector stores do not cover.
template <int MR, int NR>
void storeTile(const float *tile, float *c, int64_t rsc, int64_t csc, int mr,
               int nr, float beta) {
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) {
      float &out = c[i * rsc + j * csc];
      out = beta == 0.0f ? tile[i * NR + j] : tile[i * NR + j] + beta * out;
    }
}

//===----------------------------------------------------------------------===//
// AVX-512: MR x (NV * 16)
//===----------------------------------------------------------------------===//

/// One step of k: MR x NV FMAs on the next row of the B panel and column
/// of the A panel; with PF > 0, also a prefetch of the B row PF steps ahead
/// into L1 (one per cache line), with PFA > 0 one of the A column PFA steps
/// ahead.
template <int MR, int NV, int PA, int PF, int PFA = 0>
EMBER_TARGET_AVX512 inline void avx512Step(const float *&ap, const float *&bp,
                                           __m512 (&acc)[MR][NV]) {
  constexpr int NR = NV * 16;
  __m512 b[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v)
    b[v] = _mm512_loadu_ps(bp + v * 16);
  if (PF > 0)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      _mm_prefetch(reinterpret_cast<const char *>(bp + PF * NR + v * 16),
                   _MM_HINT_T0);
  if (PFA > 0)
    _mm_prefetch(reinterpret_cast<const char *>(ap + PFA * PA), _MM_HINT_T0);
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    __m512 a = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
  }
  ap += PA;
  bp += NR;
}

/// The B panel is read one row (NR floats) a step, usually from L2: a
/// panel of kc x 64 is 96 KiB at kc 384, twice the 48 KiB L1 of the Intel
/// cores this runs on, and the next A panel and C tile compete for L1 too.
/// The hardware prefetchers follow the stream but start late on each new
/// panel; fetching the row about 2 KiB ahead by hand made vit_b_16's
/// fc1 (bench/gemm_shapes_bench, 1 thread, 4 alternated runs, busy Xeon)
/// 4-5% faster: 162 -> 169 GFLOP per CPU-second at 197 rows, 166 -> 175
/// at 6304. The last PF steps prefetch nothing, so no address past the
/// panel is formed.
template <int NV> constexpr int kPrefetchSteps = 2048 / (NV * 64);

/// The convolution's A panels (packed weights, 14 x kc) stream from L3
/// whenever a layer's weights outgrow L2 (resnet18's last stage: 9 MiB at
/// 512 -> 512 channels 3x3) or a model's other layers evicted them (batch
/// 1, where every call reads every weight once); the hardware prefetchers
/// start late on each panel. Fetching the A column 48 steps (about 2.6 KiB,
/// some 700 cycles of FMAs) ahead made l4's convolutions in
/// bench/conv_layers_bench (batch 2, 1 thread, all 20 layers in turn) 17-21%
/// faster and the 20 convs 5-7%; 32 to 96 steps did about as well. Where
/// the weights stay in L2 the extra load slot costs instead (l1's 3x3 64 @56
/// at batch 32: 5% slower), hence separate kernels
/// (avx512ConvStreamingKernel).
constexpr int kConvAPrefetchSteps = 48;

/// The AVX-512 tiles' k loop (avx512Tile, avx512RunTile): acc += the A
/// panel times the B panel over k steps, prefetching B kPrefetchSteps and,
/// with PFA > 0, A PFA steps ahead, except in the last steps (no address
/// past a panel is formed). Always inlined: GCC would otherwise call one
/// copy from both tiles, and acc would go through memory.
template <int MR, int NV, int PA, int PFA = 0>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline void
avx512Product(int64_t k, const float *ap, const float *bp,
              __m512 (&acc)[MR][NV]) {
  constexpr int PF = kPrefetchSteps<NV>;
  constexpr int Ahead = PF > PFA ? PF : PFA;
  int64_t p = 0;
  for (; p < k - Ahead; ++p)
    avx512Step<MR, NV, PA, PF, PFA>(ap, bp, acc);
  for (; p < k; ++p)
    avx512Step<MR, NV, PA, 0>(ap, bp, acc);
}

/// PA is the A panel's row count as packed (MR unless an edge kernel
/// reads the first MR rows of a wider panel); PFA > 0 prefetches the A
/// panel PFA steps ahead (kConvAPrefetchSteps).
template <int MR, int NV, int PA = MR, int PFA = 0>
EMBER_TARGET_AVX512 void avx512Tile(int64_t k, const float *ap, const float *bp,
                                    float *c, int64_t rsc, int64_t csc, int mr,
                                    int nr, float alpha, float beta) {
  constexpr int NR = NV * 16;
  // C's tile is read (or written) only after the k loop; fetching it now
  // hides the misses (its rows often lie a power of two apart, far away).
  if (csc == 1)
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) // no pointer past C's tile, not even for a prefetch
        break;
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        if (v * 16 >= nr)
          break;
        _mm_prefetch(reinterpret_cast<const char *>(c + i * rsc + v * 16),
                     _MM_HINT_T0);
      }
    }
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[i][v] = _mm512_setzero_ps();
  avx512Product<MR, NV, PA, PFA>(k, ap, bp, acc);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (csc == 1) {
    // Row-major C: masked stores cover partial rows without touching what
    // lies past the matrix.
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      if (i >= mr)
        break;
      float *row = c + i * rsc;
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        int left = nr - v * 16;
        if (left <= 0)
          break;
        __mmask16 mask =
            left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
        __m512 r = _mm512_mul_ps(acc[i][v], va);
        if (beta != 0.0f)
          r = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, row + v * 16), vb,
                              r);
        _mm512_mask_storeu_ps(row + v * 16, mask, r);
      }
    }
    return;
  }
  alignas(64) float tile[MR * NR];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      _mm512_store_ps(tile + i * NR + v * 16, _mm512_mul_ps(acc[i][v], va));
  storeTile<MR, NR>(tile, c, rsc, csc, mr, nr, beta);
}

//===----------------------------------------------------------------------===//
// AVX2 + FMA: MR x (NV * 8)
//===----------------------------------------------------------------------===//

template <int MR, int NV>
EMBER_TARGET_AVX2 void avx2Tile(int64_t k, const float *ap, const float *bp,
                                float *c, int64_t rsc, int64_t csc, int mr,
                                int nr, float alpha, float beta) {
  constexpr int NR = NV * 8;
  __m256 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      acc[i][v] = _mm256_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    __m256 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      b[v] = _mm256_loadu_ps(bp + v * 8);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      __m256 a = _mm256_broadcast_ss(ap + i);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm256_fmadd_ps(a, b[v], acc[i][v]);
    }
    ap += MR;
    bp += NR;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (csc == 1 && mr == MR && nr == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float *out = c + i * rsc + v * 8;
        __m256 r = _mm256_mul_ps(acc[i][v], va);
        if (beta != 0.0f)
          r = _mm256_fmadd_ps(_mm256_loadu_ps(out), vb, r);
        _mm256_storeu_ps(out, r);
      }
    return;
  }
  alignas(32) float tile[MR * NR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm256_store_ps(tile + i * NR + v * 8, _mm256_mul_ps(acc[i][v], va));
  storeTile<MR, NR>(tile, c, rsc, csc, mr, nr, beta);
}

//===----------------------------------------------------------------------===//
// Portable: plain loops the compiler may vectorize for the baseline ISA
//===----------------------------------------------------------------------===//

template <int MR, int NR>
void portableTile(int64_t k, const float *ap, const float *bp, float *c,
                  int64_t rsc, int64_t csc, int mr, int nr, float alpha,
                  float beta) {
  float tile[MR * NR] = {};
  for (int64_t p = 0; p < k; ++p) {
    for (int i = 0; i < MR; ++i) {
      float a = ap[i];
      for (int j = 0; j < NR; ++j)
        tile[i * NR + j] += a * bp[j];
    }
    ap += MR;
    bp += NR;
  }
  for (float &value : tile)
    value *= alpha;
  storeTile<MR, NR>(tile, c, rsc, csc, mr, nr, beta);
}

} // namespace

// Tile shapes and blocking (mc, kc, nc) measured on Zen 5 (48 KiB L1d, 1 MiB
// L2 per core, shared L3; one 512-bit or two 256-bit FMAs per cycle). In L1
// every AVX-512 shape tried (14x32, 12x32, 8x48, 6x64, 28x16) runs at 99% of
// the FMA peak; in the whole GEMM 6x64 came out ahead (fewest loads per FMA:
// 6 broadcasts + 4 loads per 24 FMAs) by a few percent, its kc x 64 panel of
// B streaming from L2 and the 6 x kc panel of A staying in L1; kc 384 and
// mc 192 (A's block: 288 KiB of L2) were at least as good as the others.
const MicroKernelInfo &avx512Kernel() {
  static const MicroKernelInfo info{"avx512", 6, 64, avx512Tile<6, 4>,
                                    192, 384, 4096};
  return info;
}

// The convolution forward's AVX-512 tile (CpuConv.cpp): 14 output channels
// x 32 output pixels. The conv walks each 14-channel panel of packed
// weights (14 x kc, in L1) across the pixel panels of its im2col block,
// which stream from L2 at 2 vector loads per 28 FMAs, half the bytes per
// FMA of 6x64's 4 per 24; and 32-pixel panels waste less than 64-pixel
// ones on the small late-layer images (7x7 = 49, 14x14 = 196 pixels).
// kc 256 keeps the 32 KiB B panel (kc x 32) in the 48 KiB L1 of the Intel
// cores while weight panels (14 x kc, 14 KiB) stream past it (at kc 384 the
// panel alone fills L1). Alone on panels in L2 the tile ran 214 against 195
// GFLOP per CPU-second at kc 384; inside resnet18's convolutions it and
// the prefetch together stayed within a busy machine's noise (1 thread, 4
// alternated runs: batch 1 154 -> 158, batch 32's 3x3 @28 143 -> 142).
const MicroKernelInfo &avx512ConvKernel() {
  static const MicroKernelInfo info{"avx512", 14, 32, avx512Tile<14, 2>,
                                    196, 256, 4096};
  return info;
}

namespace {
template <int... Rows>
MicroKernel convEdge(int rows, std::integer_sequence<int, Rows...>) {
  static const MicroKernel kernels[] = {nullptr,
                                        avx512Tile<Rows + 1, 2, 14>...};
  return kernels[rows];
}
template <int... Rows>
MicroKernel convStreaming(int rows, std::integer_sequence<int, Rows...>) {
  static const MicroKernel kernels[] = {
      nullptr, avx512Tile<Rows + 1, 2, 14, kConvAPrefetchSteps>...};
  return kernels[rows];
}
} // namespace

MicroKernel avx512ConvEdgeKernel(int rows) {
  return convEdge(rows, std::make_integer_sequence<int, 13>());
}

MicroKernel avx512ConvStreamingKernel(int rows) {
  return convStreaming(rows, std::make_integer_sequence<int, 14>());
}

namespace {

/// avx512Tile's k loop (avx512Product) with a store through runs
/// (TileRuns): one masked store per run and vector that the run covers, at
/// the address where the run's first column goes less its column, so that
/// lane j lands on column j's place (lanes outside the run are masked:
/// nothing is read or written there). The conv forward stored its grid
/// tiles into a scratch block, copied their output columns into y and then
/// ran the epilogue over them: two more passes over every output, 9% of
/// resnet18's forward.
/// Vector v of a row stored through runs: each lane from the run that
/// holds its column (at base + shift[r], in bytes); lanes of no run hold
/// zero and are never stored.
template <int NV>
EMBER_TARGET_AVX512 inline __m512
gatherRuns(intptr_t base, const intptr_t *shift, const __mmask16 (*masks)[NV],
           int count, int v) {
  __m512 got = _mm512_setzero_ps();
  for (int r = 0; r < count; ++r)
    if (masks[r][v])
      got = _mm512_mask_loadu_ps(
          got, masks[r][v],
          reinterpret_cast<const float *>(base + shift[r]) + v * 16);
  return got;
}

template <int MR, int NV, int PA>
EMBER_TARGET_AVX512 void
avx512RunTile(int64_t k, const float *ap, const float *bp, float *c,
              int64_t rsc, const TileRuns &runs, const float *prior,
              int64_t priorStride, const TileFinish *finish) {
  const int count = runs.count;
  __mmask16 masks[TileRuns::kMax][NV];
  // Run r's row i, lane 0 of vector 0 (integer arithmetic: the address
  // may lie before the run, outside C, and is only used masked).
  intptr_t shift[TileRuns::kMax], residualShift[TileRuns::kMax];
  // The lanes some run stores: all that is read of `prior` (a direct
  // grid's last panel may end at y's end).
  __mmask16 stored[NV] = {};
  for (int r = 0; r < count; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      int lo = std::max(runs.begin[r] - v * 16, 0);
      int hi = std::min(runs.end[r] - v * 16, 16);
      masks[r][v] =
          lo < hi ? static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1))
                  : static_cast<__mmask16>(0);
      stored[v] |= masks[r][v];
    }
    shift[r] = (runs.offset[r] - runs.begin[r]) * intptr_t(sizeof(float));
    residualShift[r] =
        (runs.residualOffset[r] - runs.begin[r]) * intptr_t(sizeof(float));
    // Each run's first and last column of every row, fetched during the
    // k loop (rows of y lie far apart).
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const float *row = c + i * rsc + runs.offset[r];
      _mm_prefetch(reinterpret_cast<const char *>(row), _MM_HINT_T0);
      _mm_prefetch(
          reinterpret_cast<const char *>(row + runs.end[r] - runs.begin[r] - 1),
          _MM_HINT_T0);
    }
  }
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[i][v] = _mm512_setzero_ps();
  avx512Product<MR, NV, PA>(k, ap, bp, acc);
  const bool bias = finish && finish->bias;
  const bool residual = finish && finish->residual;
  const bool relu = finish && finish->relu;
  const bool residualFirst = residual && finish->residualFirst;
  const bool residualLast = residual && !finish->residualFirst;
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    const intptr_t row = reinterpret_cast<intptr_t>(c + i * rsc);
    const intptr_t residualRow =
        residual ? reinterpret_cast<intptr_t>(finish->residual +
                                              i * finish->residualStride)
                 : 0;
    const __m512 b =
        bias ? _mm512_set1_ps(finish->bias[i * finish->biasStride]) : zero;
    // Row i's vectors gathered from the runs (each lane from the run
    // that holds its column), finished, then stored run by run: every
    // load of the row before its first store, as the runs' addresses
    // overlap (a load over an earlier masked store waits for it).
    __m512 value[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      value[v] = acc[i][v];
    // GemmEpilogue.cpp's order and operations, so the values match the
    // separate pass's bit for bit.
    if (prior)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        value[v] = _mm512_add_ps(
            _mm512_maskz_loadu_ps(stored[v], prior + i * priorStride + v * 16),
            value[v]);
    if (finish) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        __m512 r = residual ? gatherRuns<NV>(residualRow, residualShift, masks,
                                             count, v)
                            : zero;
        if (bias)
          value[v] = _mm512_add_ps(value[v], b);
        if (residualFirst)
          value[v] = _mm512_add_ps(value[v], r);
        if (relu) // x < 0 ? 0 : x, as GemmEpilogue.cpp (keeps NaN, -0)
          value[v] = _mm512_mask_blend_ps(
              _mm512_cmp_ps_mask(value[v], zero, _CMP_LT_OQ), value[v], zero);
        if (residualLast)
          value[v] = _mm512_add_ps(value[v], r);
      }
    }
    for (int r = 0; r < count; ++r) {
      float *out = reinterpret_cast<float *>(row + shift[r]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        if (masks[r][v])
          _mm512_mask_storeu_ps(out + v * 16, masks[r][v], value[v]);
    }
  }
}

template <int... Rows>
RunKernel convRun(int rows, std::integer_sequence<int, Rows...>) {
  static const RunKernel kernels[] = {nullptr,
                                      avx512RunTile<Rows + 1, 2, 14>...};
  return kernels[rows];
}

} // namespace

RunKernel avx512ConvRunKernel(int rows) {
  return convRun(rows, std::make_integer_sequence<int, 14>());
}

const MicroKernelInfo &avx2Kernel() {
  static const MicroKernelInfo info{"avx2", 6, 16, avx2Tile<6, 2>,
                                    144, 256, 4080};
  return info;
}

const MicroKernelInfo &portableKernel() {
  static const MicroKernelInfo info{"portable", 4, 16, portableTile<4, 16>,
                                    128, 256, 4096};
  return info;
}

} // namespace gemm
} // namespace ember
