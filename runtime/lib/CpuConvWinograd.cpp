//===- CpuConvWinograd.cpp - Winograd F(4x4, 3x3) convolution -------------===//
//
// See CpuConvWinograd.h; F(2x2, 3x3) for small planes at the end of the
// file. Points 0, +-1, +-2 (and infinity): B^T, G and
// A^T are the usual F(4x4, 3x3) matrices (Lavin and Gray, 2015).
//
// A task is a block of whole tile rows (4 output rows of one image each,
// consecutive rows possibly of several images) and a chunk of output
// channels. Its tiles are numbered densely, t = 0..T-1, and live in vector
// lanes: V[point][channel][t] and M[point][output channel][t].
// - The input transform takes the tiles of a tile row 16 at a time: it
//   loads the 6 input rows under them (masked loads zero the padding),
//   splits each into the 6 columns of every tile (permutes of 4-floats-
//   apart elements), then applies B^T along the row and down the column.
// - The GEMMs: for each of the 36 points, M = U V, a register tile of 8
//   output channels x 48 tiles (24 zmm accumulators; U packed 16 channels
//   wide, so the 8 broadcasts of a step share a line).
// - The output transform reads the 36 points of 16 tiles, applies A^T
//   down and along, interleaves the 4 columns of each tile back into
//   pixels and finishes them (bias, relu, residual) at the masked store.
//
//===----------------------------------------------------------------------===//

#include "CpuConvWinograd.h"

#include "ScratchBuffer.h"

#include "ember/Runtime/ThreadPool.h"
#include "ember/Runtime/Threads.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace ember {
namespace conv {
namespace {

#define EMBER_WINO_TARGET __attribute__((target("avx512f,fma")))
#define EMBER_WINO_INLINE inline __attribute__((always_inline))

/// Outputs per tile side, inputs per tile side, points per tile.
constexpr int kOut = 4, kAlpha = 6, kPoints = kAlpha * kAlpha;
/// Output channels per GEMM register tile; U is packed kPack wide.
constexpr int kRows = 8, kPack = 16;

bool haveAvx512() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  }();
  return have;
}

int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/// w = B^T d: one side of the input transform, on 16 tiles at once.
EMBER_WINO_TARGET EMBER_WINO_INLINE void inputSide(const __m512 (&d)[kAlpha],
                                                   __m512 (&w)[kAlpha]) {
  const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f),
               two = _mm512_set1_ps(2.0f);
  w[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
  const __m512 a = _mm512_add_ps(d[1], d[2]), b = _mm512_add_ps(d[3], d[4]);
  w[1] = _mm512_fnmadd_ps(four, a, b);
  const __m512 c = _mm512_sub_ps(d[1], d[2]), e = _mm512_sub_ps(d[4], d[3]);
  w[2] = _mm512_fmadd_ps(four, c, e);
  const __m512 f = _mm512_sub_ps(d[3], d[1]), h = _mm512_sub_ps(d[4], d[2]);
  w[3] = _mm512_fmadd_ps(two, f, h);
  w[4] = _mm512_fnmadd_ps(two, f, h);
  w[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

/// y = A^T m: one side of the output transform.
EMBER_WINO_TARGET EMBER_WINO_INLINE void outputSide(const __m512 (&m)[kAlpha],
                                                    __m512 (&y)[kOut]) {
  const __m512 a = _mm512_add_ps(m[1], m[2]), b = _mm512_sub_ps(m[1], m[2]);
  const __m512 c = _mm512_add_ps(m[3], m[4]), d = _mm512_sub_ps(m[3], m[4]);
  y[0] = _mm512_add_ps(_mm512_add_ps(m[0], a), c);
  y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d, b);
  y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), c, a);
  y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d, b), m[5]);
}

/// Lane masks of the loads and stores of one vector of 16 tiles in a tile
/// row: input columns inside x, output columns inside y.
struct VectorMasks {
  __mmask16 load[5];
  __mmask16 store[4];
};

