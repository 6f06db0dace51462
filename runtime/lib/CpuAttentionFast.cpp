//===- CpuAttentionFast.cpp - AVX-512 flash attention for f32 -------------===//
//
// Forward, per head and group of kGroup query rows: for each block of
// kKeyBlock (64) keys, per micro-tile of up to 6 query rows, the scores
// S = Q K^T (a 6 x 64 register tile: 24 accumulators, each step 4 loads of
// the packed K^T and 6 broadcasts of Q for 24 FMAs), then the online softmax
// on the tile's rows (scale, mask, causal, row max, 16-wide exponentials,
// row sums), then O = O * correction + P V (a 6 x 64 tile of O's columns,
// the correction applied as O is loaded). The K^T a head needs is packed
// once per thread and head ([e][64] per key block, zero past the keys), so
// the score kernel reads it as contiguous vectors; V, the output and the
// accumulators are read in place. A group's key block (K^T and V, 32 KB at
// head size 64) stays in L1 while the group's micro-tiles use it. Causal
// attention skips the key blocks after a micro-tile's last row.
//
// Backward, per head: D = rowsum(dO * O); for each key block, dK and dV of
// the block accumulate in a buffer while every group of query rows (from the
// block's first key on, causal) adds: P = exp(S - lse) recomputed from the
// packed K^T, dP = dO V^T (V^T packed like K^T), dS = P (dP - D) * scale;
// dV += P^T dO, dK += dS^T Q, dQ += dS K, all on the same micro-kernel.
//
// Heads (and, forward, query groups) run in parallel on the thread pool.
// Every buffer is thread-local and only grows. The softmax works in base 2:
// logits t = (s * scale + mask) log2(e), weights 2^(t - max) by a degree-6
// polynomial and vscalefps (relative error ~1.2e-7, like the portable
// kernels' exp), the scale folded into the one fused pass when no mask.
//
//===----------------------------------------------------------------------===//

#include "CpuAttentionFast.h"

