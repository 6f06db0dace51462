//===- CpuConvDirect.cpp - direct convolution reading x in place ----------===//
//
// See CpuConvDirect.h. The tile: P output pixels of one output row (P up to
// 14, 7 for rows of 7) x V vectors of 16 output channels (V = 2, or 4 for
// rows of 7), P * V zmm accumulators. Its step over one (kh, kw, channel):
// V weight loads, P broadcasts of x, P * V FMAs; the channels are the
// innermost loop, so the weights stream contiguously and the x values of
// one tap are the same few lines of each channel's row. The stride is a
// template parameter: a stride-2 step reads every other input, at no cost.
// At the end the accumulators are transposed (16 x 16 in registers) into
// rows of pixels per channel, finished (bias, relu) and stored with a mask
// of P lanes; a residual is added by a pass over each task's rows after.
// The tiles prefetch the next tile's inputs and outputs, which the
// hardware prefetchers miss (a channel's few pixels a plane apart):
// without them the 56x56 layer ran 20-30% slower. The weights are
// prefetched a few KiB ahead of their loads (kWeightsAhead).
//
//===----------------------------------------------------------------------===//

#include "CpuConvDirect.h"

#include "GemmEpilogueKernels.h"
#include "GemmTranspose.h"

#include "ember/Runtime/ThreadPool.h"
#include "ember/Runtime/Threads.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