__mmask16 rangeMask(int64_t first, int64_t end) {
  // Lanes l with first + l in [0, end).
  const int64_t lo = std::clamp<int64_t>(-first, 0, 16);
  const int64_t hi = std::clamp<int64_t>(end - first, 0, 16);
  if (hi <= lo)
    return 0;
  return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/// The geometry every task shares.
struct Plan {
  DirectShape s;
  int64_t tilesH, tilesW, vectorsPerRow;
  int64_t ocPad;                // output channels rounded up to kPack
  int64_t chunkChannels;        // output channels per task (a kPack multiple)
  std::vector<VectorMasks> masks; // per vector of a tile row
};

/// One task's tile rows [row0, row1) of the batch's rows (image = row /
/// tilesH) and their dense tile numbering.
struct Block {
  int64_t row0, row1, tiles, stride; // stride: t's stride, tiles rounded to 16
};

/// The 16 tiles from tile column 16 * v of tile row `tr` of one channel
/// plane, transformed into V (row stride `stride`: V[point] is `pointStride`
/// floats apart) at tile t0. Stores all 16 lanes: the lanes past the row's
/// tiles are overwritten by the next row's (or fall in the padding).
EMBER_WINO_TARGET void transformInput(const Plan &p, const float *plane,
                                      int64_t xRow, int64_t tr, int64_t v,
                                      float *out, int64_t pointStride) {
  const DirectShape &s = p.s;
  const VectorMasks &mask = p.masks[v];
  const int64_t base = 64 * v - s.padW;
  // idx[j]: element 4l + j of 32 floats in lanes l and l + 8.
  alignas(64) static const int32_t deal[4][16] = {
      {0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28},
      {1, 5, 9, 13, 17, 21, 25, 29, 1, 5, 9, 13, 17, 21, 25, 29},
      {2, 6, 10, 14, 18, 22, 26, 30, 2, 6, 10, 14, 18, 22, 26, 30},
      {3, 7, 11, 15, 19, 23, 27, 31, 3, 7, 11, 15, 19, 23, 27, 31}};
  __m512 h[kAlpha][kAlpha]; // [input row][B^T along the row]
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < kAlpha; ++i) {
    const int64_t ih = kOut * tr - s.padH + i;
    if (ih < 0 || ih >= s.inH) {
      for (int l = 0; l < kAlpha; ++l)
        h[i][l] = zero;
      continue;
    }
    const float *src = plane + ih * xRow + base;
    // The next tile row's 4 new input rows (x streams from memory; the
    // hardware prefetchers lagged behind these short runs of each plane).
    if (i >= 2 && ih + kOut < s.inH)
#pragma GCC unroll 5
      for (int q = 0; q < 5; ++q)
        _mm_prefetch(reinterpret_cast<const char *>(src + kOut * xRow + 16 * q),
                     _MM_HINT_T0);
    __m512 z[5];
#pragma GCC unroll 5
    for (int q = 0; q < 5; ++q)
      z[q] = _mm512_maskz_loadu_ps(mask.load[q], src + 16 * q);
    __m512 d[kAlpha];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m512i idx =
          _mm512_load_si512(reinterpret_cast<const void *>(deal[j]));
      const __m512 lo = _mm512_permutex2var_ps(z[0], idx, z[1]);
      const __m512 hi = _mm512_permutex2var_ps(z[2], idx, z[3]);
      d[j] = _mm512_mask_blend_ps(0xFF00, lo, hi);
    }
    // Columns 4 and 5 are the next tile's 0 and 1.
    const __m512i next = _mm512_castps_si512(z[4]);
    d[4] = _mm512_castsi512_ps(
        _mm512_alignr_epi32(next, _mm512_castps_si512(d[0]), 1));
    d[5] = _mm512_castsi512_ps(_mm512_alignr_epi32(
        _mm512_alignr_epi32(next, next, 1), _mm512_castps_si512(d[1]), 1));
    inputSide(d, h[i]);
  }
#pragma GCC unroll 6
  for (int l = 0; l < kAlpha; ++l) {
    __m512 column[kAlpha], w[kAlpha];
#pragma GCC unroll 6
    for (int i = 0; i < kAlpha; ++i)
      column[i] = h[i][l];
    inputSide(column, w);
#pragma GCC unroll 6
    for (int k = 0; k < kAlpha; ++k)
      _mm512_storeu_ps(out + (k * kAlpha + l) * pointStride, w[k]);
  }
}

/// m[r][q] = sum_c u[c][r] v[c][16 q + lane] for R rows r (8, or 16: a
/// whole line of U per channel) and Q vectors q: u is U at the tile's first
/// row (rows kPack apart per channel), v and m have rows `vStride` and
/// `mStride` floats apart. Prefetch: U `ahead` floats on into L1 and 4x
/// that into L2, each step.
template <int Q, int R = kRows, bool Prefetch = false>
EMBER_WINO_TARGET void multiplyTile(const float *u, const float *v,
                                    int64_t channels, int64_t vStride,
                                    float *m, int64_t mStride,
                                    int64_t ahead = 0) {
  __m512 acc[R][Q];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int q = 0; q < Q; ++q)
      acc[r][q] = _mm512_setzero_ps();
  for (int64_t c = 0; c < channels; ++c, u += kPack, v += vStride) {
    if (Prefetch) {
      _mm_prefetch(reinterpret_cast<const char *>(u + ahead), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char *>(u + 4 * ahead),
                   _MM_HINT_T1);
    }
    __m512 b[Q];
#pragma GCC unroll 3
    for (int q = 0; q < Q; ++q)
      b[q] = _mm512_loadu_ps(v + 16 * q);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(u[r]);
#pragma GCC unroll 3
      for (int q = 0; q < Q; ++q)
        acc[r][q] = _mm512_fmadd_ps(a, b[q], acc[r][q]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int q = 0; q < Q; ++q)
      _mm512_storeu_ps(m + r * mStride + 16 * q, acc[r][q]);
}

/// Everything the output transform of one output channel applies at the
/// store (DirectFinish at the channel of one image).
struct ChannelFinish {
  float bias = 0.0f;
  const float *residual = nullptr; // the channel's plane
  int64_t residualRow = 0;
  bool relu = false, residualFirst = false;
};