#include "ember/Runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ember {
namespace attention {

#if defined(__x86_64__)
namespace {

#define EMBER_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

constexpr int64_t kKeyBlock = 64;   // keys per block: 4 vectors
constexpr int64_t kMicroRows = 6;   // query rows per register tile
constexpr int64_t kGroup = 48;      // query rows sharing a key block in L1
constexpr int64_t kMaxHead = 512;   // e and ev the kernels take

/// C[r][0..n) (+)= sum_p a[r * aRow + p * aK] * b[p * bK + 0..n) for r in
/// [0, MR), n <= NV * 16 (the last vector masked by `last`). `mode`: 0
/// C = A B; 1 C += A B; 2 C = C * rowScale[r] + A B.
template <int MR, int NV>
EMBER_TARGET_AVX512 void tile(int64_t k, const float *a, int64_t aRow,
                              int64_t aK, const float *b, int64_t bK, float *c,
                              int64_t cRow, __mmask16 last, int mode,
                              const float *rowScale) {
  __m512 acc[MR][NV];
  auto maskOf = [&](int v) { return v == NV - 1 ? last : __mmask16(0xFFFF); };
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (mode == 0) {
        acc[r][v] = _mm512_setzero_ps();
        continue;
      }
      acc[r][v] = _mm512_maskz_loadu_ps(maskOf(v), c + r * cRow + v * 16);
      if (mode == 2)
        acc[r][v] = _mm512_mul_ps(acc[r][v], _mm512_set1_ps(rowScale[r]));
    }
  if (aK == 1) {
    for (int64_t p = 0; p < k; ++p) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        bv[v] = _mm512_maskz_loadu_ps(maskOf(v), b + v * 16);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m512 av = _mm512_set1_ps(a[r * aRow + p]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
          acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
      }
      b += bK;
    }
  } else {
    for (int64_t p = 0; p < k; ++p) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        bv[v] = _mm512_maskz_loadu_ps(maskOf(v), b + v * 16);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m512 av = _mm512_set1_ps(a[r * aRow]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
          acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
      }
      a += aK;
      b += bK;
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(c + r * cRow + v * 16, maskOf(v), acc[r][v]);
}

using TileFn = void (*)(int64_t, const float *, int64_t, int64_t,
                        const float *, int64_t, float *, int64_t, __mmask16,
                        int, const float *);

template <int MR>
constexpr TileFn tileFor(int nv) {
  return nv == 1   ? tile<MR, 1>
         : nv == 2 ? tile<MR, 2>
         : nv == 3 ? tile<MR, 3>
                   : tile<MR, 4>;
}

TileFn tileFor(int mr, int nv) {
  switch (mr) {
  case 1:
    return tileFor<1>(nv);
  case 2:
    return tileFor<2>(nv);
  case 3:
    return tileFor<3>(nv);
  case 4:
    return tileFor<4>(nv);
  case 5:
    return tileFor<5>(nv);
  default:
    return tileFor<6>(nv);
  }
}

/// The rows of the next micro-tile when `left` rows remain: 6, but 7..9
/// rows split in two near-equal tiles (a 1..3-row tile wastes most of the
/// loads it makes).
inline int64_t microRows(int64_t left) {
  if (left > kMicroRows && left < kMicroRows + 4)
    return (left + 1) / 2;
  return std::min(kMicroRows, left);
}

/// C (m x n) (+)= A (m x k) B (k x n) with A read as a[i * aRow + p * aK],
/// B's rows contiguous (b[p * bK + j]), C's too: micro-tiles of 6 rows and
/// up to 64 columns. `rowScale` (mode 2) is indexed by C's row.
void product(int64_t m, int64_t n, int64_t k, const float *a, int64_t aRow,
             int64_t aK, const float *b, int64_t bK, float *c, int64_t cRow,
             int mode, const float *rowScale = nullptr) {
  for (int64_t j = 0; j < n; j += 64) {
    int64_t cols = std::min<int64_t>(64, n - j);
    int nv = static_cast<int>((cols + 15) / 16);
    int tail = static_cast<int>(cols - (nv - 1) * 16);
    __mmask16 last = static_cast<__mmask16>((1u << tail) - 1);
    for (int64_t i = 0, mr; i < m; i += mr) {
      mr = microRows(m - i);
      tileFor(static_cast<int>(mr), nv)(k, a + i * aRow, aRow, aK, b + j, bK, c + i * cRow + j,
                      cRow, last, mode, rowScale ? rowScale + i : nullptr);
    }
  }
}

/// 2^t for 16 floats: t = n + r, |r| <= 1/2, 2^r by its degree-6 Taylor
/// polynomial in r ln 2 (relative error ~1.2e-7), times 2^n by vscalefps.
/// t below -150 (the -inf of masked logits included) gives 0.
EMBER_TARGET_AVX512 inline __m512 exp2x16(__m512 t) {
  t = _mm512_max_ps(t, _mm512_set1_ps(-150.0f)); // NaN -> -150 too
  __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT |
                                         _MM_FROUND_NO_EXC);
  __m512 r = _mm512_sub_ps(t, n);
  __m512 p = _mm512_set1_ps(1.5403530e-4f); // ln2^6 / 6!
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3333558e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.6181291e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.5504109e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4022651e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.9314718e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

/// The lanes of a key block row that hold keys: the first `cols`, and for
/// causal attention those up to `lastKey` (block-relative; may be < 0).
EMBER_TARGET_AVX512 inline __mmask16 liveLanes(int v, int64_t cols,
                                               int64_t lastKey) {
  int64_t live = std::min(cols, lastKey + 1) - v * 16;
  if (live <= 0)
    return 0;
  return live >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << live) - 1);
}

/// How one key block's raw scores (q . k) become base-2 logits
/// t = (s * scale + mask) * log2(e), -inf outside the keys and the causal
/// limit.
struct Logits {
  float scale2;          // scale * log2(e)
  const float *maskRow;  // the mask's row at the block's first key, or null
  int64_t maskCs, cols, lastKey;
};

/// A score row's logits in place; returns their max. With no mask and a
/// positive scale the row is left raw (`rawRow` true) and the max is that
/// of the logits all the same: exp2Row folds the scaling in.
EMBER_TARGET_AVX512 inline float logitsRow(float *row, const Logits &l,
                                           bool rawRow) {
  const __m512 negInf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 best = negInf;
  if (rawRow) {
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      best = _mm512_mask_max_ps(best, liveLanes(v, l.cols, l.lastKey), best,
                                _mm512_loadu_ps(row + v * 16));
    float m = _mm512_reduce_max_ps(best);
    return m * l.scale2; // -inf stays -inf
  }
  const __m512 vscale = _mm512_set1_ps(l.scale2), vlog2e = _mm512_set1_ps(kLog2e);
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) {
    __mmask16 live = liveLanes(v, l.cols, l.lastKey);
    __m512 x = _mm512_mul_ps(_mm512_loadu_ps(row + v * 16), vscale);
    if (l.maskRow) {
      __m512 m;
      if (l.maskCs == 1)
        m = _mm512_maskz_loadu_ps(live, l.maskRow + v * 16);
      else {
        alignas(64) float lanes[16] = {};
        for (int t = 0; t < 16 && v * 16 + t < l.cols; ++t)
          lanes[t] = l.maskRow[(v * 16 + t) * l.maskCs];
        m = _mm512_load_ps(lanes);
      }
      x = _mm512_fmadd_ps(m, vlog2e, x);
    }
    x = _mm512_mask_mov_ps(negInf, live, x);
    _mm512_storeu_ps(row + v * 16, x);
    best = _mm512_max_ps(best, x);
  }
  return _mm512_reduce_max_ps(best);
}