namespace ember {
namespace conv {
namespace {

#define EMBER_DIRECT_TARGET __attribute__((target("avx512f,fma")))
#define EMBER_DIRECT_INLINE inline __attribute__((always_inline))

/// Vectors of 16 output channels per tile for `shape`: 4 for rows of 7 or
/// fewer pixels (the tile is one row, 28 accumulators), else 2.
int vectorsFor(const DirectShape &shape) {
  return shape.outW <= 7 && shape.outChannels >= 64 ? 4 : 2;
}

/// The most pixels a tile of `vectors` vectors holds (28 accumulators).
int maxPixelsFor(int vectors) { return vectors == 4 ? 7 : 14; }

/// Everything a tile reads besides its place: one image of x and y.
struct TileArgs {
  const float *x;    // the image's channel 0
  int64_t xChannel, xRow;
  int64_t channels, inH, inW, kH, kW, strideH, padH, padW;
  float *y;          // the image's channel 0
  int64_t yChannel, yRow, outChannels;
  // The image's bias (DirectFinish at the image; null adds nothing) and
  // relu, applied in registers (the residual is added after the tiles).
  const float *bias;
  int64_t biasChannel;
  bool relu;
};

/// How far ahead of its loads a tile prefetches the weights it streams
/// (floats; 4 KiB, 16 to 32 channel steps). In a model each layer's
/// weights come from memory, evicted by the other layers' since the last
/// call, and the hardware prefetchers stop at every 4 KiB page: in
/// resnet18 at batch 1 this took 3% off the l2 convs, 8-9% off l3's and
/// 12% off l4's stride-2 conv (4.5 MiB of weights), the model 3.7%.
constexpr int64_t kWeightsAhead = 1024;

/// acc[j] += w x x at pixels j in [J0, J1) for every channel of one tap:
/// `src` is x at pixel J0's input of channel 0 (pixels S floats apart),
/// `w` the tap's weights ([channel][16 * V]).
template <int P, int V, int S, int J0, int J1>
EMBER_DIRECT_TARGET EMBER_DIRECT_INLINE void
tapChannels(__m512 (&acc)[P][V], const float *src, int64_t xChannel,
            const float *w, int64_t channels, const float *ahead) {
  for (int64_t c = 0; c < channels; ++c, w += 16 * V) {
    const float *in = src + c * xChannel;
    // One line of a later tile's input per step, spread so that the fill
    // buffers never fill up with them.
    _mm_prefetch(reinterpret_cast<const char *>(ahead + c * xChannel),
                 _MM_HINT_T0);
    // The weights kWeightsAhead floats on, a line per vector.
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      _mm_prefetch(reinterpret_cast<const char *>(w + kWeightsAhead + 16 * v),
                   _MM_HINT_T0);
    __m512 wv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      wv[v] = _mm512_loadu_ps(w + 16 * v);
#pragma GCC unroll 16
    for (int j = J0; j < J1; ++j) {
      const __m512 b = _mm512_set1_ps(in[(j - J0) * S]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        acc[j][v] = _mm512_fmadd_ps(wv[v], b, acc[j][v]);
    }
  }
}

/// The tile a tile call prefetches for: the same block's next tile (its
/// output row, first column and pixels), and whether to fetch its inputs
/// too (the chunk's first block does; the other blocks read the same).
struct NextTile {
  int64_t oh = -1, ow0 = 0, pixels = 0;
  bool inputs = false;
};

/// The tile of P pixels from column ow0 of output row oh and the 16 * V
/// output channels of block `block` (its packed weights at `w`). Spread
/// over its taps, it prefetches what `next` will read and write: each
/// channel's pixels are a separate piece of memory (a plane apart), which
/// the hardware prefetchers do not follow, and each store that missed the
/// cache stalled the tile.
template <int P, int V, int S>
EMBER_DIRECT_TARGET void directTile(const TileArgs &a, int64_t oh,
                                    int64_t ow0, int64_t block,
                                    const float *w, const NextTile &next) {
  __m512 acc[P][V];
#pragma GCC unroll 16
  for (int j = 0; j < P; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      acc[j][v] = _mm512_setzero_ps();
  const int64_t tapFloats = a.channels * 16 * V;
  const int64_t o0 = block * 16 * V;
  const int64_t o1 = std::min<int64_t>(o0 + 16 * V, a.outChannels);
  const int64_t taps = a.kH * a.kW;
  const int64_t perTap = (o1 - o0 + taps - 1) / taps;
  for (int64_t kh = 0; kh < a.kH; ++kh) {
    const int64_t ih = oh * a.strideH + kh - a.padH;
    const int64_t nextIh = next.oh * a.strideH + kh - a.padH;
    const bool nextRow = next.inputs && nextIh >= 0 && nextIh < a.inH;
    const float *nextInput =
        nextRow ? a.x + nextIh * a.xRow + next.ow0 * S - a.padW : nullptr;
    const bool inside = ih >= 0 && ih < a.inH;
    const float *row = inside ? a.x + ih * a.xRow : nullptr;
    const float *tap = w + kh * a.kW * tapFloats;
    for (int64_t kw = 0; kw < a.kW; ++kw, tap += tapFloats) {
      if (next.oh >= 0) {
        // This tap's share of the next tile's output lines.
        const int64_t t = kh * a.kW + kw;
        for (int64_t o = o0 + t * perTap; o < std::min(o1, o0 + (t + 1) * perTap);
             ++o) {
          const float *out =
              a.y + o * a.yChannel + next.oh * a.yRow + next.ow0;
          __builtin_prefetch(out, 1, 3);
          __builtin_prefetch(out + next.pixels - 1, 1, 3);
        }
      }
      if (!inside)
        continue; // a padding row: no term for any pixel
      // Only the first and last pixel can fall in the padding (the row's
      // tiles are cut so); pixel 0's column is iw.
      const int64_t iw = ow0 * S + kw - a.padW;
      const bool first = iw >= 0, last = iw + (P - 1) * S < a.inW;
      // The next tile's input lines at this kh: the first of its window
      // at kw 0, the last at kw 1 (else this tile's own, in L1 already).
      const float *ahead = row + std::max<int64_t>(iw, 0);
      if (nextRow && kw < 2)
        ahead = nextInput + (kw == 0 ? 0 : (next.pixels - 1) * S + a.kW - 1);
      if (first && last)
        tapChannels<P, V, S, 0, P>(acc, row + iw, a.xChannel, tap, a.channels,
                                   ahead);
      else if (last)
        tapChannels<P, V, S, 1, P>(acc, row + iw + S, a.xChannel, tap,
                                   a.channels, ahead);
      else if (first)
        tapChannels<P, V, S, 0, P - 1>(acc, row + iw, a.xChannel, tap,
                                       a.channels, ahead);
      else if (P > 2)
        tapChannels<P, V, S, 1, (P > 2 ? P - 1 : 1)>(
            acc, row + iw + S, a.xChannel, tap, a.channels, ahead);
    }
  }
  // Pixels x channels to channels x pixels, 16 channels at a time, then
  // finished and stored: P lanes of each channel's output row.
  const __mmask16 lanes = static_cast<__mmask16>((1u << P) - 1);
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    const int64_t first = o0 + v * 16;
    if (first >= o1)
      break;
    __m512 r[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j)
      r[j] = j < P ? acc[j][v] : zero;
    gemm::transpose16x16(r);
    const int channels = static_cast<int>(std::min<int64_t>(16, o1 - first));
    const float *bias = a.bias ? a.bias + first * a.biasChannel : nullptr;
    float *out = a.y + first * a.yChannel + oh * a.yRow + ow0;
    for (int c = 0; c < channels; ++c) {
      __m512 value = r[c];
      if (bias)
        value = _mm512_add_ps(value, _mm512_set1_ps(bias[c * a.biasChannel]));
      if (a.relu)
        value = _mm512_max_ps(value, zero);
      _mm512_mask_storeu_ps(out + c * a.yChannel, lanes, value);
    }
  }
}

using TileFn = void (*)(const TileArgs &, int64_t, int64_t, int64_t,
                        const float *, const NextTile &);

/// directTile for every P from 1 to Max (index P; 0 unused).
template <int V, int S, int Max, int... P>
std::array<TileFn, Max + 1> tilesOf(std::integer_sequence<int, P...>) {
  return {nullptr, &directTile<P + 1, V, S>...};
}

template <int V, int S> const std::array<TileFn, 15> &tileTable() {
  static const std::array<TileFn, 15> table = [] {
    constexpr int Max = V == 4 ? 7 : 14;
    std::array<TileFn, Max + 1> some =
        tilesOf<V, S, Max>(std::make_integer_sequence<int, Max>());
    std::array<TileFn, 15> all{};
    std::copy(some.begin(), some.end(), all.begin());
    return all;
  }();
  return table;
}

bool haveAvx512() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  }();
  return have;
}

/// The tiles (first column, pixels) of an output row: every tile's pixels
/// other than its first and last read only columns inside x for every kw
/// (tapChannels drops the out-of-range taps of those two), so output
/// pixels whose windows leave x on the left past the first such pixel
/// (wide padding: a 7x7 stem's pad 3 at stride 2) and on the right before
/// the last one are tiles of one pixel; the rest are as even as `maxP`
/// allows.
std::vector<std::pair<int64_t, int>> rowTiles(const DirectShape &s, int maxP) {
  int64_t leftBad = 0, rightBad = 0;
  for (int64_t ow = 0; ow < s.outW; ++ow) {
    const int64_t lo = ow * s.strideW - s.padW, hi = lo + s.kW - 1;
    if (lo < 0)
      ++leftBad;
    if (hi >= s.inW)
      ++rightBad;
  }
  std::vector<std::pair<int64_t, int>> tiles;
  const int64_t begin = std::min(std::max<int64_t>(leftBad - 1, 0), s.outW);
  const int64_t end =
      std::max(begin, s.outW - std::max<int64_t>(rightBad - 1, 0));
  for (int64_t ow = 0; ow < begin; ++ow)
    tiles.push_back({ow, 1});
  const int64_t middle = end - begin;
  if (middle > 0) {
    const int64_t count = (middle + maxP - 1) / maxP;
    int64_t ow = begin;
    for (int64_t t = 0; t < count; ++t) {
      const int width = static_cast<int>(middle / count + (t < middle % count));
      tiles.push_back({ow, width});
      ow += width;
    }
  }
  for (int64_t ow = end; ow < s.outW; ++ow)
    tiles.push_back({ow, 1});
  return tiles;
}

/// y[n, o0 + i, h0:h1, :] += the residual for i < channels, with relu
/// after it when `finish` puts it first: the GEMM epilogue's pass over the
/// task's finished rows (in L2), which reads each channel's residual as
/// one run. Added in the tiles instead, each channel's few pixels a piece
/// of a plane apart, the residual's lines came in too slowly for the
/// hardware prefetchers (a fifth of the layer at 56x56).
void addResidual(const DirectShape &s, const DirectFinish &finish, int64_t n,
                 int64_t channels, int64_t o0, int64_t h0, int64_t h1,
                 float *y, int64_t yChannel, int64_t yRow) {
  static const gemm::ActivationFn activation =
      gemm::activationFor(gemm::IsaLevel::Avx512);
  ember_gemm_epilogue e{};
  e.activation = finish.relu && finish.residualFirst ? EMBER_GEMM_ACT_RELU
                                                     : EMBER_GEMM_ACT_NONE;
  e.residualBeforeActivation = 1;
  e.residualRowStride = finish.residualChannel;
  e.residualColStride = 1;
  const float *residual =
      finish.residual + n * finish.residualImage + o0 * finish.residualChannel;
  float *out = y + o0 * yChannel;
  if (yRow == s.outW && finish.residualRow == s.outW) {
    // The rows follow each other: one run per channel.
    e.residual = residual + h0 * s.outW;
    gemm::applyEpilogueBlock(activation, channels, (h1 - h0) * s.outW,
                             out + h0 * s.outW, yChannel, 1, e);
    return;
  }
  for (int64_t h = h0; h < h1; ++h) {
    e.residual = residual + h * finish.residualRow;
    gemm::applyEpilogueBlock(activation, channels, s.outW, out + h * yRow,
                             yChannel, 1, e);
  }
}

} // namespace

bool directApplies(const DirectShape &shape) {
  return haveAvx512() && (shape.strideW == 1 || shape.strideW == 2) &&
         shape.strideH >= 1 && shape.kH > 0 && shape.kW > 0 &&
         shape.channels > 0 && shape.outChannels > 0 && shape.outH > 0 &&
         shape.outW > 0 && shape.padH >= 0 && shape.padW >= 0;
}

int64_t directPackedSize(const DirectShape &shape) {
  const int64_t width = 16 * vectorsFor(shape);
  const int64_t blocks = (shape.outChannels + width - 1) / width;
  return blocks * shape.kH * shape.kW * shape.channels * width;
}

void packDirectWeights(const DirectShape &shape, const float *w, float *out) {
  const int64_t width = 16 * vectorsFor(shape);
  const int64_t blocks = (shape.outChannels + width - 1) / width;
  const int64_t taps = shape.kH * shape.kW, c = shape.channels;
  parallelFor(0, blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      float *block = out + b * taps * c * width;
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t ic = 0; ic < c; ++ic) {
          float *dst = block + (t * c + ic) * width;
          for (int64_t l = 0; l < width; ++l) {
            const int64_t o = b * width + l;
            dst[l] = o < shape.outChannels ? w[(o * c + ic) * taps + t] : 0.0f;
          }
        }
    }
  });
}