/// The 16 tiles from tile column 16 * v of tile row `tr` of one output
/// channel: M at tile t0 (points `pointStride` apart) transformed back and
/// stored into the channel's plane of y.
EMBER_WINO_TARGET void transformOutput(const Plan &p, const float *m,
                                       int64_t pointStride, int64_t tr,
                                       int64_t v, float *plane, int64_t yRow,
                                       const ChannelFinish &f) {
  const DirectShape &s = p.s;
  const VectorMasks &mask = p.masks[v];
  alignas(64) static const int32_t pairs[2][16] = {
      {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23},
      {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}};
  alignas(64) static const int32_t quads[2][16] = {
      {0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23},
      {8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31}};
  __m512 z[kOut][kAlpha]; // [output row][point along the row]
#pragma GCC unroll 6
  for (int l = 0; l < kAlpha; ++l) {
    __m512 column[kAlpha], y[kOut];
#pragma GCC unroll 6
    for (int k = 0; k < kAlpha; ++k)
      column[k] = _mm512_loadu_ps(m + (k * kAlpha + l) * pointStride);
    outputSide(column, y);
#pragma GCC unroll 4
    for (int r = 0; r < kOut; ++r)
      z[r][l] = y[r];
  }
  const __m512i pairLo = _mm512_load_si512(pairs[0]);
  const __m512i pairHi = _mm512_load_si512(pairs[1]);
  const __m512i quadLo = _mm512_load_si512(quads[0]);
  const __m512i quadHi = _mm512_load_si512(quads[1]);
  const __m512 bias = _mm512_set1_ps(f.bias), zero = _mm512_setzero_ps();
  for (int r = 0; r < kOut; ++r) {
    const int64_t oh = kOut * tr + r;
    if (oh >= s.outH)
      break;
    __m512 y[kOut];
    outputSide(z[r], y);
    // y[c] holds column c of the 16 tiles: pixels 4 l + c.
    const __m512 p01lo = _mm512_permutex2var_ps(y[0], pairLo, y[1]);
    const __m512 p01hi = _mm512_permutex2var_ps(y[0], pairHi, y[1]);
    const __m512 p23lo = _mm512_permutex2var_ps(y[2], pairLo, y[3]);
    const __m512 p23hi = _mm512_permutex2var_ps(y[2], pairHi, y[3]);
    __m512 pixels[4] = {_mm512_permutex2var_ps(p01lo, quadLo, p23lo),
                        _mm512_permutex2var_ps(p01lo, quadHi, p23lo),
                        _mm512_permutex2var_ps(p01hi, quadLo, p23hi),
                        _mm512_permutex2var_ps(p01hi, quadHi, p23hi)};
    float *out = plane + oh * yRow + 64 * v;
    const float *res =
        f.residual ? f.residual + oh * f.residualRow + 64 * v : nullptr;
    // The next tile row's lines of y and of the residual: their loads
    // missed the cache for 40% of this function's time without.
    if (oh + kOut < s.outH)
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        if (!mask.store[q])
          break;
        __builtin_prefetch(out + kOut * yRow + 16 * q, 1, 3);
        if (res)
          __builtin_prefetch(res + kOut * f.residualRow + 16 * q, 0, 3);
      }
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      const __mmask16 lanes = mask.store[q];
      if (!lanes)
        break;
      __m512 value = _mm512_add_ps(pixels[q], bias);
      __m512 added = zero;
      if (res)
        added = _mm512_maskz_loadu_ps(lanes, res + 16 * q);
      if (f.residualFirst)
        value = _mm512_add_ps(value, added);
      if (f.relu)
        value = _mm512_max_ps(value, zero);
      if (!f.residualFirst)
        value = _mm512_add_ps(value, added);
      _mm512_mask_storeu_ps(out + 16 * q, lanes, value);
    }
  }
}

/// V and M of one running task list, zeroed when they grow: the lanes past
/// a block's tiles are multiplied too (their products are never stored),
/// and must not hold denormals or NaNs that would slow the FMAs.
struct Scratch {
  ScratchBuffer buffer;
  size_t zeroed = 0;
  float *get(size_t count) {
    float *data = buffer.get(count);
    if (data && count > zeroed) {
      std::memset(data, 0, count * sizeof(float));
      zeroed = count;
    }
    return data;
  }
};

/// Scratches that outlive the pool's threads (a few MiB each: a thread's
/// own, faulted in and zeroed again whenever setNumThreads remade the
/// workers, made the new worker arrive after the caller had run its task).
class ScratchShelf {
public:
  std::unique_ptr<Scratch> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shelf_.empty())
      return std::make_unique<Scratch>();
    std::unique_ptr<Scratch> s = std::move(shelf_.back());
    shelf_.pop_back();
    return s;
  }
  void give(std::unique_ptr<Scratch> s) {
    std::lock_guard<std::mutex> lock(mutex_);
    shelf_.push_back(std::move(s));
  }

private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<Scratch>> shelf_;
};

ScratchShelf &scratchShelf() {
  static ScratchShelf *shelf = new ScratchShelf; // never destroyed
  return *shelf;
}

} // namespace

bool winogradApplies(const DirectShape &s) {
  return haveAvx512() && s.kH == 3 && s.kW == 3 && s.strideH == 1 &&
         s.strideW == 1 && s.padH >= 0 && s.padW >= 0 && s.channels > 0 &&
         s.outChannels > 0 && s.outH > 0 && s.outW > 0 &&
         s.outH == s.inH + 2 * s.padH - 2 && s.outW == s.inW + 2 * s.padW - 2;
}

int64_t winogradPackedSize(const DirectShape &s) {
  return kPoints * roundUp(s.outChannels, kPack) * s.channels;
}