/// row = 2^(t - shift) over the 64 lanes, t the logits (raw scores times
/// l.scale2 when `rawRow`); 0 outside the live lanes. Returns the sum.
EMBER_TARGET_AVX512 inline float exp2Row(float *row, const Logits &l,
                                         bool rawRow, float shift) {
  const __m512 vshift = _mm512_set1_ps(shift);
  const __m512 vscale = _mm512_set1_ps(rawRow ? l.scale2 : 1.0f);
  __m512 sum = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) {
    __m512 t = _mm512_fmsub_ps(_mm512_loadu_ps(row + v * 16), vscale, vshift);
    __m512 e = _mm512_maskz_mov_ps(liveLanes(v, l.cols, l.lastKey), exp2x16(t));
    _mm512_storeu_ps(row + v * 16, e);
    sum = _mm512_add_ps(sum, e);
  }
  return _mm512_reduce_add_ps(sum);
}

/// A growing thread-local buffer (64-byte aligned), never freed.
struct Buffer {
  std::vector<float> storage;
  float *get(int64_t n) {
    if (static_cast<int64_t>(storage.size()) < n + 16)
      storage.resize(static_cast<size_t>(n + 16));
    auto address = reinterpret_cast<uintptr_t>(storage.data());
    return storage.data() + ((64 - address % 64) % 64) / sizeof(float);
  }
};

/// dst[j * ds + i] = src[i * rs + j] for a 16 x 16 block (unpacks, then
/// 128-bit lane shuffles).
EMBER_TARGET_AVX512 void transpose16(const float *src, int64_t rs, float *dst, int64_t ds) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * rs);
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]),
            c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
    t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xdd);
    t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
    t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
    r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
    r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xdd);
  }
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * ds, r[i]);
}
/// x^T of one head packed per key block: block kb holds [cols][64]
/// (element (p, jj) = x[kb * 64 + jj][p]), zero past the last key.
EMBER_TARGET_AVX512 void packTransposed(const float *x, int64_t rs,
                                        int64_t cs, int64_t keys, int64_t cols,
                                        float *packed) {
  int64_t blocks = (keys + kKeyBlock - 1) / kKeyBlock;
  for (int64_t kb = 0; kb < blocks; ++kb) {
    float *dst = packed + kb * cols * kKeyBlock;
    int64_t n = std::min(kKeyBlock, keys - kb * kKeyBlock);
    if (n < kKeyBlock)
      std::memset(dst, 0, sizeof(float) * cols * kKeyBlock);
    const float *src = x + kb * kKeyBlock * rs;
    for (int64_t j0 = 0; j0 < n; j0 += 16)
      for (int64_t p0 = 0; p0 < cols; p0 += 16) {
        if (cs == 1 && j0 + 16 <= n && p0 + 16 <= cols) {
          transpose16(src + j0 * rs + p0, rs, dst + p0 * kKeyBlock + j0,
                      kKeyBlock);
          continue;
        }
        for (int64_t jj = j0; jj < std::min(n, j0 + 16); ++jj)
          for (int64_t p = p0; p < std::min(cols, p0 + 16); ++p)
            dst[p * kKeyBlock + jj] = src[jj * rs + p * cs];
      }
  }
}

std::atomic<bool> fastEnabled{true};
std::atomic<uint64_t> callCounter{0};

/// Each thread's buffers and which head its packed K^T holds.
struct ThreadState {
  Buffer packedK, packedV, scores, acc, stats, grads, blockGrads;
  uint64_t packedCall = ~uint64_t(0);
  int64_t packedHead = -1;
};

ThreadState &threadState() {
  static thread_local ThreadState state;
  return state;
}