namespace {

/// How directForward splits its work into tasks: per image, chunks of
/// chunkBlocks output-channel blocks, each over bands of output rows.
struct DirectSplit {
  int64_t chunkBlocks, chunks, bands;
};

/// The split for `blocks` channel blocks of `blockFloats` packed weights
/// each, `batch` images of `outH` output rows and `threads` threads. A
/// chunk's weights (at most ~512 KiB) stay in L2 while its tiles stream.
/// With too few (image, chunk) tasks for the threads (batch 1), bands of
/// rows split them further: then every task gets the same work (chunks of
/// equal blocks, bands of equal rows), at least two per thread and a
/// multiple of the threads in all, so that no thread waits through another's
/// last task (28 rows in 8 bands of 3 and 4 rows left one thread idle for
/// a tenth of resnet18's l2 stride-2 conv at batch 1).
DirectSplit directSplit(int64_t blocks, int64_t blockFloats, int64_t batch,
                        int64_t outH, int threads) {
  int64_t chunkBlocks =
      std::clamp<int64_t>((int64_t(1) << 17) / blockFloats, 1, blocks);
  int64_t chunks = (blocks + chunkBlocks - 1) / chunkBlocks;
  const int64_t wanted = 4 * static_cast<int64_t>(threads);
  if (batch * chunks >= wanted)
    return {chunkBlocks, chunks, 1};
  while (blocks % chunkBlocks != 0)
    --chunkBlocks;
  chunks = blocks / chunkBlocks;
  const int64_t tasks = batch * chunks;
  for (int64_t bands = 1; bands <= outH; ++bands)
    if (outH % bands == 0 && tasks * bands % threads == 0 &&
        tasks * bands >= 2 * threads)
      return {chunkBlocks, chunks, bands};
  // No even split (a prime count of rows): bands for about `wanted` tasks.
  return {chunkBlocks, chunks,
          std::clamp<int64_t>((wanted + tasks - 1) / tasks, 1, outH)};
}

} // namespace