void packWinogradWeights(const DirectShape &s, const float *w, float *out) {
  static const double G[kAlpha][3] = {{1.0 / 4, 0, 0},
                                      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                      {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                      {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                      {0, 0, 1}};
  const int64_t ocPad = roundUp(s.outChannels, kPack), c = s.channels;
  const int64_t pointFloats = ocPad * c;
  parallelFor(0, ocPad, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o)
      for (int64_t ic = 0; ic < c; ++ic) {
        double u[kAlpha][kAlpha] = {};
        if (o < s.outChannels) {
          const float *g = w + (o * c + ic) * 9;
          double gg[kAlpha][3]; // G g
          for (int k = 0; k < kAlpha; ++k)
            for (int j = 0; j < 3; ++j)
              gg[k][j] = G[k][0] * g[j] + G[k][1] * g[3 + j] +
                         G[k][2] * g[6 + j];
          for (int k = 0; k < kAlpha; ++k)
            for (int l = 0; l < kAlpha; ++l)
              u[k][l] = gg[k][0] * G[l][0] + gg[k][1] * G[l][1] +
                        gg[k][2] * G[l][2];
        }
        for (int k = 0; k < kAlpha; ++k)
          for (int l = 0; l < kAlpha; ++l)
            out[(k * kAlpha + l) * pointFloats + (o / kPack) * c * kPack +
                ic * kPack + o % kPack] = static_cast<float>(u[k][l]);
      }
  });
}

void winogradForward(const DirectShape &s, int64_t batch, const float *x,
                     int64_t xImage, int64_t xChannel, int64_t xRow,
                     const float *packed, float *y, int64_t yImage,
                     int64_t yChannel, int64_t yRow,
                     const DirectFinish *finish) {
  Plan p;
  p.s = s;
  p.tilesH = (s.outH + kOut - 1) / kOut;
  p.tilesW = (s.outW + kOut - 1) / kOut;
  p.vectorsPerRow = (p.tilesW + 15) / 16;
  p.ocPad = roundUp(s.outChannels, kPack);
  for (int64_t v = 0; v < p.vectorsPerRow; ++v) {
    VectorMasks m;
    const int64_t base = 64 * v - s.padW;
    for (int q = 0; q < 5; ++q)
      m.load[q] = rangeMask(base + 16 * q, s.inW);
    m.load[4] &= 3; // the last tile's columns 4 and 5
    for (int q = 0; q < 4; ++q)
      m.store[q] = rangeMask(64 * v + 16 * q, s.outW);
    p.masks.push_back(m);
  }
  // Blocks of tile rows. Where all of a block's V (36 points x channels
  // x tiles) fits ~1 MiB with at least 96 tiles (up to 72 channels), the
  // blocks are that big, and the GEMMs run 16 output channels at a time
  // through every point, each group transformed back right away from M in
  // L2 (resnet18's 56x56 layers at batch 32: 8-12% faster than points
  // outer). Else blocks of about 2^15 / channels tiles, so that one
  // point's V stays in L2 while the GEMM sweeps it once per 8 output
  // channels, and U (4x the weights) is read once per block; M holds
  // every output channel of the task. With fewer blocks than threads
  // (batch 1), the output channels are split too (the input transform
  // then runs once per chunk).
  const int64_t rows = batch * p.tilesH;
  const int64_t threads = numThreads();
  const int64_t fitTiles = (int64_t(1) << 18) / (kPoints * s.channels);
  const bool channelsOuter = fitTiles >= 96;
  const int64_t target =
      channelsOuter
          ? std::min<int64_t>(fitTiles, 192)
          : std::clamp<int64_t>((int64_t(1) << 15) / s.channels, 48, 192);
  int64_t blocks = (rows * p.tilesW + target - 1) / target;
  if (blocks < threads && rows * p.tilesW >= 32 * threads)
    blocks = threads;
  blocks = std::clamp<int64_t>(blocks, 1, rows);
  const int64_t packs = p.ocPad / kPack;
  int64_t chunks = 1;
  if (blocks < threads)
    chunks = std::min<int64_t>(packs, (threads + blocks - 1) / blocks);
  const int64_t chunkPacks = (packs + chunks - 1) / chunks;
  chunks = (packs + chunkPacks - 1) / chunkPacks;
  p.chunkChannels = chunkPacks * kPack;
  int64_t maxStride = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t r0 = b * rows / blocks, r1 = (b + 1) * rows / blocks;
    maxStride = std::max(maxStride, roundUp((r1 - r0) * p.tilesW, 16));
  }
  const int64_t vFloats = kPoints * (s.channels * maxStride + 16);
  const int64_t mChannels = channelsOuter ? kPack : p.chunkChannels;
  const int64_t mFloats = kPoints * (mChannels * maxStride + 16);
  const bool relu = finish && finish->relu;
  parallelFor(0, blocks * chunks, 1, [&](int64_t lo, int64_t hi) {
    std::unique_ptr<Scratch> scratch = scratchShelf().take();
    float *buffer = scratch->get(vFloats + mFloats);
    float *V = buffer, *M = buffer + vFloats;
    int64_t transformed = -1; // the block whose V is in the buffer
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t b = task / chunks, chunk = task % chunks;
      Block blk;
      blk.row0 = b * rows / blocks;
      blk.row1 = (b + 1) * rows / blocks;
      blk.tiles = (blk.row1 - blk.row0) * p.tilesW;
      blk.stride = roundUp(blk.tiles, 16);
      // Each point's V ends in 16 floats that the last channel's last
      // 16-lane store may spill into (the next point's were stored before).
      const int64_t vPoint = s.channels * blk.stride + 16;
      if (transformed != b) {
        for (int64_t c = 0; c < s.channels; ++c)
          for (int64_t row = blk.row0; row < blk.row1; ++row) {
            const int64_t n = row / p.tilesH, tr = row % p.tilesH;
            const float *plane = x + n * xImage + c * xChannel;
            const int64_t t0 = (row - blk.row0) * p.tilesW;
            for (int64_t v = 0; v < p.vectorsPerRow; ++v)
              transformInput(p, plane, xRow, tr, v,
                             V + c * blk.stride + t0 + 16 * v, vPoint);
          }
        transformed = b;
      }
      // The GEMMs: M[point] = U[point] V[point] for the chunk's channels,
      // then the output transform, channel by channel, finished at the
      // store; for groups of kPack channels at a time when channelsOuter.
      const int64_t o0 = chunk * p.chunkChannels;
      const int64_t o1 = std::min(p.ocPad, o0 + p.chunkChannels);
      const int64_t live = std::min(o1, s.outChannels);
      // 16 floats apart from a multiple of the stride: the output
      // transform's 36 loads, one per point, would otherwise all fall in
      // one L1 set (64 channels x 192 tiles = 48 KiB apart).
      const int64_t mPoint = mChannels * blk.stride + 16;
      auto multiply = [&](int64_t g0, int64_t g1) {
        for (int e = 0; e < kPoints; ++e) {
          const float *ue = packed + e * p.ocPad * s.channels;
          const float *ve = V + e * vPoint;
          for (int64_t o = g0; o < g1; o += kRows) {
            const float *u = ue + (o / kPack) * s.channels * kPack + o % kPack;
            float *me = M + e * mPoint + (o - g0) * blk.stride;
            for (int64_t t = 0; t < blk.stride; t += 48) {
              const int64_t left = blk.stride - t;
              if (left >= 48)
                multiplyTile<3>(u, ve + t, s.channels, blk.stride, me + t,
                                blk.stride);
              else if (left >= 32)
                multiplyTile<2>(u, ve + t, s.channels, blk.stride, me + t,
                                blk.stride);
              else
                multiplyTile<1>(u, ve + t, s.channels, blk.stride, me + t,
                                blk.stride);
            }
          }
        }
      };
      auto finishChannels = [&](int64_t g0, int64_t g1) {
        for (int64_t o = g0; o < g1; ++o)
          for (int64_t row = blk.row0; row < blk.row1; ++row) {
            const int64_t n = row / p.tilesH, tr = row % p.tilesH;
            ChannelFinish f;
            if (finish) {
              if (finish->bias)
                f.bias = finish->bias[n * finish->biasImage +
                                      o * finish->biasChannel];
              if (finish->residual) {
                f.residual = finish->residual + n * finish->residualImage +
                             o * finish->residualChannel;
                f.residualRow = finish->residualRow;
              }
              f.relu = relu;
              f.residualFirst = finish->residualFirst;
            }
            const int64_t t0 = (row - blk.row0) * p.tilesW;
            float *plane = y + n * yImage + o * yChannel;
            for (int64_t v = 0; v < p.vectorsPerRow; ++v)
              transformOutput(p, M + (o - g0) * blk.stride + t0 + 16 * v,
                              mPoint, tr, v, plane, yRow, f);
          }
      };
      const int64_t group = channelsOuter ? kPack : o1 - o0;
      for (int64_t g0 = o0; g0 < live; g0 += group) {
        const int64_t g1 = std::min(live, g0 + group);
        multiply(g0, g1);
        finishChannels(g0, g1);
      }
    }
    scratchShelf().give(std::move(scratch));
  });
}