int64_t keyBlocks(const FastProblem &p) {
  return (p.s + kKeyBlock - 1) / kKeyBlock;
}

/// The packed K^T of head b on this thread (packs it unless it holds it).
const float *packedKeys(const FastProblem &p, int64_t b, uint64_t call,
                        ThreadState &state) {
  float *packed = state.packedK.get(keyBlocks(p) * p.e * kKeyBlock);
  if (state.packedCall != call || state.packedHead != b) {
    packTransposed(p.k.row(b, 0), p.k.rs, p.k.cs, p.s, p.e, packed);
    state.packedCall = call;
    state.packedHead = b;
  }
  return packed;
}

/// Query rows [i0, i0 + rows) of head b.
EMBER_TARGET_AVX512 void forwardGroup(const FastProblem &p, int64_t b,
                                      int64_t i0, int64_t rows, uint64_t call) {
  ThreadState &state = threadState();
  const float *kt = packedKeys(p, b, call, state);
  float *scores = state.scores.get(kMicroRows * kKeyBlock);
  float *acc = state.acc.get(kGroup * p.ev);
  float *stats = state.stats.get(3 * kGroup);
  float *runMax = stats, *runSum = stats + kGroup, *correction = runSum + kGroup;
  const float negInf = -std::numeric_limits<float>::infinity();
  std::fill(acc, acc + rows * p.ev, 0.0f);
  std::fill(runMax, runMax + rows, negInf);
  std::fill(runSum, runSum + rows, 0.0f);
  int64_t end = p.causal ? std::min(p.s, i0 + rows) : p.s;
  const float *q = p.q.row(b, 0);
  const float *v = p.v.row(b, 0);
  // Logits in base 2 (exp2 is the cheaper polynomial); runMax too.
  const float scale2 = p.scale * kLog2e;
  const bool rawRows = !p.hasMask && scale2 > 0;
  for (int64_t j0 = 0; j0 < end; j0 += kKeyBlock) {
    int64_t cols = std::min(kKeyBlock, p.s - j0);
    const float *ktBlock = kt + (j0 / kKeyBlock) * p.e * kKeyBlock;
    for (int64_t t = 0, mr; t < rows; t += mr) {
      mr = microRows(rows - t);
      int64_t first = i0 + t;
      // Causal: the tile's last row sees keys up to first + mr - 1.
      if (p.causal && j0 > first + mr - 1)
        continue;
      // Only the keys some row of the tile sees (diagonal blocks), in whole
      // vectors; the lanes past them are masked below.
      int64_t live = p.causal ? std::min(cols, first + mr - j0) : cols;
      product(mr, (live + 15) / 16 * 16, p.e, q + first * p.q.rs, p.q.rs,
              p.q.cs, ktBlock, kKeyBlock, scores, kKeyBlock, 0);
      // Row maxima first, then the exponentials: each phase's rows are
      // independent chains (horizontal reductions) the core overlaps.
      float blockMax[kMicroRows];
      for (int64_t r = 0; r < mr; ++r) {
        int64_t i = first + r;
        Logits logits{scale2,
                      p.hasMask ? p.mask.row(b, i) + j0 * p.mask.cs : nullptr,
                      p.mask.cs, cols, p.causal ? i - j0 : kKeyBlock};
        blockMax[r] = logitsRow(scores + r * kKeyBlock, logits, rawRows);
      }
      for (int64_t r = 0; r < mr; ++r) {
        int64_t i = first + r, g = t + r;
        float *row = scores + r * kKeyBlock;
        float newMax = std::max(runMax[g], blockMax[r]);
        if (newMax == negInf) { // every key so far masked: nothing to add
          std::memset(row, 0, sizeof(float) * kKeyBlock);
          correction[g] = 1.0f;
          continue;
        }
        Logits logits{scale2, nullptr, 0, cols,
                      p.causal ? i - j0 : kKeyBlock};
        correction[g] = std::exp2(runMax[g] - newMax);
        runSum[g] =
            runSum[g] * correction[g] + exp2Row(row, logits, rawRows, newMax);
        runMax[g] = newMax;
      }
      product(mr, p.ev, live, scores, kKeyBlock, 1, v + j0 * p.v.rs, p.v.rs,
              acc + t * p.ev, p.ev, 2, correction + t);
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    // A row with every key masked: 0 / 0, NaN, as torch's softmax gives.
    const float inverse = 1.0f / runSum[r];
    float *out = p.out.row(b, i0 + r);
    const float *a = acc + r * p.ev;
    const __m512 vinv = _mm512_set1_ps(inverse);
    for (int64_t x = 0; x < p.ev; x += 16) {
      __mmask16 m = p.ev - x >= 16 ? __mmask16(0xFFFF)
                                   : __mmask16((1u << (p.ev - x)) - 1);
      _mm512_mask_storeu_ps(out + x, m,
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + x), vinv));
    }
    p.lse[b * p.lseBs + (i0 + r) * p.lseCs] =
        runMax[r] * kLn2 + std::log(runSum[r]);
  }
}