void directForward(const DirectShape &shape, int64_t batch, const float *x,
                   int64_t xImage, int64_t xChannel, int64_t xRow,
                   const float *packed, float *y, int64_t yImage,
                   int64_t yChannel, int64_t yRow, const DirectFinish *finish) {
  const int vectors = vectorsFor(shape);
  const int maxP = maxPixelsFor(vectors);
  const std::array<TileFn, 15> &table =
      vectors == 4 ? (shape.strideW == 1 ? tileTable<4, 1>() : tileTable<4, 2>())
                   : (shape.strideW == 1 ? tileTable<2, 1>() : tileTable<2, 2>());
  const std::vector<std::pair<int64_t, int>> tiles = rowTiles(shape, maxP);
  const int64_t width = 16 * vectors;
  const int64_t blocks = (shape.outChannels + width - 1) / width;
  const int64_t blockFloats = shape.kH * shape.kW * shape.channels * width;
  // Tasks: (image, chunk of channel blocks, band of output rows). A
  // chunk's weights (at most ~512 KiB) stay in L2 while its band's tiles
  // stream; within a band, each output row runs through the chunk's
  // blocks, so the few input rows it reads stay in L1. Bands split the
  // images when there are too few (batch 1) for the threads.
  const DirectSplit split =
      directSplit(blocks, blockFloats, batch, shape.outH, numThreads());
  const int64_t chunkBlocks = split.chunkBlocks, chunks = split.chunks,
                bands = split.bands;
  parallelFor(0, batch * chunks * bands, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t n = task / (chunks * bands);
      const int64_t chunk = task / bands % chunks, band = task % bands;
      TileArgs a{};
      a.x = x + n * xImage;
      a.xChannel = xChannel;
      a.xRow = xRow;
      a.channels = shape.channels;
      a.inH = shape.inH;
      a.inW = shape.inW;
      a.kH = shape.kH;
      a.kW = shape.kW;
      a.strideH = shape.strideH;
      a.padH = shape.padH;
      a.padW = shape.padW;
      a.y = y + n * yImage;
      a.yChannel = yChannel;
      a.yRow = yRow;
      a.outChannels = shape.outChannels;
      if (finish && finish->bias) {
        a.bias = finish->bias + n * finish->biasImage;
        a.biasChannel = finish->biasChannel;
      }
      // relu in the tile unless a residual comes before it.
      a.relu = finish && finish->relu &&
               !(finish->residual && finish->residualFirst);
      const int64_t b0 = chunk * chunkBlocks;
      const int64_t b1 = std::min(blocks, b0 + chunkBlocks);
      const int64_t h0 = band * shape.outH / bands;
      const int64_t h1 = (band + 1) * shape.outH / bands;
      for (int64_t oh = h0; oh < h1; ++oh)
        for (size_t t = 0; t < tiles.size(); ++t) {
          const auto [ow0, p] = tiles[t];
          NextTile next;
          if (t + 1 < tiles.size()) {
            next.oh = oh;
            next.ow0 = tiles[t + 1].first;
            next.pixels = tiles[t + 1].second;
          } else if (oh + 1 < h1) {
            next.oh = oh + 1;
            next.ow0 = tiles[0].first;
            next.pixels = tiles[0].second;
          }
          for (int64_t b = b0; b < b1; ++b) {
            next.inputs = b == b0;
            table[p](a, oh, ow0, b, packed + b * blockFloats, next);
          }
        }
      if (finish && finish->residual)
        addResidual(shape, *finish, n, std::min(b1 * width, shape.outChannels) -
                                           b0 * width,
                    b0 * width, h0, h1, a.y, yChannel, yRow);
    }
  });
}

} // namespace conv
} // namespace ember