//===----------------------------------------------------------------------===//
// Winograd F(2x2, 3x3), for the small planes of the late layers at batch 1
// (14x14 and 7x7: 49 and 16 tiles, where F(4x4, 3x3) has 16 and 4, too few
// to reuse its U, 4x the weights; here U is 16/9 of them). Points 0, +-1 (and infinity): B^T = [1 0 -1 0; 0 1 1 0;
// 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
// A^T = [1 1 1 0; 0 1 -1 -1].
//
// The tiles of one image are numbered t = tile row * tiles per row + tile
// column and live in vector lanes, 16 per vector, as in F(4x4, 3x3); the
// transforms gather a vector's 16 inputs per point and scatter its 4
// outputs (the planes are small, and the GEMMs' 16 products per input
// channel and output channel outweigh them). The threads split the output
// channels (each reads its share of U once, the GEMMs' only stream from
// memory) and each transforms the whole input.
//===----------------------------------------------------------------------===//

namespace {

constexpr int kOut2 = 2, kAlpha2 = 4, kPoints2 = kAlpha2 * kAlpha2;

/// One vector of 16 tiles of an image: per point of the 4x4 input tile, the
/// offsets in a channel plane of x to gather and the lanes inside x; per
/// output of the 2x2 tile, the offsets in a plane of y and of the residual
/// to scatter to (gather from) and the lanes inside y.
struct F2Vector {
  int32_t in[kPoints2][16];
  int32_t out[kOut2 * kOut2][16];
  int32_t res[kOut2 * kOut2][16];
  __mmask16 inMask[kPoints2];
  __mmask16 outMask[kOut2 * kOut2];
};

/// w = B^T d: one side of the input transform.
EMBER_WINO_TARGET EMBER_WINO_INLINE void inputSideF2(const __m512 (&d)[kAlpha2],
                                                     __m512 (&w)[kAlpha2]) {
  w[0] = _mm512_sub_ps(d[0], d[2]);
  w[1] = _mm512_add_ps(d[1], d[2]);
  w[2] = _mm512_sub_ps(d[2], d[1]);
  w[3] = _mm512_sub_ps(d[1], d[3]);
}

/// The 16 tiles of `vec` of one channel plane, transformed into V at their
/// first tile (points `pointStride` floats apart).
EMBER_WINO_TARGET void transformInputF2(const F2Vector &vec, const float *plane,
                                        float *out, int64_t pointStride) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 h[kAlpha2][kAlpha2]; // [input row][B^T along the row]
#pragma GCC unroll 4
  for (int i = 0; i < kAlpha2; ++i) {
    __m512 d[kAlpha2];
#pragma GCC unroll 4
    for (int j = 0; j < kAlpha2; ++j) {
      const int e = i * kAlpha2 + j;
      d[j] = _mm512_mask_i32gather_ps(zero, vec.inMask[e],
                                      _mm512_loadu_si512(vec.in[e]), plane, 4);
    }
    inputSideF2(d, h[i]);
  }
#pragma GCC unroll 4
  for (int l = 0; l < kAlpha2; ++l) {
    __m512 column[kAlpha2], w[kAlpha2];
#pragma GCC unroll 4
    for (int i = 0; i < kAlpha2; ++i)
      column[i] = h[i][l];
    inputSideF2(column, w);
#pragma GCC unroll 4
    for (int k = 0; k < kAlpha2; ++k)
      _mm512_storeu_ps(out + (k * kAlpha2 + l) * pointStride, w[k]);
  }
}