/// One head's dq, dk, dv.
EMBER_TARGET_AVX512 void backwardHead(const FastProblem &p, const Matrix &grad,
                                      const Matrix &dq, const Matrix &dk,
                                      const Matrix &dv, int64_t b,
                                      uint64_t call) {
  ThreadState &state = threadState();
  const float *kt = packedKeys(p, b, call, state);
  float *vt = state.packedV.get(keyBlocks(p) * p.ev * kKeyBlock);
  packTransposed(p.v.row(b, 0), p.v.rs, p.v.cs, p.s, p.ev, vt);
  // Per group: P and dS ([kGroup][64] each), dP of one micro-tile.
  float *probs = state.scores.get(2 * kGroup * kKeyBlock + kMicroRows * kKeyBlock);
  float *dscores = probs + kGroup * kKeyBlock;
  float *dprobs = dscores + kGroup * kKeyBlock;
  float *rowDot = state.stats.get(p.l);
  float *blockGrads = state.blockGrads.get(kKeyBlock * (p.e + p.ev));
  float *dkBlock = blockGrads, *dvBlock = blockGrads + kKeyBlock * p.e;
  const float *q = p.q.row(b, 0), *k = p.k.row(b, 0);
  const float *g = grad.row(b, 0);
  const float scale2 = p.scale * kLog2e;
  for (int64_t i = 0; i < p.l; ++i) {
    const float *gi = grad.row(b, i), *oi = p.out.row(b, i);
    float sum = 0;
    for (int64_t x = 0; x < p.ev; ++x)
      sum += gi[x * grad.cs] * oi[x * p.out.cs];
    rowDot[i] = sum;
    std::memset(dq.row(b, i), 0, sizeof(float) * p.e);
  }
  for (int64_t j0 = 0; j0 < p.s; j0 += kKeyBlock) {
    int64_t cols = std::min(kKeyBlock, p.s - j0);
    const float *ktBlock = kt + (j0 / kKeyBlock) * p.e * kKeyBlock;
    const float *vtBlock = vt + (j0 / kKeyBlock) * p.ev * kKeyBlock;
    std::fill(blockGrads, blockGrads + kKeyBlock * (p.e + p.ev), 0.0f);
    // Causal: query rows before j0 see none of these keys.
    int64_t iStart = p.causal ? std::min(p.l, j0) : 0;
    for (int64_t i0 = iStart; i0 < p.l; i0 += kGroup) {
      int64_t rows = std::min(kGroup, p.l - i0);
      for (int64_t t = 0, mr; t < rows; t += mr) {
        mr = microRows(rows - t);
        int64_t first = i0 + t;
        float *pTile = probs + t * kKeyBlock;
        float *dsTile = dscores + t * kKeyBlock;
        // The keys some row of the tile sees, in whole vectors (P is 0
        // past them, dS is made 0).
        int64_t live = p.causal ? std::min(cols, first + mr - j0) : cols;
        int64_t width = (live + 15) / 16 * 16;
        product(mr, width, p.e, q + first * p.q.rs, p.q.rs, p.q.cs, ktBlock,
                kKeyBlock, pTile, kKeyBlock, 0);
        product(mr, width, p.ev, g + first * grad.rs, grad.rs, grad.cs,
                vtBlock, kKeyBlock, dprobs, kKeyBlock, 0);
        for (int64_t r = 0; r < mr; ++r) {
          int64_t i = first + r;
          float *row = pTile + r * kKeyBlock;
          Logits logits{scale2,
                        p.hasMask ? p.mask.row(b, i) + j0 * p.mask.cs
                                  : nullptr,
                        p.mask.cs, cols, p.causal ? i - j0 : kKeyBlock};
          if (p.hasMask)
            logitsRow(row, logits, /*rawRow=*/false);
          exp2Row(row, logits, /*rawRow=*/!p.hasMask,
                  p.lse[b * p.lseBs + i * p.lseCs] * kLog2e);
          const __m512 d = _mm512_set1_ps(rowDot[i]);
          const __m512 vscale = _mm512_set1_ps(p.scale);
          const float *dpRow = dprobs + r * kKeyBlock;
          float *dsRow = dsTile + r * kKeyBlock;
#pragma GCC unroll 4
          for (int x = 0; x < 4; ++x) {
            __m512 pr = _mm512_loadu_ps(row + x * 16);
            __m512 ds = _mm512_mul_ps(
                pr, _mm512_sub_ps(_mm512_loadu_ps(dpRow + x * 16), d));
            _mm512_storeu_ps(dsRow + x * 16,
                             _mm512_maskz_mul_ps(liveLanes(x, live, kKeyBlock),
                                                 ds, vscale));
          }
        }
      }
      // dV[j] += P^T dO; dK[j] += dS^T Q; dQ[i] += dS K.
      product(cols, p.ev, rows, probs, 1, kKeyBlock, g + i0 * grad.rs, grad.rs,
              dvBlock, p.ev, 1);
      product(cols, p.e, rows, dscores, 1, kKeyBlock, q + i0 * p.q.rs, p.q.rs,
              dkBlock, p.e, 1);
      product(rows, p.e, cols, dscores, kKeyBlock, 1, k + j0 * p.k.rs, p.k.rs,
              dq.row(b, i0), dq.rs, 1);
    }
    for (int64_t jj = 0; jj < cols; ++jj) {
      std::memcpy(dk.row(b, j0 + jj), dkBlock + jj * p.e, sizeof(float) * p.e);
      std::memcpy(dv.row(b, j0 + jj), dvBlock + jj * p.ev,
                  sizeof(float) * p.ev);
    }
  }
}

} // namespace