/// The 16 tiles of `vec` of one output channel: M at their first tile
/// (points `pointStride` apart) transformed back, finished and scattered
/// into the channel's plane of y.
EMBER_WINO_TARGET void transformOutputF2(const F2Vector &vec, const float *m,
                                         int64_t pointStride, float *plane,
                                         const ChannelFinish &f) {
  __m512 z[kAlpha2][kOut2]; // [point row][output column]: A^T along the row
#pragma GCC unroll 4
  for (int k = 0; k < kAlpha2; ++k) {
    __m512 p[kAlpha2];
#pragma GCC unroll 4
    for (int l = 0; l < kAlpha2; ++l)
      p[l] = _mm512_loadu_ps(m + (k * kAlpha2 + l) * pointStride);
    const __m512 b = _mm512_sub_ps(p[1], p[2]);
    z[k][0] = _mm512_add_ps(_mm512_add_ps(p[0], p[1]), p[2]);
    z[k][1] = _mm512_sub_ps(b, p[3]);
  }
  const __m512 bias = _mm512_set1_ps(f.bias), zero = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int c = 0; c < kOut2; ++c) {
    const __m512 b = _mm512_sub_ps(z[1][c], z[2][c]);
    const __m512 y[kOut2] = {
        _mm512_add_ps(_mm512_add_ps(z[0][c], z[1][c]), z[2][c]),
        _mm512_sub_ps(b, z[3][c])};
#pragma GCC unroll 2
    for (int r = 0; r < kOut2; ++r) {
      const int o = r * kOut2 + c;
      const __mmask16 lanes = vec.outMask[o];
      __m512 value = _mm512_add_ps(y[r], bias);
      __m512 added = zero;
      if (f.residual)
        added = _mm512_mask_i32gather_ps(zero, lanes,
                                         _mm512_loadu_si512(vec.res[o]),
                                         f.residual, 4);
      if (f.residualFirst)
        value = _mm512_add_ps(value, added);
      if (f.relu)
        value = _mm512_max_ps(value, zero);
      if (!f.residualFirst)
        value = _mm512_add_ps(value, added);
      _mm512_mask_i32scatter_ps(plane, lanes, _mm512_loadu_si512(vec.out[o]),
                                value, 4);
    }
  }
}

/// m[r][j] = sum_c u[c][r] v[c][j] for the 16 rows r of a pack of U and J
/// single tiles j (a tile count 1-4 past a multiple of 16: 14x14's 49):
/// the rows in lanes, the tiles broadcast, 4 channels at a time into
/// separate sums (FMA latency); a 16-lane GEMM tile would run 16x the
/// products.
template <int J>
EMBER_WINO_TARGET void multiplyColumns(const float *u, const float *v,
                                       int64_t channels, int64_t vStride,
                                       float *m, int64_t mStride) {
  constexpr int kSums = 4;
  __m512 acc[kSums][J];
#pragma GCC unroll 4
  for (int p = 0; p < kSums; ++p)
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j)
      acc[p][j] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + kSums <= channels; c += kSums) {
#pragma GCC unroll 4
    for (int p = 0; p < kSums; ++p) {
      const __m512 a = _mm512_loadu_ps(u + (c + p) * kPack);
      const float *vc = v + (c + p) * vStride;
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j)
        acc[p][j] = _mm512_fmadd_ps(a, _mm512_set1_ps(vc[j]), acc[p][j]);
    }
  }
  for (; c < channels; ++c) {
    const __m512 a = _mm512_loadu_ps(u + c * kPack);
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j)
      acc[0][j] = _mm512_fmadd_ps(a, _mm512_set1_ps(v[c * vStride + j]),
                                  acc[0][j]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < J; ++j) {
    alignas(64) float sum[kPack];
    _mm512_store_ps(sum, _mm512_add_ps(_mm512_add_ps(acc[0][j], acc[1][j]),
                                       _mm512_add_ps(acc[2][j], acc[3][j])));
    for (int r = 0; r < kPack; ++r)
      m[r * mStride + j] = sum[r];
  }
}

} // namespace