bool fastAttentionApplies(const FastProblem &p, bool backward,
                          const Matrix *grad, const Matrix *dq,
                          const Matrix *dk, const Matrix *dv) {
  static const bool haveAvx512 = __builtin_cpu_supports("avx512f");
  if (!haveAvx512 || !fastEnabled.load(std::memory_order_relaxed))
    return false;
  if (p.e < 1 || p.ev < 1 || p.e > kMaxHead || p.ev > kMaxHead)
    return false;
  // Operands read or written as vectors need unit column strides.
  if (p.v.cs != 1 || p.out.cs != 1)
    return false;
  if (backward && (p.q.cs != 1 || p.k.cs != 1 || grad->cs != 1 ||
                   dq->cs != 1 || dk->cs != 1 || dv->cs != 1))
    return false;
  return true;
}

void fastAttentionForward(const FastProblem &p) {
  int64_t groups = (p.l + kGroup - 1) / kGroup;
  if (p.batch == 0 || groups == 0)
    return;
  uint64_t call = callCounter.fetch_add(1) + 1;
  // Tasks in head order: a thread's consecutive tasks share the packed K^T.
  ember::parallelFor(0, p.batch * groups, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; ++task) {
      int64_t b = task / groups, i0 = (task % groups) * kGroup;
      forwardGroup(p, b, i0, std::min(kGroup, p.l - i0), call);
    }
  });
}

void fastAttentionBackward(const FastProblem &p, const Matrix &grad,
                           const Matrix &dq, const Matrix &dk,
                           const Matrix &dv) {
  if (p.batch == 0)
    return;
  uint64_t call = callCounter.fetch_add(1) + 1;
  ember::parallelFor(0, p.batch, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      if (p.l == 0) { // no query: every key's gradient is zero
        for (int64_t j = 0; j < p.s; ++j) {
          std::memset(dk.row(b, j), 0, sizeof(float) * p.e);
          std::memset(dv.row(b, j), 0, sizeof(float) * p.ev);
        }
        continue;
      }
      backwardHead(p, grad, dq, dk, dv, b, call);
    }
  });
}

bool setFastAttentionEnabled(bool enabled) {
  return fastEnabled.exchange(enabled);
}

#else // !__x86_64__

bool fastAttentionApplies(const FastProblem &, bool, const Matrix *,
                          const Matrix *, const Matrix *, const Matrix *) {
  return false;
}
void fastAttentionForward(const FastProblem &) {}
void fastAttentionBackward(const FastProblem &, const Matrix &, const Matrix &,
                           const Matrix &, const Matrix &) {}
bool setFastAttentionEnabled(bool) { return false; }

#endif

} // namespace attention
} // namespace ember