int64_t winogradF2PackedSize(const DirectShape &s) {
  return kPoints2 * roundUp(s.outChannels, kPack) * s.channels;
}

void packWinogradF2Weights(const DirectShape &s, const float *w, float *out) {
  // G's entries are 1 and +-1/2: U = G g G^T is sums of three weights,
  // halved, along each side (in float: its ~1-ulp roundings are far below
  // the convolution's own; the generic 4x3 products in double made the
  // first forward of resnet18 ~50 ms slower).
  const int64_t ocPad = roundUp(s.outChannels, kPack), c = s.channels;
  const int64_t pointFloats = ocPad * c;
  auto side = [](const float (&g)[3], float (&u)[kAlpha2]) {
    u[0] = g[0];
    u[1] = 0.5f * (g[0] + g[1] + g[2]);
    u[2] = 0.5f * (g[0] - g[1] + g[2]);
    u[3] = g[2];
  };
  // A pack of 16 output channels per task, input channel by input
  // channel: each point's 16 values are one whole line of U (the points'
  // lines lie pointFloats apart, a multiple of 4 KiB at resnet18's sizes;
  // written value by value, their 16 streams thrashed one L1 set).
  parallelFor(0, ocPad / kPack, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t pack = lo; pack < hi; ++pack)
      for (int64_t ic = 0; ic < c; ++ic) {
        alignas(64) float line[kPoints2][kPack] = {};
        for (int r = 0; r < kPack; ++r) {
          const int64_t o = pack * kPack + r;
          if (o >= s.outChannels)
            break;
          const float *g = w + (o * c + ic) * 9;
          float gg[kAlpha2][3]; // G g, by columns of g
          for (int j = 0; j < 3; ++j) {
            const float column[3] = {g[j], g[3 + j], g[6 + j]};
            float t[kAlpha2];
            side(column, t);
            for (int k = 0; k < kAlpha2; ++k)
              gg[k][j] = t[k];
          }
          for (int k = 0; k < kAlpha2; ++k) {
            float u[kAlpha2];
            side(gg[k], u);
            for (int l = 0; l < kAlpha2; ++l)
              line[k * kAlpha2 + l][r] = u[l];
          }
        }
        for (int e = 0; e < kPoints2; ++e)
          std::memcpy(out + e * pointFloats + (pack * c + ic) * kPack, line[e],
                      sizeof line[e]);
      }
  });
}

bool winogradF2Forward(const DirectShape &s, int64_t batch, const float *x,
                       int64_t xImage, int64_t xChannel, int64_t xRow,
                       const float *packed, float *y, int64_t yImage,
                       int64_t yChannel, int64_t yRow,
                       const DirectFinish *finish) {
  const int64_t tilesH = (s.outH + 1) / 2, tilesW = (s.outW + 1) / 2;
  const int64_t tiles = tilesH * tilesW, stride = roundUp(tiles, 16);
  const int64_t vectors = stride / 16;
  // The GEMM tiles cover `body` tiles; a tail of 1-4 past a multiple of 16
  // runs through multiplyColumns.
  const int64_t tail = tiles % 16 <= 4 ? tiles % 16 : 0;
  const int64_t body = stride - (tail ? 16 : 0);
  const int64_t resRow = finish && finish->residual ? finish->residualRow : 0;
  // The gathers' and scatters' offsets are 32-bit.
  const int64_t limit = INT32_MAX;
  if ((s.inH + 1) * std::abs(xRow) + s.inW > limit ||
      (s.outH + 1) * (std::abs(yRow) + std::abs(resRow)) + s.outW > limit)
    return false;
  std::vector<F2Vector> vecs(vectors);
  for (int64_t v = 0; v < vectors; ++v) {
    F2Vector &vec = vecs[v];
    std::memset(&vec, 0, sizeof vec);
    for (int lane = 0; lane < 16; ++lane) {
      const int64_t t = 16 * v + lane, tr = t / tilesW, tc = t % tilesW;
      const bool live = t < tiles;
      for (int i = 0; i < kAlpha2; ++i)
        for (int j = 0; j < kAlpha2; ++j) {
          const int64_t ih = kOut2 * tr - s.padH + i;
          const int64_t iw = kOut2 * tc - s.padW + j;
          if (live && ih >= 0 && ih < s.inH && iw >= 0 && iw < s.inW) {
            vec.in[i * kAlpha2 + j][lane] = static_cast<int32_t>(ih * xRow + iw);
            vec.inMask[i * kAlpha2 + j] |= static_cast<__mmask16>(1u << lane);
          }
        }
      for (int a = 0; a < kOut2; ++a)
        for (int b = 0; b < kOut2; ++b) {
          const int64_t oh = kOut2 * tr + a, ow = kOut2 * tc + b;
          if (live && oh < s.outH && ow < s.outW) {
            vec.out[a * kOut2 + b][lane] = static_cast<int32_t>(oh * yRow + ow);
            vec.res[a * kOut2 + b][lane] =
                static_cast<int32_t>(oh * resRow + ow);
            vec.outMask[a * kOut2 + b] |= static_cast<__mmask16>(1u << lane);
          }
        }
    }
  }
  // Tasks: (image, chunk of output channels); with fewer images than
  // threads the chunks split each image's channels among them.
  const int64_t ocPad = roundUp(s.outChannels, kPack), packs = ocPad / kPack;
  const int64_t threads = numThreads();
  int64_t chunks = 1;
  if (batch < threads)
    chunks = std::min<int64_t>(packs, (threads + batch - 1) / batch);
  const int64_t chunkPacks = (packs + chunks - 1) / chunks;
  chunks = (packs + chunkPacks - 1) / chunkPacks;
  const int64_t chunkChannels = chunkPacks * kPack;
  const int64_t vPoint = s.channels * stride + 16;
  // 16 floats past a multiple of the stride, as in F(4x4, 3x3): the output
  // transform's 16 loads would otherwise share an L1 set.
  const int64_t mPoint = chunkChannels * stride + 16;
  const int64_t vFloats = kPoints2 * vPoint, mFloats = kPoints2 * mPoint;
  const bool relu = finish && finish->relu;
  std::atomic<bool> failed{false};
  parallelFor(0, batch * chunks, 1, [&](int64_t lo, int64_t hi) {
    std::unique_ptr<Scratch> scratch = scratchShelf().take();
    float *buffer = scratch->get(vFloats + mFloats);
    if (!buffer) {
      failed = true;
      scratchShelf().give(std::move(scratch));
      return;
    }
    float *V = buffer, *M = buffer + vFloats;
    int64_t transformed = -1; // the image whose V is in the buffer
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t n = task / chunks, chunk = task % chunks;
      if (transformed != n) {
        for (int64_t c = 0; c < s.channels; ++c) {
          const float *plane = x + n * xImage + c * xChannel;
          for (int64_t v = 0; v < vectors; ++v)
            transformInputF2(vecs[v], plane, V + c * stride + 16 * v, vPoint);
        }
        transformed = n;
      }
      const int64_t o0 = chunk * chunkChannels;
      const int64_t live = std::min(o0 + chunkChannels, s.outChannels);
      // M[point] = U[point] V[point], a pack of 16 output channels at a
      // time: each pack's U (a line per input channel) is read once.
      for (int e = 0; e < kPoints2; ++e) {
        const float *ue = packed + e * ocPad * s.channels;
        const float *ve = V + e * vPoint;
        for (int64_t o = o0; o < live; o += kPack) {
          const float *u = ue + (o / kPack) * s.channels * kPack;
          float *me = M + e * mPoint + (o - o0) * stride;
          for (int64_t t = 0; t < body; t += 48) {
            const int64_t left = body - t;
            if (left >= 48) {
              for (int h = 0; h < kPack; h += kRows)
                multiplyTile<3>(u + h, ve + t, s.channels, stride,
                                me + h * stride + t, stride);
            } else if (left >= 32) {
              for (int h = 0; h < kPack; h += kRows)
                multiplyTile<2>(u + h, ve + t, s.channels, stride,
                                me + h * stride + t, stride);
            } else {
              // U 32 channels (2 KiB) ahead into L1, 8 KiB into L2: with 16
              // tiles (7x7) each line of U feeds only 16 FMAs, and the
              // hardware prefetchers fell behind (l4 at batch 1, U in L3:
              // 0.62-0.64 -> 0.47-0.53 ms; in the model, where U comes
              // from memory, the L2 prefetch took ~9% off this kernel).
              multiplyTile<1, kPack, true>(u, ve + t, s.channels, stride,
                                           me + t, stride, 32 * kPack);
            }
          }
          // After the GEMM tiles: U's lines of this pack are in L1 (first,
          // this loop streamed them from memory at 1 FMA per line).
          switch (tail) {
          case 1:
            multiplyColumns<1>(u, ve + body, s.channels, stride, me + body,
                               stride);
            break;
          case 2:
            multiplyColumns<2>(u, ve + body, s.channels, stride, me + body,
                               stride);
            break;
          case 3:
            multiplyColumns<3>(u, ve + body, s.channels, stride, me + body,
                               stride);
            break;
          case 4:
            multiplyColumns<4>(u, ve + body, s.channels, stride, me + body,
                               stride);
            break;
          default:
            break;
          }
        }
      }
      for (int64_t o = o0; o < live; ++o) {
        ChannelFinish f;
        if (finish) {
          if (finish->bias)
            f.bias =
                finish->bias[n * finish->biasImage + o * finish->biasChannel];
          if (finish->residual)
            f.residual = finish->residual + n * finish->residualImage +
                         o * finish->residualChannel;
          f.relu = relu;
          f.residualFirst = finish->residualFirst;
        }
        float *plane = y + n * yImage + o * yChannel;
        for (int64_t v = 0; v < vectors; ++v)
          transformOutputF2(vecs[v], M + (o - o0) * stride + 16 * v, mPoint,
                            plane, f);
      }
    }
    scratchShelf().give(std::move(scratch));
  });
  return !failed;
}

} // namespace conv
} // namespace ember
