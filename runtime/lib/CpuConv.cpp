//===- CpuConv.cpp - convolution kernels for compiled code ----------------===//
//
// Convolutions on Ember's GEMM micro-kernel (see CpuConv.h) without an
// im2col matrix: the im2col rows of one block of output pixels are written
// straight into the micro-kernel's packed layout (forward: B panels of NR
// pixels; weight gradient: B panels of NR im2col rows, through a small
// transposing buffer) and the data gradient's columns are added into dx
// tile by tile. A row of im2col over a run of output pixels in one output
// row reads one input row at a fixed offset: a copy with zeros where the
// window leaves the input (the padding), no per-element index table.
// On AVX-512 the forward packs unit-stride padded convolutions from x
// itself (the padding masked) and stores each micro-tile of a tile's last
// k block straight into y's output rows with the fused epilogue in
// registers (GemmMicroKernels.h's TileRuns). 3x3 convolutions into rows
// wider than 7 run the direct kernel of CpuConvDirect.cpp instead, which
// reads x in place (see directWins); 3x3 stride-1 ones with enough 4x4
// output tiles per call run Winograd's F(4x4, 3x3) of CpuConvWinograd.cpp
// before that (see winogradWins), and at batch 1 the late layers' small
// planes its F(2x2, 3x3) (see winogradF2Wins).
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuConv.h"
#include "ember/Runtime/CpuGemm.h"
#include "ember/Runtime/EmberGemm.h"
#include "ember/Runtime/ThreadPool.h"
#include "ember/Runtime/Threads.h"

#include "ConstantPacks.h"
#include "CpuConvDepthwise.h"
#include "CpuConvDirect.h"
#include "CpuConvWinograd.h"
#include "CpuConvStem.h"
#include "CpuConvStemTile.h"
#include "GemmEpilogueKernels.h"
#include "GemmMicroKernels.h"
#include "RowTimesMatrix.h"
#include "ScratchBuffer.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <vector>

namespace ember {
namespace conv {

namespace {

using gemm::MicroKernelInfo;

/// The micro-kernel Ember's GEMM uses now (it honours gemm::forceKernel).
const MicroKernelInfo &activeKernel() {
  const char *name = gemm::kernelName();
  if (!std::strcmp(name, "avx512"))
    return gemm::avx512Kernel();
  if (!std::strcmp(name, "avx2"))
    return gemm::avx2Kernel();
  return gemm::portableKernel();
}

/// The micro-kernel of the forward: on AVX-512 its own tile shape
/// (GemmMicroKernels.h), else the GEMM's.
const MicroKernelInfo &forwardKernel() {
  const MicroKernelInfo &gemmKernel = activeKernel();
  if (!std::strcmp(gemmKernel.name, "avx512"))
    return gemm::avx512ConvKernel();
  return gemmKernel;
}

/// Output pixels per forward / data-gradient tile: the tile's packed im2col
/// block (kc x tile) stays in L2.
constexpr int64_t kPixelTile = 256;
/// The most floats of packed panels (kc x tile width) for which
/// pointwiseForward's fused tiles go row block by row block over a tile's
/// panels (32 KiB, L1d's 48 KiB less the weights and the stores').
constexpr int64_t kRowsFirstPanel = 8192;

struct View5 {
  float *data;
  int64_t size[5];
  int64_t stride[5];
};

/// What the fused forward (ember_cpu_conv_fused_f32) does to y after the
/// convolution: GemmEpilogue.h's epilogue with bias and residual given as
/// 5-D views of y's shape (data null when absent, stride 0 broadcasts).
struct ConvEpilogue {
  int32_t activation = EMBER_GEMM_ACT_NONE;
  bool residualFirst = false;
  View5 bias{}, residual{};
  // When set (ember_cpu_conv_fused_mean_f32): receives the mean of each
  // finished plane y[n, o] at mean[n, o] (a view of y's shape, stride 0
  // along the pixel dims).
  View5 mean{};
  // When set (ember_cpu_conv_fused_scaled_f32): the convolution reads
  // x[n, c] * scale[n, c] (a squeeze-and-excitation block's scale; a view
  // of x's shape, stride 0 along the pixel dims). pointwiseForward scales
  // x while it packs it; the other paths read a scaled copy.
  View5 scale{};
};

/// Whether `e` (optional) does anything to y (not only scale x).
bool finishesY(const ConvEpilogue *e) {
  return e && (e->activation != EMBER_GEMM_ACT_NONE || e->bias.data ||
               e->residual.data || e->mean.data);
}

/// Per-thread packing buffers (ScratchBuffer.h).
thread_local ScratchBuffer packedB, columns, packedA, planes, shifted;
/// The calling thread's: B panels packed once for every thread of a call.
thread_local ScratchBuffer sharedPanelsBuffer;

/// Tables of int64 values per im2col row, built once per shape and kept
/// between calls: a model calls the same convolutions every forward, and
/// building a table is a serial loop over C/G * taps rows (thousands in a
/// late ResNet layer) before the parallel work starts. Bounded: past
/// kMaxTables tables or kMaxValues values in all it starts over (a table in
/// use stays alive through its shared_ptr).
template <size_t N> class TableCache {
public:
  using Key = std::array<int64_t, N>;
  using Table = std::shared_ptr<const std::vector<int64_t>>;

  template <typename Build> Table get(const Key &key, const Build &build) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = tables_.find(key);
      if (found != tables_.end())
        return found->second;
    }
    // Built outside the lock; a racing twin builds the same table.
    Table table = std::make_shared<const std::vector<int64_t>>(build());
    std::lock_guard<std::mutex> lock(mutex_);
    if (tables_.size() >= kMaxTables || values_ + table->size() > kMaxValues) {
      tables_.clear();
      values_ = 0;
    }
    if (tables_.emplace(key, table).second)
      values_ += table->size();
    return table;
  }

private:
  static constexpr size_t kMaxTables = 256;
  static constexpr size_t kMaxValues = size_t(1) << 21; // 16 MiB
  std::mutex mutex_;
  std::map<Key, Table> tables_;
  size_t values_ = 0;
};

/// The shapes of one convolution and, per im2col row r = (c, kd, kh, kw),
/// its channel and its tap's offsets in the (dilated) window.
struct Geometry {
  int64_t batch, groups, cg, og, outChannels;
  int64_t in[3], kernel[3], out[3], stride[3], pad[3], dilation[3];
  int64_t depth;  // im2col rows: C/G * kD * kH * kW
  int64_t pixels; // output pixels per image
  // Per im2col row, views of `rows` (cached per shape, rowTables).
  const int64_t *rowChannel, *rowD, *rowH, *rowW;
  std::shared_ptr<const std::vector<int64_t>> rows;

  Geometry(const View5 &x, const View5 &w, const View5 &y,
           const int64_t *scalars) {
    batch = x.size[0];
    groups = scalars[9];
    cg = w.size[1];
    outChannels = w.size[0];
    og = outChannels / groups;
    depth = cg;
    pixels = 1;
    for (int d = 0; d < 3; ++d) {
      in[d] = x.size[d + 2];
      kernel[d] = w.size[d + 2];
      out[d] = y.size[d + 2];
      stride[d] = scalars[d];
      pad[d] = scalars[3 + d];
      dilation[d] = scalars[6 + d];
      depth *= kernel[d];
      pixels *= out[d];
    }
    rows = rowTables();
    rowChannel = rows->data();
    rowD = rowChannel + depth;
    rowH = rowD + depth;
    rowW = rowH + depth;
  }

private:
  /// [channel; D, H, W offsets] of every im2col row, each `depth` long.
  std::shared_ptr<const std::vector<int64_t>> rowTables() const {
    static auto *cache = new TableCache<7>(); // outlives static dtors
    return cache->get(
        {cg, kernel[0], kernel[1], kernel[2], dilation[0], dilation[1],
         dilation[2]},
        [&] {
          std::vector<int64_t> table(4 * depth);
          int64_t r = 0;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t kd = 0; kd < kernel[0]; ++kd)
              for (int64_t kh = 0; kh < kernel[1]; ++kh)
                for (int64_t kw = 0; kw < kernel[2]; ++kw, ++r) {
                  table[r] = c;
                  table[depth + r] = kd * dilation[0];
                  table[2 * depth + r] = kh * dilation[1];
                  table[3 * depth + r] = kw * dilation[2];
                }
          return table;
        });
  }
};

/// A run of output pixels within one output row: where it goes in the
/// destination and the input position its first pixel's window starts at.
struct Segment {
  int64_t offset, length, z, y, x;
};

/// The segments of output pixels [pixel, pixel + count) of one image.
void segmentsOf(const Geometry &g, int64_t pixel, int64_t count,
                std::vector<Segment> &segments) {
  segments.clear();
  int64_t ow = pixel % g.out[2], rest = pixel / g.out[2];
  int64_t oh = rest % g.out[1], od = rest / g.out[1];
  for (int64_t offset = 0; offset < count;) {
    int64_t length = std::min(count - offset, g.out[2] - ow);
    segments.push_back({offset, length, od * g.stride[0] - g.pad[0],
                        oh * g.stride[1] - g.pad[1],
                        ow * g.stride[2] - g.pad[2]});
    offset += length;
    ow = 0;
    if (++oh == g.out[1]) {
      oh = 0;
      ++od;
    }
  }
}

/// im2col row `r` over `segments` into dst (zeros where a window reads the
/// padding). `image` is x[n, first channel of the group].
void fillRow(const Geometry &g, const View5 &x, const float *image, int64_t r,
             const std::vector<Segment> &segments, float *dst) {
  const float *plane = image + g.rowChannel[r] * x.stride[1];
  const int64_t sw = g.stride[2], xs = x.stride[4];
  for (const Segment &s : segments) {
    float *d = dst + s.offset;
    int64_t iz = s.z + g.rowD[r], iy = s.y + g.rowH[r];
    if (iz < 0 || iz >= g.in[0] || iy < 0 || iy >= g.in[1]) {
      std::fill(d, d + s.length, 0.0f);
      continue;
    }
    const float *row = plane + iz * x.stride[2] + iy * x.stride[3];
    int64_t ix0 = s.x + g.rowW[r];
    if (sw == 1 && xs == 1) {
      int64_t lo = std::clamp<int64_t>(-ix0, 0, s.length);
      int64_t hi = std::clamp<int64_t>(g.in[2] - ix0, lo, s.length);
      // Edges of a few zeros (the padding) and one copy: memcpy's wide
      // moves, where a loop here would be SSE (the runtime's baseline).
      for (int64_t t = 0; t < lo; ++t)
        d[t] = 0.0f;
      std::memcpy(d + lo, row + ix0 + lo, (hi - lo) * sizeof(float));
      for (int64_t t = hi; t < s.length; ++t)
        d[t] = 0.0f;
      continue;
    }
    for (int64_t t = 0; t < s.length; ++t) {
      int64_t ix = ix0 + t * sw;
      d[t] = ix >= 0 && ix < g.in[2] ? row[ix * xs] : 0.0f;
    }
  }
}

/// dx[image...] += the im2col row `src` spread back over `segments`.
void addRow(const Geometry &g, const View5 &dx, float *image, int64_t r,
            const std::vector<Segment> &segments, const float *src) {
  float *plane = image + g.rowChannel[r] * dx.stride[1];
  const int64_t sw = g.stride[2], xs = dx.stride[4];
  for (const Segment &s : segments) {
    const float *v = src + s.offset;
    int64_t iz = s.z + g.rowD[r], iy = s.y + g.rowH[r];
    if (iz < 0 || iz >= g.in[0] || iy < 0 || iy >= g.in[1])
      continue;
    float *row = plane + iz * dx.stride[2] + iy * dx.stride[3];
    int64_t ix0 = s.x + g.rowW[r];
    if (sw == 1 && xs == 1) {
      int64_t lo = std::clamp<int64_t>(-ix0, 0, s.length);
      int64_t hi = std::clamp<int64_t>(g.in[2] - ix0, lo, s.length);
      float *dst = row + ix0;
      for (int64_t t = lo; t < hi; ++t)
        dst[t] += v[t];
      continue;
    }
    for (int64_t t = 0; t < s.length; ++t) {
      int64_t ix = ix0 + t * sw;
      if (ix >= 0 && ix < g.in[2])
        row[ix * xs] += v[t];
    }
  }
}

/// Whether a 5-D view's last `dims` dims are contiguous (row-major).
bool contiguousTail(const View5 &v, int dims) {
  int64_t expected = 1;
  for (int d = 4; d > 4 - dims; --d) {
    if (v.size[d] != 1 && v.stride[d] != expected)
      return false;
    expected *= v.size[d];
  }
  return true;
}

/// `v` as a contiguous array: its own memory when it is, else a copy in
/// `storage`.
const float *contiguous(const View5 &v, std::vector<float> &storage) {
  if (contiguousTail(v, 5))
    return v.data;
  storage.resize(v.size[0] * v.size[1] * v.size[2] * v.size[3] * v.size[4]);
  float *out = storage.data();
  for (int64_t a = 0; a < v.size[0]; ++a)
    for (int64_t b = 0; b < v.size[1]; ++b)
      for (int64_t c = 0; c < v.size[2]; ++c)
        for (int64_t d = 0; d < v.size[3]; ++d)
          for (int64_t e = 0; e < v.size[4]; ++e)
            *out++ = v.data[a * v.stride[0] + b * v.stride[1] +
                            c * v.stride[2] + d * v.stride[3] +
                            e * v.stride[4]];
  return storage.data();
}

int64_t roundUp(int64_t value, int64_t step) {
  return (value + step - 1) / step * step;
}

/// Packs rows [i0, i0 + mr) (zero past `rows`) x cols [p0, p0 + kc) of
/// the matrix at(i, p) into one MR panel: out[p * mr + i].
template <typename At>
void packPanelA(int64_t rows, int64_t i0, int64_t p0, int64_t kc, int mr,
                const At &at, float *out) {
  for (int64_t p = 0; p < kc; ++p)
    for (int i = 0; i < mr; ++i)
      out[p * mr + i] = i0 + i < rows ? at(i0 + i, p0 + p) : 0.0f;
}

/// A matrix (rows x k, element at(i, p)) packed in full for the
/// micro-kernel: block (pc, rows from i) at data + pc * padded + i * kc.
template <typename At>
void packAllA(int64_t rows, int64_t k, int64_t kcMax, int mr, const At &at,
              float *out) {
  int64_t padded = roundUp(rows, mr);
  for (int64_t pc = 0; pc < k; pc += kcMax) {
    int64_t kc = std::min(kcMax, k - pc);
    for (int64_t i0 = 0; i0 < rows; i0 += mr)
      packPanelA(rows, i0, pc, kc, mr, at, out + pc * padded + i0 * kc);
  }
}

/// Whether the forward's packed weights (`floats` of them) stream from L3
/// rather than staying in the 2 MiB L2 between a task's tiles: then its
/// AVX-512 tiles prefetch A ahead (avx512ConvStreamingKernel). Above 1
/// MiB: resnet18's last two stages.
bool weightsStream(size_t floats) { return floats * sizeof(float) > (1 << 20); }

/// C[rows, cols] (+)= packed A block x packed B block over micro-tiles;
/// `streamA`: the forward's AVX-512 tile prefetches A (weightsStream).
void multiplyBlock(const MicroKernelInfo &kernel, int64_t rows, int64_t cols,
                   int64_t kc, const float *ap, const float *bp, float *c,
                   int64_t rowStride, float beta, bool streamA = false) {
  const int mr = kernel.mr, nr = kernel.nr;
  // The forward's AVX-512 tile has kernels for a last panel of fewer rows:
  // 64 or 128 channels are 5 or 10 panels of 14 rows, the last of 8 or 2.
  const bool edges = &kernel == &gemm::avx512ConvKernel();
  streamA = streamA && edges;
  for (int64_t ic = 0; ic < rows; ic += kernel.mc) {
    int64_t mc = std::min<int64_t>(kernel.mc, rows - ic);
    for (int64_t jr = 0; jr < cols; jr += nr) {
      int width = static_cast<int>(std::min<int64_t>(nr, cols - jr));
      for (int64_t ir = ic; ir < ic + mc; ir += mr) {
        int height = static_cast<int>(std::min<int64_t>(mr, rows - ir));
        gemm::MicroKernel tile =
            streamA                ? gemm::avx512ConvStreamingKernel(height)
            : edges && height < mr ? gemm::avx512ConvEdgeKernel(height)
                                   : kernel.kernel;
        tile(kc, ap + ir * kc, bp + jr * kc, c + ir * rowStride + jr,
             rowStride, 1, height, width, 1.0f, beta);
      }
    }
  }
}

/// The address one past the last element of `w` (null when it is empty).
const float *endOf(const View5 &w) {
  int64_t last = 0;
  for (int d = 0; d < 5; ++d) {
    if (w.size[d] == 0)
      return nullptr;
    last += (w.size[d] - 1) * w.stride[d];
  }
  return w.data + last + 1;
}

/// What packed weights depend on: w's sizes and strides, then `extra`.
std::vector<int64_t> layoutOf(constant::Packing packing, const View5 &w,
                              std::initializer_list<int64_t> extra) {
  std::vector<int64_t> layout{static_cast<int64_t>(packing)};
  layout.insert(layout.end(), w.size, w.size + 5);
  layout.insert(layout.end(), w.stride, w.stride + 5);
  layout.insert(layout.end(), extra);
  return layout;
}

/// `pack()` (w packed as `packing`, a layout that also depends on
/// `extra`), cached when w lies in constant memory (a loaded model file):
/// a compiled model's forward then reads the packed weights instead of
/// re-packing every weight on every call, which at batch 1 cost as much as
/// the GEMM itself.
template <typename Pack>
std::shared_ptr<const std::vector<float>>
packedOnce(const View5 &w, constant::Packing packing,
           std::initializer_list<int64_t> extra, const Pack &pack) {
  const float *end = endOf(w);
  if (!end)
    return pack();
  constant::Key key{w.data, layoutOf(packing, w, extra)};
  std::shared_ptr<const std::vector<float>> packed =
      constant::packOnce<std::vector<float>>(w.data, end, key, pack);
  return packed ? packed : pack();
}

/// The weights packed for the micro-kernel, per group: block (pc, rows
/// from i) at gi * padded * k + pc * padded + i * kc.
std::shared_ptr<const std::vector<float>>
packWeights(const Geometry &g, const View5 &w, int mr, int64_t kcMax) {
  const int64_t k = g.depth, m = g.og, padded = roundUp(m, mr);
  auto pack = [&] {
    std::vector<float> weightCopy;
    const float *weights = contiguous(w, weightCopy); // [O, depth]
    auto packed = std::make_shared<std::vector<float>>(g.groups * padded * k);
    // Panels (group, k block, MR rows) in parallel: packing is a transpose
    // of each MR x kc block, as much memory traffic as the forward's
    // reading of the weights, and at batch 1 as long as a small layer's
    // GEMM when weights are not cached (eager calls, training).
    const int64_t blocks = (k + kcMax - 1) / kcMax, panels = padded / mr;
    parallelFor(0, g.groups * blocks * panels, 4, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        int64_t gi = t / (blocks * panels), pc = t / panels % blocks * kcMax;
        int64_t i0 = t % panels * mr, kc = std::min(kcMax, k - pc);
        int64_t height = std::min<int64_t>(mr, m - i0);
        const float *src = weights + (gi * m + i0) * k + pc;
        float *out = packed->data() + gi * padded * k + pc * padded + i0 * kc;
        for (int64_t p = 0; p < kc; ++p) {
          for (int64_t i = 0; i < height; ++i)
            out[p * mr + i] = src[i * k + p];
          for (int64_t i = height; i < mr; ++i)
            out[p * mr + i] = 0.0f;
        }
      }
    });
    return packed;
  };
  return packedOnce(w, constant::Packing::ConvWeights, {g.groups, mr, kcMax},
                    pack);
}

gemm::ActivationFn activationFunction() {
  const char *name = gemm::kernelName();
  if (!std::strcmp(name, "avx512"))
    return gemm::activationFor(gemm::IsaLevel::Avx512);
  if (!std::strcmp(name, "avx2"))
    return gemm::activationFor(gemm::IsaLevel::Avx2);
  return gemm::activationFor(gemm::IsaLevel::Portable);
}

/// The GEMM epilogue of the out[1] x out[2] block of y[n, o, d] (rows H,
/// columns W): the same views at that block.
ember_gemm_epilogue planeEpilogue(const ConvEpilogue &e, int64_t n, int64_t o,
                                  int64_t d) {
  ember_gemm_epilogue plane{};
  plane.activation = e.activation;
  plane.residualBeforeActivation = e.residualFirst;
  if (e.bias.data) {
    plane.bias = e.bias.data + n * e.bias.stride[0] + o * e.bias.stride[1] +
                 d * e.bias.stride[2];
    plane.biasRowStride = e.bias.stride[3];
    plane.biasColStride = e.bias.stride[4];
  }
  if (e.residual.data) {
    plane.residual = e.residual.data + n * e.residual.stride[0] +
                     o * e.residual.stride[1] + d * e.residual.stride[2];
    plane.residualRowStride = e.residual.stride[3];
    plane.residualColStride = e.residual.stride[4];
  }
  return plane;
}

/// Applies the epilogue to the plane y[n, o] (any strides): the general
/// path, and the depthwise kernel's, right after it wrote the plane.
void finishPlane(const ConvEpilogue &e, gemm::ActivationFn activation,
                 const View5 &y, int64_t n, int64_t o) {
  for (int64_t d = 0; d < y.size[2]; ++d)
    gemm::applyEpilogueBlock(
        activation, y.size[3], y.size[4],
        y.data + n * y.stride[0] + o * y.stride[1] + d * y.stride[2],
        y.stride[3], y.stride[4], planeEpilogue(e, n, o, d));
}

/// The one stride that steps `v` (y's shape) from output pixel p to p + 1
/// in flat pixel order, when its spatial dims have one (broadcast: 0).
std::optional<int64_t> pixelStride(const View5 &v) {
  int64_t step = 0;
  bool known = false;
  int64_t extent = 1; // pixels per step of the dim being checked
  for (int d = 4; d >= 2; --d) {
    if (v.size[d] == 1)
      continue;
    if (!known) {
      step = v.stride[d];
      known = true;
    } else if (v.stride[d] != step * extent) {
      return std::nullopt;
    }
    extent *= v.size[d];
  }
  return step;
}

/// The GEMM epilogue of a block of y[n] whose rows are the channels o,
/// o + 1, ... and whose columns are the pixels from flat pixel `pixel` on,
/// when the addends step through pixels by one stride each (pixelStride:
/// `biasStep`, `residualStep`).
ember_gemm_epilogue pixelBlockEpilogue(const ConvEpilogue &e, int64_t n,
                                       int64_t o, int64_t pixel,
                                       int64_t biasStep, int64_t residualStep) {
  ember_gemm_epilogue block = planeEpilogue(e, n, o, 0);
  block.biasRowStride = e.bias.stride[1];
  block.biasColStride = biasStep;
  block.residualRowStride = e.residual.stride[1];
  block.residualColStride = residualStep;
  return gemm::shiftEpilogue(block, 0, pixel);
}

/// The GEMM epilogue of a block of y[n] whose rows are the channels o,
/// o + 1, ... and whose columns are the pixels of output row (d, h) from
/// column w on (any strides).
ember_gemm_epilogue rowBlockEpilogue(const ConvEpilogue &e, int64_t n,
                                     int64_t o, int64_t d, int64_t h,
                                     int64_t w) {
  ember_gemm_epilogue block = planeEpilogue(e, n, o, d);
  block.biasRowStride = e.bias.stride[1];
  block.biasColStride = e.bias.stride[4];
  block.residualRowStride = e.residual.stride[1];
  block.residualColStride = e.residual.stride[4];
  if (block.bias)
    block.bias += h * e.bias.stride[3];
  if (block.residual)
    block.residual += h * e.residual.stride[3];
  return gemm::shiftEpilogue(block, 0, w);
}

/// The sum of the plane y[n, o] (any strides). Contiguous rows go through
/// 16 partial sums, a loop the compiler vectorizes (one running sum is a
/// chain of adds it may not reorder).
float planeSum(const View5 &y, int64_t n, int64_t o) {
  constexpr int64_t kLanes = 16;
  float partial[kLanes] = {};
  float sum = 0;
  const float *plane = y.data + n * y.stride[0] + o * y.stride[1];
  // A contiguous plane (7x7 rows of 7) as one row.
  if (y.stride[4] == 1 && y.stride[3] == y.size[4] &&
      (y.size[2] == 1 || y.stride[2] == y.size[3] * y.size[4])) {
    const int64_t count = y.size[2] * y.size[3] * y.size[4];
    int64_t v = 0;
    for (; v + kLanes <= count; v += kLanes)
      for (int64_t l = 0; l < kLanes; ++l)
        partial[l] += plane[v + l];
    for (; v < count; ++v)
      sum += plane[v];
    for (float p : partial)
      sum += p;
    return sum;
  }
  for (int64_t d = 0; d < y.size[2]; ++d)
    for (int64_t h = 0; h < y.size[3]; ++h) {
      const float *row = plane + d * y.stride[2] + h * y.stride[3];
      int64_t v = 0;
      if (y.stride[4] == 1)
        for (; v + kLanes <= y.size[4]; v += kLanes)
          for (int64_t l = 0; l < kLanes; ++l)
            partial[l] += row[v + l];
      for (; v < y.size[4]; ++v)
        sum += row[v * y.stride[4]];
    }
  for (float p : partial)
    sum += p;
  return sum;
}

/// mean[n, o] (its pixel dims stride 0) = the mean of the plane y[n, o].
void writeMeans(const View5 &y, const View5 &mean) {
  const int64_t pixels = y.size[2] * y.size[3] * y.size[4];
  parallelFor(0, y.size[0] * y.size[1], 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      int64_t n = t / y.size[1], o = t % y.size[1];
      mean.data[n * mean.stride[0] + o * mean.stride[1]] =
          planeSum(y, n, o) / static_cast<float>(pixels);
    }
  });
}

/// Whether forward runs `g` through the direct depthwise kernel
/// (CpuConvDepthwise.h): grouped with one input channel per group, 1-D or
/// 2-D, the output's planes contiguous rows.
bool isDepthwise(const Geometry &g, const View5 &y) {
  return g.groups > 1 && g.cg == 1 && g.kernel[0] == 1 && g.in[0] == 1 &&
         g.out[0] == 1 && y.stride[4] == 1 && g.depth > 0;
}

/// y[n, o] = x[n, o / (O/G)] convolved with w[o], one plane per task.
void depthwiseForward(const View5 &x, const View5 &w, const View5 &y,
                      const Geometry &g, const ConvEpilogue *epilogue) {
  const gemm::ActivationFn activation = activationFunction();
  std::vector<float> weightCopy;
  const float *weights = contiguous(w, weightCopy); // [O, kH * kW]
  const PlaneGeometry plane{g.in[1],     g.in[2],       g.out[1],
                            g.out[2],    g.kernel[1],   g.kernel[2],
                            g.stride[1], g.stride[2],   g.pad[1],
                            g.pad[2],    g.dilation[1], g.dilation[2]};
  const int64_t scratchSize = depthwiseScratchSize(plane);
  const int64_t taps = g.kernel[1] * g.kernel[2];
  const bool avx512 = !std::strcmp(gemm::kernelName(), "avx512");
  // No residual and one bias value per plane (BatchNorm folded into the
  // conv): the kernel may finish each output in its register.
  const bool inRegisters =
      epilogue && !epilogue->residual.data &&
      (!epilogue->bias.data ||
       (epilogue->bias.stride[3] == 0 && epilogue->bias.stride[4] == 0));
  // Planes in groups (depthwiseGroup); each task a whole number of them.
  const int64_t group =
      depthwiseGroup(plane, x.stride[3], x.stride[4], y.stride[3], avx512);
  // The plane means: summed by the kernel in registers when it finishes
  // the plane there, else over the finished plane while it is in cache.
  const View5 *mean = epilogue && epilogue->mean.data ? &epilogue->mean
                                                       : nullptr;
  const float pixels = static_cast<float>(g.out[1] * g.out[2]);
  // Planes by image n and channel o, stepped along without a division
  // per plane (at 7x7 one cost a sizeable part of a plane's FMAs).
  auto writeMean = [&](int64_t n, int64_t o, bool summed, float sum) {
    if (!summed)
      sum = planeSum(y, n, o);
    mean->data[n * mean->stride[0] + o * mean->stride[1]] = sum / pixels;
  };
  const int64_t total = g.batch * g.outChannels;
  parallelFor(0, (total + group - 1) / group, 1, [&](int64_t first,
                                                     int64_t last) {
    const int64_t lo = first * group, hi = std::min(last * group, total);
    float *scratch = planes.get(scratchSize);
    // Plane (n, o)'s input, taps, output and register epilogue.
    auto planeOf = [&](int64_t n, int64_t o, const float *&xp,
                       const float *&tp, float *&yp, PlaneEpilogue &stored,
                       float &sum) {
      xp = x.data + n * x.stride[0] + (g.og == 1 ? o : o / g.og) * x.stride[1];
      tp = weights + o * taps;
      yp = y.data + n * y.stride[0] + o * y.stride[1];
      if (inRegisters) {
        stored.activation = epilogue->activation;
        stored.hasBias = epilogue->bias.data != nullptr;
        if (stored.hasBias)
          stored.bias = epilogue->bias.data[n * epilogue->bias.stride[0] +
                                            o * epilogue->bias.stride[1]];
        if (mean)
          stored.sum = &sum;
      }
    };
    int64_t t = lo, n = lo / g.outChannels, o = lo % g.outChannels;
    // Small planes in groups, then two at a time (depthwiseGroup).
    for (int64_t size = group; size > 1; size = size > 2 ? 2 : 1)
      for (; t + size <= hi; t += size) {
        const float *xp[kDepthwiseMaxGroup], *tp[kDepthwiseMaxGroup];
        float *yp[kDepthwiseMaxGroup];
        PlaneEpilogue stored[kDepthwiseMaxGroup];
        float sum[kDepthwiseMaxGroup] = {};
        int64_t ns[kDepthwiseMaxGroup], os[kDepthwiseMaxGroup];
        for (int64_t p = 0; p < size; ++p) {
          ns[p] = n;
          os[p] = o;
          planeOf(n, o, xp[p], tp[p], yp[p], stored[p], sum[p]);
          if (++o == g.outChannels) {
            o = 0;
            ++n;
          }
        }
        bool finished = depthwisePlanes(plane, size, xp, tp, yp,
                                        inRegisters ? stored : nullptr);
        for (int64_t p = 0; p < size; ++p) {
          if (epilogue && !finished)
            finishPlane(*epilogue, activation, y, ns[p], os[p]);
          if (mean)
            writeMean(ns[p], os[p], finished, sum[p]);
        }
      }
    for (; t < hi; ++t) {
      const float *xp, *tp;
      float *yp;
      PlaneEpilogue stored;
      float sum = 0;
      planeOf(n, o, xp, tp, yp, stored, sum);
      bool finished =
          depthwisePlane(plane, xp, x.stride[3], x.stride[4], tp, yp,
                         y.stride[3], scratch, avx512,
                         inRegisters ? &stored : nullptr);
      if (epilogue && !finished) // while the plane is in cache
        finishPlane(*epilogue, activation, y, n, o);
      if (mean)
        writeMean(n, o, finished, sum);
      if (++o == g.outChannels) {
        o = 0;
        ++n;
      }
    }
  });
}

/// The forward of a 2-D convolution as a GEMM over a "shifted" input: the
/// input is padded once and split into its stride phases (plane (a, b)
/// holds x[i * sh + a - padH, j * sw + b - padW], zeros outside), so that
/// every tap (c, kh, kw) reads one phase plane at a fixed offset. Output
/// pixels are numbered on a grid as wide as the planes (Wq >= OW columns,
/// the last Wq - OW of each row computed and dropped): then the im2col row
/// of a tap over NR consecutive grid pixels is NR consecutive floats of a
/// plane, and packing a B panel is one fixed-size copy per row, where the
/// general packing splits each row at the image's rows and edges (a
/// quarter of the time of a 3x3 convolution at 28x28). The extra columns
/// cost (Wq - OW) / OW: 1/28 at 56x56 and 3x3, nothing for 1x1; at 7x7
/// and 14x14 the grid rounds up to the same NR multiple as the pixels do.
struct ShiftedInput {
  int64_t hq, wq, phases, plane; // plane = hq * wq floats
  int64_t gridPixels;            // (OH - 1) * wq + OW
  const int64_t *rowOffset; // per im2col row, from the group's base
  std::shared_ptr<const std::vector<int64_t>> rowOffsets; // (cached)
  int64_t phaseIndex[64];         // a * sw + b -> used phase, or -1
  // Where the planes are: x itself when its one plane is x's (below), else
  // a copy with `phases` planes per channel.
  bool inPlace;
  int64_t channelStride;
  // Unit strides with padding, packed from x itself (packEdges32Avx512):
  // the grid is x's rows (wq = W), and per im2col row its shift along the
  // flat plane (for the image's bounds) and its column shift's index
  // (kw * dilation - padW - minShift, for the edge masks).
  bool edges = false;
  int64_t minShift = 0, shifts = 0, planePixels = 0;
  const int64_t *rowFlat = nullptr, *rowShift = nullptr;

  /// `maskedEdges`: the AVX-512 forward tile, whose packing can read x in
  /// place with padding.
  ShiftedInput(const Geometry &g, const View5 &x, bool maskedEdges) {
    const int64_t sh = g.stride[1], sw = g.stride[2];
    hq = g.out[1] + (g.kernel[1] - 1) * g.dilation[1] / sh;
    wq = g.out[2] + (g.kernel[2] - 1) * g.dilation[2] / sw;
    plane = hq * wq;
    gridPixels = (g.out[1] - 1) * wq + g.out[2];
    std::fill(std::begin(phaseIndex), std::end(phaseIndex), -1);
    phases = 0;
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
      for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
        int64_t phase = kh * g.dilation[1] % sh * sw + kw * g.dilation[2] % sw;
        if (phaseIndex[phase] < 0)
          phaseIndex[phase] = phases++;
      }
    // Unit strides and no padding (the high end may crop): the one plane
    // is x's own when its rows are contiguous, e.g. every 1x1 convolution
    // with unit strides, a plain GEMM on x with no copy.
    inPlace = phases == 1 && sh == 1 && sw == 1 && g.pad[1] == 0 &&
              g.pad[2] == 0 && wq == g.in[2] && hq <= g.in[1] &&
              x.stride[4] == 1 && x.stride[3] == g.in[2];
    // Unit strides with padding: x in place as well, the padding masked
    // while packing. The phase copy (a padded plane per channel, written
    // and read again for each image) was about 5% of resnet18's forward at
    // batch 32, and its grid's two extra columns a row 4% of the 3x3's
    // FMAs at 56x56 and 8% at 28x28.
    edges = maskedEdges && !inPlace && sh == 1 && sw == 1 && x.stride[4] == 1 &&
            x.stride[3] == g.in[2] && g.out[2] <= g.in[2] &&
            g.kernel[2] * g.dilation[2] <= 64;
    if (edges) {
      wq = g.in[2];
      hq = g.in[1];
      plane = hq * wq;
      planePixels = plane;
      gridPixels = (g.out[1] - 1) * wq + g.out[2];
      minShift = -g.pad[2];
      shifts = (g.kernel[2] - 1) * g.dilation[2] + 1;
      channelStride = x.stride[1];
      static auto *edgeCache = new TableCache<9>(); // outlives static dtors
      rowOffsets =
          edgeCache->get({g.cg, g.kernel[1], g.kernel[2], g.dilation[1],
                          g.dilation[2], g.pad[1], g.pad[2], wq, channelStride},
                         [&] {
                           // [offset from the group's base; flat shift; shift
                           // index]
                           std::vector<int64_t> table(3 * g.depth);
                           for (int64_t r = 0; r < g.depth; ++r) {
                             int64_t shift = g.rowW[r] - g.pad[2];
                             int64_t flat = (g.rowH[r] - g.pad[1]) * wq + shift;
                             table[r] = g.rowChannel[r] * channelStride + flat;
                             table[g.depth + r] = flat;
                             table[2 * g.depth + r] = shift - minShift;
                           }
                           return table;
                         });
      rowOffset = rowOffsets->data();
      rowFlat = rowOffset + g.depth;
      rowShift = rowFlat + g.depth;
      return;
    }
    channelStride = inPlace ? x.stride[1] : phases * plane;
    // The offsets follow from these (the phase indices from the kernel,
    // dilation and strides).
    static auto *cache = new TableCache<10>(); // outlives static dtors
    rowOffsets = cache->get(
        {g.cg, g.kernel[1], g.kernel[2], g.dilation[1], g.dilation[2], sh, sw,
         wq, plane, channelStride},
        [&] {
          std::vector<int64_t> offsets(g.depth);
          for (int64_t r = 0; r < g.depth; ++r) {
            int64_t phase = g.rowH[r] % sh * sw + g.rowW[r] % sw;
            offsets[r] = g.rowChannel[r] * channelStride +
                         phaseIndex[phase] * plane + g.rowH[r] / sh * wq +
                         g.rowW[r] / sw;
          }
          return offsets;
        });
    rowOffset = rowOffsets->data();
  }

  /// Whether `g` fits: 2-D (unit depth dims) with strides that leave at
  /// most 64 phases.
  static bool applies(const Geometry &g) {
    return g.in[0] == 1 && g.kernel[0] == 1 && g.out[0] == 1 &&
           g.pad[0] == 0 && g.stride[1] * g.stride[2] <= 64;
  }
};

/// d[j] = row[2 * j] for j in [0, count): a stride-2 column phase, 16
/// outputs from two loads and one permute where the scalar loop took 16
/// loads (resnet's stride-2 convolutions at batch 32 spent ~9% of their
/// time here). Reads row[0, 2 * count - 1] only.
__attribute__((target("avx512f"))) void gatherEven(const float *row,
                                                   int64_t count, float *d) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                         20, 22, 24, 26, 28, 30);
  int64_t j = 0;
  for (; j + 16 < count; j += 16) // the second load's last lane: 2j + 31
    _mm512_storeu_ps(d + j, _mm512_permutex2var_ps(
                                _mm512_loadu_ps(row + 2 * j), even,
                                _mm512_loadu_ps(row + 2 * j + 16)));
  for (; j < count; ++j)
    d[j] = row[2 * j];
}

bool haveAvx512() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return have;
}

/// Writes rows [i0, i1) of the used phase planes of channel c of image n
/// of x at `out` ([phases, hq, wq]).
void buildPhases(const Geometry &g, const View5 &x, const ShiftedInput &s,
                 int64_t n, int64_t c, float *out, int64_t i0, int64_t i1) {
  const int64_t sh = g.stride[1], sw = g.stride[2];
  const float *src = x.data + n * x.stride[0] + c * x.stride[1];
  for (int64_t a = 0; a < sh; ++a)
    for (int64_t b = 0; b < sw; ++b) {
      int64_t index = s.phaseIndex[a * sw + b];
      if (index < 0)
        continue;
      float *dst = out + index * s.plane;
      // Column j reads input column j * sw + first: zeros outside [jlo, jhi).
      int64_t first = b - g.pad[2];
      int64_t jlo = first >= 0 ? 0 : std::min((-first + sw - 1) / sw, s.wq);
      int64_t jhi = std::clamp<int64_t>((g.in[2] - first + sw - 1) / sw, jlo,
                                        s.wq);
      for (int64_t i = i0; i < i1; ++i) {
        float *d = dst + i * s.wq;
        int64_t iy = i * sh + a - g.pad[1];
        if (iy < 0 || iy >= g.in[1]) {
          std::fill(d, d + s.wq, 0.0f);
          continue;
        }
        const float *row = src + iy * x.stride[3];
        std::fill(d, d + jlo, 0.0f);
        if (sw == 1 && x.stride[4] == 1)
          std::memcpy(d + jlo, row + jlo + first, (jhi - jlo) * sizeof(float));
        else if (sw == 2 && x.stride[4] == 1 && haveAvx512())
          gatherEven(row + jlo * 2 + first, jhi - jlo, d + jlo);
        else
          for (int64_t j = jlo; j < jhi; ++j)
            d[j] = row[(j * sw + first) * x.stride[4]];
        std::fill(d + jhi, d + s.wq, 0.0f);
      }
    }
}

/// Every image's phase planes at `phased` (channel planes s.channelStride
/// apart), channels in parallel. Few planes (the RGB stem at batch 1: 3
/// for 2 threads, one of them building two, ~40 us of mobilenet_v3_small's
/// ~1.1 ms) are split by rows too, into a multiple of the pool's 4 chunks
/// a thread (3 planes: 8 parts each, 3 a chunk).
void buildAllPhases(const Geometry &g, const View5 &x, const ShiftedInput &s,
                    int64_t channels, float *phased) {
  const int64_t planes = g.batch * channels, chunks = 4 * numThreads();
  const int64_t parts =
      planes >= chunks ? 1
                       : std::clamp<int64_t>(chunks / std::gcd(planes, chunks),
                                             1, std::max<int64_t>(s.hq / 8, 1));
  parallelFor(0, planes * parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t plane = t / parts, part = t % parts;
      buildPhases(g, x, s, plane / channels, plane % channels,
                  phased + plane * s.channelStride, part * s.hq / parts,
                  (part + 1) * s.hq / parts);
    }
  });
}

/// B panels of grid pixels [j0, j0 + count) for im2col rows [p0, p0 +
/// kc): row p of panel q is NR floats at base + rowOffset[p0 + p] + j0 +
/// q * NR. A fixed NR makes each full row's copy a few inline moves; the
/// last panel copies only the pixels that exist (nothing past the planes
/// is read) and zeros the rest.
template <int NR>
void packShifted(const float *base, const int64_t *rowOffset, int64_t kc,
                 int64_t j0, int64_t count, float *out) {
  int64_t q = 0;
  for (; (q + 1) * NR <= count; ++q) {
    const float *src = base + j0 + q * NR;
    float *panel = out + q * kc * NR;
    for (int64_t p = 0; p < kc; ++p)
      std::memcpy(panel + p * NR, src + rowOffset[p], NR * sizeof(float));
  }
  if (int64_t width = count - q * NR) {
    const float *src = base + j0 + q * NR;
    float *panel = out + q * kc * NR;
    for (int64_t p = 0; p < kc; ++p) {
      std::memcpy(panel + p * NR, src + rowOffset[p], width * sizeof(float));
      std::fill(panel + p * NR + width, panel + (p + 1) * NR, 0.0f);
    }
  }
}

/// packShifted<32> in AVX-512 moves (the forward's AVX-512 tile is 32
/// pixels wide): two loads and two stores a row where the baseline ISA
/// needs eight of each, and masked loads for the last panel (no read past
/// it, zeros in the lanes past its width).
__attribute__((target("avx512f"))) void
packShifted32Avx512(const float *base, const int64_t *rowOffset, int64_t kc,
                    int64_t j0, int64_t count, float *out) {
  for (int64_t q = 0; q * 32 < count; ++q) {
    const float *src = base + j0 + q * 32;
    float *panel = out + q * kc * 32;
    int64_t width = std::min<int64_t>(32, count - q * 32);
    if (width == 32) {
      for (int64_t p = 0; p < kc; ++p) {
        const float *row = src + rowOffset[p];
        _mm512_storeu_ps(panel + p * 32, _mm512_loadu_ps(row));
        _mm512_storeu_ps(panel + p * 32 + 16, _mm512_loadu_ps(row + 16));
      }
      continue;
    }
    __mmask16 low = static_cast<__mmask16>(
        width >= 16 ? 0xFFFF : (1u << width) - 1);
    __mmask16 high = static_cast<__mmask16>(
        width <= 16 ? 0 : (1u << (width - 16)) - 1);
    for (int64_t p = 0; p < kc; ++p) {
      const float *row = src + rowOffset[p];
      _mm512_storeu_ps(panel + p * 32, _mm512_maskz_loadu_ps(low, row));
      _mm512_storeu_ps(panel + p * 32 + 16,
                       _mm512_maskz_loadu_ps(high, row + 16));
    }
  }
}

void packShifted(const MicroKernelInfo &kernel, const float *base,
                 const int64_t *rowOffset, int64_t kc, int64_t j0,
                 int64_t count, float *out) {
  const int nr = kernel.nr;
  if (&kernel == &gemm::avx512ConvKernel())
    return packShifted32Avx512(base, rowOffset, kc, j0, count, out);
  switch (nr) {
  case 16:
    return packShifted<16>(base, rowOffset, kc, j0, count, out);
  case 32:
    return packShifted<32>(base, rowOffset, kc, j0, count, out);
  case 64:
    return packShifted<64>(base, rowOffset, kc, j0, count, out);
  }
  for (int64_t q = 0; q * nr < count; ++q) {
    int64_t width = std::min<int64_t>(nr, count - q * nr);
    for (int64_t p = 0; p < kc; ++p) {
      float *row = out + (q * kc + p) * nr;
      std::memcpy(row, base + j0 + q * nr + rowOffset[p],
                  width * sizeof(float));
      std::fill(row + width, row + nr, 0.0f);
    }
  }
}

/// Bits [lo, hi) of a 32-bit lane mask (clamped to [0, 32)).
inline uint32_t laneBits(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, 32);
  hi = std::clamp<int64_t>(hi, 0, 32);
  return lo < hi ? static_cast<uint32_t>(((uint64_t(1) << hi) - 1) &
                                         ~((uint64_t(1) << lo) - 1))
                 : 0u;
}

/// The lanes t < width of grid pixels jq + t (rows of `wq`) whose column
/// lies in [a, b).
uint32_t columnLanes(int64_t jq, int64_t width, int64_t wq, int64_t a,
                     int64_t b) {
  uint32_t lanes = 0;
  a = std::max<int64_t>(a, 0);
  b = std::min(b, wq);
  for (int64_t start = jq / wq * wq; start < jq + width; start += wq)
    lanes |= laneBits(start + a - jq, std::min(start + b, jq + width) - jq);
  return lanes;
}

/// The B panels of grid pixels [j0, j0 + count) for im2col rows [pc, pc +
/// kc) of ShiftedInput's edges mode: row p of panel q is the 32 floats at
/// base + rowOffset[pc + p] + j0 + q * 32 of x's own plane, masked to the
/// lanes whose input pixel exists (its column inside the row: the
/// panel's mask for the row's column shift; its flat index inside the
/// plane: then its row is too), zeros elsewhere (the padding). Row by
/// row across the panels: each row of x is read as one stream (the
/// hardware prefetchers follow it; panel by panel, a 3x3's 28 channels of
/// a k block were 84 short streams, whose misses the packing waited on).
__attribute__((target("avx512f"))) void
packEdges32Avx512(const ShiftedInput &s, const float *base, int64_t pc,
                  int64_t kc, int64_t j0, int64_t count, float *out) {
  constexpr int64_t kChunk = 16; // panels per pass over the rows
  const int64_t wq = s.wq, planePixels = s.planePixels;
  const intptr_t origin = reinterpret_cast<intptr_t>(base);
  uint32_t columnMask[kChunk][64];
  const int64_t panels = (count + 31) / 32;
  for (int64_t q0 = 0; q0 < panels; q0 += kChunk) {
    const int64_t chunk = std::min(kChunk, panels - q0);
    for (int64_t q = 0; q < chunk; ++q) {
      const int64_t jq = j0 + (q0 + q) * 32;
      const int64_t width = std::min<int64_t>(32, count - (q0 + q) * 32);
      // Shift e = minShift + i keeps columns [-e, W - e) inside the row.
      for (int64_t i = 0; i < s.shifts; ++i)
        columnMask[q][i] = columnLanes(jq, width, wq, -(s.minShift + i),
                                       wq - (s.minShift + i));
    }
    for (int64_t p = 0; p < kc; ++p) {
      const int64_t flat = s.rowFlat[pc + p], shift = s.rowShift[pc + p];
      const int64_t offset = s.rowOffset[pc + p];
      for (int64_t q = 0; q < chunk; ++q) {
        const int64_t jq = j0 + (q0 + q) * 32;
        // Lanes whose flat index jq + t + flat lies in the plane.
        const uint32_t mask =
            laneBits(-(jq + flat), planePixels - (jq + flat)) &
            columnMask[q][shift];
        // Integer addresses: masked lanes may lie outside x.
        const float *row = reinterpret_cast<const float *>(
            origin + (offset + jq) * intptr_t(sizeof(float)));
        float *panel = out + ((q0 + q) * kc + p) * 32;
        if (shift == 0) {
          // The same columns of the next tile (usually this thread's
          // next task) into L2, once per row of x (the other taps'
          // shifts read the same lines).
          const char *ahead = reinterpret_cast<const char *>(row + count);
          _mm_prefetch(ahead, _MM_HINT_T1);
          _mm_prefetch(ahead + 64, _MM_HINT_T1);
        }
        _mm512_storeu_ps(
            panel,
            _mm512_maskz_loadu_ps(static_cast<__mmask16>(mask & 0xFFFF), row));
        _mm512_storeu_ps(panel + 16,
                         _mm512_maskz_loadu_ps(
                             static_cast<__mmask16>(mask >> 16), row + 16));
      }
    }
  }
}

/// The B panels of grid pixels [j0, j0 + count) for im2col rows [pc, pc +
/// kc), from the planes at `base`.
void packGrid(const MicroKernelInfo &kernel, const ShiftedInput &s,
              const float *base, int64_t pc, int64_t kc, int64_t j0,
              int64_t count, float *out) {
  if (s.edges)
    return packEdges32Avx512(s, base, pc, kc, j0, count, out);
  packShifted(kernel, base, s.rowOffset + pc, kc, j0, count, out);
}

/// rows x width floats from src to dst (row strides srcStride and
/// dstStride): a grid tile's output pixels into y, one call per output row
/// of the tile. Inline AVX-512 moves with a masked tail: a memcpy call per
/// channel row (56 floats at 56x56, 28 at 28x28) cost more in calls than in
/// moves.
__attribute__((target("avx512f"))) void
copyBlockAvx512(const float *src, int64_t srcStride, float *dst,
                int64_t dstStride, int64_t rows, int64_t width) {
  const int64_t full = width / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (width - full)) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const float *from = src + r * srcStride;
    float *to = dst + r * dstStride;
    for (int64_t j = 0; j < full; j += 16)
      _mm512_storeu_ps(to + j, _mm512_loadu_ps(from + j));
    if (tail)
      _mm512_mask_storeu_ps(to + full, tail,
                            _mm512_maskz_loadu_ps(tail, from + full));
  }
}

void copyBlock(bool avx512, const float *src, int64_t srcStride, float *dst,
               int64_t dstStride, int64_t rows, int64_t width) {
  if (avx512)
    return copyBlockAvx512(src, srcStride, dst, dstStride, rows, width);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * dstStride, src + r * srcStride,
                width * sizeof(float));
}

/// The runs (gemm::TileRuns) of grid pixels [j, j + width), one panel:
/// per output row they touch, its columns below OW, with their places in
/// y and in the residual (from the block's first channel of its image).
gemm::TileRuns runsOf(const Geometry &g, const ShiftedInput &s, const View5 &y,
                      const View5 *residual, int64_t j, int64_t width) {
  gemm::TileRuns runs;
  for (int64_t oh = j / s.wq; oh * s.wq < j + width; ++oh) {
    int64_t from = std::max(j, oh * s.wq);
    int64_t to = std::min(j + width, oh * s.wq + g.out[2]);
    if (from >= to)
      continue;
    int64_t ow = from - oh * s.wq;
    int64_t offset = oh * y.stride[3] + ow * y.stride[4];
    int64_t residualOffset =
        residual ? oh * residual->stride[3] + ow * residual->stride[4] : 0;
    if (int r = runs.count - 1; r >= 0 && runs.end[r] == from - j) {
      // Follows the last run in the tile, in y and in the residual (a
      // direct grid's rows): one run.
      int64_t length = runs.end[r] - runs.begin[r];
      if (runs.offset[r] + length == offset &&
          (!residual || runs.residualOffset[r] + length == residualOffset)) {
        runs.end[r] = static_cast<int>(to - j);
        continue;
      }
    }
    int r = runs.count++;
    runs.begin[r] = static_cast<int>(from - j);
    runs.end[r] = static_cast<int>(to - j);
    runs.offset[r] = offset;
    runs.residualOffset[r] = residualOffset;
  }
  return runs;
}

/// multiplyBlock for avx512ConvKernel's tiles stored through runs, the
/// last k block of a grid tile: the block's rows of y (from `y`, row
/// stride rowStride) = packed A x packed B + `prior` (when given: the
/// earlier k blocks' rows x cols block, row stride priorStride), then
/// `finish` (when given, from the block's first row); panel q of B through
/// runs[q].
void multiplyRuns(int64_t rows, int64_t cols, int64_t kc, const float *ap,
                  const float *bp, float *y, int64_t rowStride,
                  const gemm::TileRuns *runs, const float *prior,
                  int64_t priorStride, const gemm::TileFinish *finish) {
  const MicroKernelInfo &kernel = gemm::avx512ConvKernel();
  const int mr = kernel.mr, nr = kernel.nr;
  gemm::TileFinish rowFinish;
  for (int64_t ic = 0; ic < rows; ic += kernel.mc) {
    int64_t mc = std::min<int64_t>(kernel.mc, rows - ic);
    for (int64_t jr = 0; jr < cols; jr += nr) {
      for (int64_t ir = ic; ir < ic + mc; ir += mr) {
        int height = static_cast<int>(std::min<int64_t>(mr, rows - ir));
        if (finish) {
          rowFinish = *finish;
          if (rowFinish.bias)
            rowFinish.bias += ir * rowFinish.biasStride;
          if (rowFinish.residual)
            rowFinish.residual += ir * rowFinish.residualStride;
        }
        gemm::avx512ConvRunKernel(height)(
            kc, ap + ir * kc, bp + jr * kc, y + ir * rowStride, rowStride,
            runs[jr / nr], prior ? prior + ir * priorStride + jr : nullptr,
            priorStride, finish ? &rowFinish : nullptr);
      }
    }
  }
}

/// y = conv(x, w) through ShiftedInput, with w packed for `kernel`, then
/// `epilogue` (optional) applied to each task's block while it is in
/// cache; false (nothing done) when the phase planes do not fit in memory.
bool forwardShifted(const View5 &x, const View5 &y, const Geometry &g,
                    const MicroKernelInfo &kernel,
                    const std::vector<float> &packedWeights,
                    const ConvEpilogue *epilogue) {
  const ShiftedInput s(g, x, &kernel == &gemm::avx512ConvKernel());
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t k = g.depth, m = g.og, channels = x.size[1];
  const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
  const int64_t padded = roundUp(m, mr);
  const bool streamA = weightsStream(packedWeights.size());
  // The planes (unless x is its own): with a few images, all of them up
  // front, channels in parallel; with many (at least two per thread), each
  // thread builds the planes of the image its task reads into its own
  // buffer when the image changes (its tasks are consecutive, so about
  // once per image): they stay in cache for the image's tiles, and no copy
  // of the whole batch is made.
  const int64_t imageFloats = channels * s.phases * s.plane;
  const int64_t threads = numThreads();
  const bool copied = !s.inPlace && !s.edges;
  const bool perThread = copied && g.batch >= 2 * threads;
  float *phased = nullptr;
  if (!perThread && copied) {
    phased = shifted.get(g.batch * imageFloats);
    if (!phased)
      return false; // the general packing needs no copy of x
    buildAllPhases(g, x, s, channels, phased);
  }
  // The grid is the output's own layout when no column is dropped.
  const bool direct = s.wq == g.out[2] && y.stride[4] == 1 &&
                      y.stride[3] == g.out[2];
  // Else, on the AVX-512 tile, each micro-tile of a grid tile's last k
  // block stores its output columns straight into y through runs (a panel
  // of NR grid pixels touches at most (NR - 1) / wq + 2 output rows),
  // adding the earlier blocks' sums from a scratch block; other kernels
  // write the whole tile to the scratch block and copy its output columns.
  // (Accumulating the k blocks in y through runs was 12% slower at 7x7:
  // many short runs, re-read 18 times.)
  // A direct grid's last k block goes through runs too (one or two a
  // panel), for the epilogue in registers; not for 1x1 convolutions,
  // whose path is the pointwise work's.
  const bool runStores = &kernel == &gemm::avx512ConvKernel() &&
                         (!direct || g.kernel[1] * g.kernel[2] > 1) &&
                         (y.stride[4] == 1 || g.out[2] == 1) &&
                         (nr - 1) / s.wq + 2 <= gemm::TileRuns::kMax;
  // Tasks: (image, group, grid tile, block of rows). Tiles are whole
  // panels of NR pixels, about kPixelTile; with few tasks (batch 1) an
  // image's tiles are as even as the panels allow and their count a
  // multiple of the threads (28x28: 4 tiles of 7, 7, 7 and 6 panels rather
  // than 8, 8, 8 and 3), and blocks of rows split them further when there
  // are still fewer than two a thread.
  const int64_t cells = s.gridPixels, panels = (cells + nr - 1) / nr;
  const int64_t images = g.batch * g.groups;
  const int64_t panelsPerTile = std::max<int64_t>(1, kPixelTile / nr);
  int64_t tilesPerImage = (panels + panelsPerTile - 1) / panelsPerTile;
  // One image of one tile (batch 1 in the late layers) on several
  // threads, with more weights than panels to pack (output channels >=
  // the blocks of rows x the tile's pixels: 7x7 with 512 channels): the
  // threads split only the output channels, and the tile's panels are
  // packed once, before, for all of them. Splitting the pixels too made
  // each of the tile's parts stream all the weights from memory again (9
  // MiB at 512 -> 512 channels 3x3: two threads were no faster than one).
  // With fewer weights (14x14 with 256 channels) the blocks would re-read
  // the shared panels from the other core's cache instead: split as below.
  const int64_t rowPanels = padded / mr;
  const int64_t tileWidth = panels * nr;
  const bool sharedPanels = images == 1 && tilesPerImage == 1 &&
                            threads > 1 && rowPanels >= 2 * threads &&
                            m >= 2 * threads * tileWidth;
  // Few tasks (up to 8 a thread), or one image: tiles of uneven widths, as
  // even as the panels allow, whose count makes the tasks a multiple of the
  // threads (56x56 at batch 1 made 13 tiles of 8 panels, 7 for one thread
  // and 6 for the other; now 14 of 7 or 8).
  const bool evenTiles = !sharedPanels && threads > 1 &&
                         (images * tilesPerImage < 8 * threads || images == 1);
  if (evenTiles)
    tilesPerImage = std::min(
        panels, (roundUp(images * tilesPerImage, threads) + images - 1) /
                    images);
  const int64_t tile = (panels + tilesPerImage - 1) / tilesPerImage * nr;
  const int64_t tiles = evenTiles ? tilesPerImage : (cells + tile - 1) / tile;
  const int64_t tasks = images * tiles;
  // Tile ti's first grid pixel and its pixel count (at most `tile`).
  auto tileRange = [&](int64_t ti) {
    int64_t lo = evenTiles ? ti * panels / tiles * nr : ti * tile;
    int64_t hi = evenTiles ? (ti + 1) * panels / tiles * nr : lo + tile;
    return std::make_pair(lo, std::min(hi, cells) - lo);
  };
  const int64_t wanted = 2 * threads;
  int64_t rowBlock = padded, rowBlocks;
  if (sharedPanels) {
    // As even as the panels of rows allow, two a thread.
    rowBlocks = wanted;
    rowBlock = (rowPanels + rowBlocks - 1) / rowBlocks * mr;
  } else {
    if (tasks < wanted && padded > mr)
      rowBlock = std::max<int64_t>(
          roundUp((padded * tasks + wanted - 1) / wanted, mr), 4 * mr);
    rowBlocks = (m + rowBlock - 1) / rowBlock;
  }
  // Block b's first row and its row count (at most rowBlock).
  auto blockRows = [&](int64_t b) {
    int64_t lo = sharedPanels ? b * rowPanels / rowBlocks * mr : b * rowBlock;
    int64_t hi = sharedPanels ? (b + 1) * rowPanels / rowBlocks * mr
                              : lo + rowBlock;
    return std::make_pair(lo, std::min(hi, m) - lo);
  };
  // One image in whole tiles: each thread takes a contiguous run of them,
  // the same number of panels (within one) for each. Neighbouring tiles
  // share the rows of the phase planes their windows overlap, which stay in
  // that thread's cache; handed out a chunk at a time, each thread's tiles
  // alternated with the other's (56x56 with 64 channels, 2 threads: 0.76
  // -> 0.71 ms).
  const bool contiguousShares = images == 1 && evenTiles && rowBlocks == 1;
  // A few uneven tasks run largest first (the pool hands them out in
  // order, one a chunk), so that the threads' totals come out even.
  std::vector<int64_t> order;
  if (!contiguousShares && tasks * rowBlocks <= 4 * threads && threads > 1) {
    order.resize(tasks * rowBlocks);
    for (int64_t i = 0; i < tasks * rowBlocks; ++i)
      order[i] = i;
    auto cost = [&](int64_t task) {
      return blockRows(task % rowBlocks).second *
             roundUp(tileRange(task / rowBlocks % tiles).second, nr);
    };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return cost(a) > cost(b);
    });
  }
  // The one tile's panels, every k block of them (block pc at pc * tile),
  // packed by the threads together.
  float *shared = nullptr;
  if (sharedPanels) {
    shared = sharedPanelsBuffer.get(k * tile);
    if (!shared)
      return false;
    const float *base = copied ? phased : x.data;
    parallelFor(0, (k + kcMax - 1) / kcMax, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t pc = lo * kcMax; pc < std::min(k, hi * kcMax);
           pc += kcMax)
        packGrid(kernel, s, base, pc, std::min(kcMax, k - pc), 0, cells,
                 shared + pc * tile);
    });
  }
  // A tile's output pixels (the grid columns below OW of its rows) are
  // consecutive in y when y's rows are: the epilogue finishes them as one
  // block (rows: channels) when the addends step through pixels by one
  // stride each, else output row by output row.
  std::optional<int64_t> biasStep, residualStep;
  if (epilogue) {
    biasStep = epilogue->bias.data ? pixelStride(epilogue->bias) : 0;
    residualStep =
        epilogue->residual.data ? pixelStride(epilogue->residual) : 0;
  }
  const bool flatEpilogue = epilogue && biasStep && residualStep &&
                            y.stride[3] == g.out[2];
  const gemm::ActivationFn activation =
      epilogue ? activationFunction() : nullptr;
  const bool avx512 = !std::strcmp(gemm::kernelName(), "avx512");
  // The run stores finish the tiles in registers when the epilogue is
  // relu or none with a bias per channel and a residual whose rows are
  // y's (a ResNet block's): no pass over y after the GEMM.
  const bool finishInTile =
      runStores && epilogue &&
      (epilogue->activation == EMBER_GEMM_ACT_NONE ||
       epilogue->activation == EMBER_GEMM_ACT_RELU) &&
      (!epilogue->bias.data || (biasStep && *biasStep == 0)) &&
      (!epilogue->residual.data || epilogue->residual.stride[4] == 1 ||
       g.out[2] == 1);
  // Output pixels [first, last) of grid pixels [j0, j0 + count).
  auto outputRange = [&](int64_t j0, int64_t count) {
    int64_t oh = j0 / s.wq, ow = j0 % s.wq;
    if (ow >= g.out[2]) {
      ++oh;
      ow = 0;
    }
    int64_t end = j0 + count - 1;
    int64_t lastOw = std::min(end % s.wq, g.out[2] - 1);
    return std::make_pair(oh * g.out[2] + ow,
                          end / s.wq * g.out[2] + lastOw + 1);
  };
  parallelFor(
      0, tasks * rowBlocks, contiguousShares ? tasks / threads : 1,
      [&](int64_t lo, int64_t hi) {
        float *bp = shared ? nullptr : packedB.get(kcMax * tile);
        float *scratch = direct || (runStores && k <= kcMax)
                             ? nullptr
                             : columns.get(rowBlock * tile);
        std::vector<gemm::TileRuns> runs(runStores ? tile / nr : 0);
        float *own = perThread ? shifted.get(imageFloats) : nullptr;
        int64_t built = -1;
        for (int64_t index = lo; index < hi; ++index) {
          int64_t task = order.empty() ? index : order[index];
          int64_t t = task / rowBlocks;
          auto [i0, rows] = blockRows(task % rowBlocks);
          if (rows <= 0)
            continue;
          int64_t n = t / (g.groups * tiles), gi = t / tiles % g.groups;
          auto [j0, nc] = tileRange(t % tiles);
          if (perThread && built != n) {
            for (int64_t ch = 0; ch < channels; ++ch)
              buildPhases(g, x, s, n, ch, own + ch * s.channelStride, 0, s.hq);
            built = n;
          }
          const float *base = (!copied     ? x.data + n * x.stride[0]
                               : perThread ? own
                                           : phased + n * imageFloats) +
                              gi * g.cg * s.channelStride;
          float *yBlock =
              y.data + n * y.stride[0] + (gi * m + i0) * y.stride[1];
          float *c = direct ? yBlock + j0 : scratch;
          int64_t cStride = direct ? y.stride[1] : tile;
          auto [first, last] = outputRange(j0, nc);
          if (flatEpilogue && epilogue->residual.data && *residualStep == 1)
            // The residual's block, while the GEMM runs: it comes from memory
            // (an earlier layer's output) in short pieces per channel, which
            // the hardware prefetcher barely follows.
            for (int64_t r = 0; r < rows; ++r) {
              const char *from = reinterpret_cast<const char *>(
                  epilogue->residual.data + n * epilogue->residual.stride[0] +
                  (gi * m + i0 + r) * epilogue->residual.stride[1] + first);
              for (int64_t b = 0; b < (last - first) * 4; b += 64)
                _mm_prefetch(from + b, _MM_HINT_T1);
            }
          gemm::TileFinish finish;
          if (runStores) {
            const View5 *residual = finishInTile && epilogue->residual.data
                                        ? &epilogue->residual
                                        : nullptr;
            for (int64_t q = 0; q * nr < nc; ++q)
              runs[q] = runsOf(g, s, y, residual, j0 + q * nr,
                               std::min<int64_t>(nr, nc - q * nr));
            if (finishInTile) {
              const View5 &bias = epilogue->bias;
              if (bias.data) {
                finish.bias = bias.data + n * bias.stride[0] +
                              (gi * m + i0) * bias.stride[1];
                finish.biasStride = bias.stride[1];
              }
              if (residual) {
                finish.residual = residual->data + n * residual->stride[0] +
                                  (gi * m + i0) * residual->stride[1];
                finish.residualStride = residual->stride[1];
              }
              finish.relu = epilogue->activation == EMBER_GEMM_ACT_RELU;
              finish.residualFirst = epilogue->residualFirst;
            }
          }
          for (int64_t pc = 0; pc < k; pc += kcMax) {
            int64_t kc = std::min(kcMax, k - pc);
            const float *b = shared ? shared + pc * tile : bp;
            if (!shared)
              packGrid(kernel, s, base, pc, kc, j0, nc, bp);
            const float *a =
                packedWeights.data() + gi * padded * k + pc * padded + i0 * kc;
            if (runStores && pc + kc >= k)
              multiplyRuns(rows, nc, kc, a, b, yBlock, y.stride[1], runs.data(),
                           pc > 0 ? c : nullptr, cStride,
                           finishInTile ? &finish : nullptr);
            else
              multiplyBlock(kernel, rows, nc, kc, a, b, c, cStride,
                            pc == 0 ? 0.0f : 1.0f, streamA);
          }
          if (!direct && !runStores)
            // The tile's output pixels: the grid columns below OW of each row.
            for (int64_t oh = j0 / s.wq; oh * s.wq < j0 + nc; ++oh) {
              int64_t from = std::max(j0, oh * s.wq);
              int64_t to = std::min(j0 + nc, oh * s.wq + g.out[2]);
              if (from >= to)
                continue;
              int64_t ow = from - oh * s.wq;
              copyBlock(avx512, scratch + from - j0, tile,
                        yBlock + oh * y.stride[3] + ow * y.stride[4],
                        y.stride[1], rows, to - from);
            }
          if (!epilogue || finishInTile || first >= last)
            continue;
          // The epilogue, while the tile's block of y is in cache.
          if (flatEpilogue) {
            gemm::applyEpilogueBlock(
                activation, rows, last - first, yBlock + first, y.stride[1], 1,
                pixelBlockEpilogue(*epilogue, n, gi * m + i0, first, *biasStep,
                                   *residualStep));
            continue;
          }
          for (int64_t p = first; p < last;) {
            int64_t oh = p / g.out[2], ow = p % g.out[2];
            int64_t width = std::min(last - p, g.out[2] - ow);
            gemm::applyEpilogueBlock(
                activation, rows, width,
                yBlock + oh * y.stride[3] + ow * y.stride[4], y.stride[1],
                y.stride[4],
                rowBlockEpilogue(*epilogue, n, gi * m + i0, 0, oh, ow));
            p += width;
          }
        }
      });
  return true;
}

/// Where 16 consecutive output pixels of a batch panel (forwardAcrossImages)
/// come from in one im2col row: lanes `lanes` read window[index[l]] of the
/// 32 floats at grid pixel `start` of image `image` (counted from the
/// tile's first), of which `low` / `high` mask the two halves that lie
/// within the pixels' span (nothing past it is read). Two windows when the
/// pixels span two images.
struct PixelGroup {
  int64_t image[2], start[2];
  alignas(64) int32_t index[2][16];
  __mmask16 lanes[2], low[2], high[2];
  int windows;
};

/// The pixel groups of batch pixels [d0, d0 + count), 16 a group (the
/// last one's lanes past `count` read nothing and come out zero); false
/// when a group's pixels of one image span more than 32 grid columns or
/// more than two images (tiny images, wide padding).
bool pixelGroups(const Geometry &g, const ShiftedInput &s, int64_t d0,
                 int64_t count, std::vector<PixelGroup> &groups) {
  groups.assign((count + 15) / 16, PixelGroup{});
  const int64_t firstImage = d0 / g.pixels;
  for (size_t q = 0; q < groups.size(); ++q) {
    PixelGroup &group = groups[q];
    int64_t image = -1;
    group.windows = 0;
    for (int l = 0; l < 16 && int64_t(q) * 16 + l < count; ++l) {
      int64_t d = d0 + int64_t(q) * 16 + l;
      int64_t n = d / g.pixels, p = d % g.pixels;
      int64_t at = p / g.out[2] * s.wq + p % g.out[2];
      if (n != image) {
        if (group.windows == 2)
          return false;
        image = n;
        group.image[group.windows] = n - firstImage;
        group.start[group.windows++] = at;
      }
      int w = group.windows - 1;
      int64_t offset = at - group.start[w];
      if (offset >= 32)
        return false;
      group.index[w][l] = static_cast<int32_t>(offset);
      group.lanes[w] |= static_cast<__mmask16>(1u << l);
      if (offset < 16)
        group.low[w] |= static_cast<__mmask16>((2u << offset) - 1);
      else {
        group.low[w] = 0xFFFF;
        group.high[w] |= static_cast<__mmask16>((2u << (offset - 16)) - 1);
      }
    }
  }
  return true;
}

/// B panels (32 pixels, forwardAcrossImages) of im2col rows [p0, p0 + kc)
/// for `groups` (two a panel) of the images whose planes start at
/// images[0], images[1], ... (the tile's first image first): row p of
/// panel q at out + (q * kc + p) * 32.
__attribute__((target("avx512f"))) void
packPixelGroups(const float *const *images, const int64_t *rowOffset,
                int64_t kc, const std::vector<PixelGroup> &groups, float *out) {
  for (size_t q = 0; q < groups.size(); ++q) {
    const PixelGroup &group = groups[q];
    float *dst = out + q / 2 * kc * 32 + q % 2 * 16;
    const __m512i first = _mm512_load_si512(group.index[0]);
    const float *src0 = images[group.image[0]] + group.start[0];
    if (group.windows == 1) {
      for (int64_t p = 0; p < kc; ++p) {
        const float *row = src0 + rowOffset[p];
        __m512 lo = _mm512_maskz_loadu_ps(group.low[0], row);
        __m512 hi = _mm512_maskz_loadu_ps(group.high[0], row + 16);
        _mm512_storeu_ps(dst + p * 32, _mm512_maskz_permutex2var_ps(
                                           group.lanes[0], lo, first, hi));
      }
      continue;
    }
    const __m512i second = _mm512_load_si512(group.index[1]);
    const float *src1 = images[group.image[1]] + group.start[1];
    for (int64_t p = 0; p < kc; ++p) {
      const float *row0 = src0 + rowOffset[p], *row1 = src1 + rowOffset[p];
      __m512 a = _mm512_maskz_permutex2var_ps(
          group.lanes[0], _mm512_maskz_loadu_ps(group.low[0], row0), first,
          _mm512_maskz_loadu_ps(group.high[0], row0 + 16));
      __m512 b = _mm512_permutex2var_ps(
          _mm512_maskz_loadu_ps(group.low[1], row1), second,
          _mm512_maskz_loadu_ps(group.high[1], row1 + 16));
      _mm512_storeu_ps(dst + p * 32, _mm512_mask_mov_ps(a, group.lanes[1], b));
    }
  }
}

/// Whether forwardAcrossImages should run `g`: the forward's AVX-512 tile,
/// one group, several images whose shifted grid wastes at least 2/25 of
/// its 32-pixel panels (the dropped columns Wq - OW and the last panel's
/// rounding: 64 columns for 7x7's 49 pixels, 224 for 14x14's 196, 864 for
/// 28x28's 784: 12-20% less time there at batch 32; at 56x56, 4%, it
/// gained nothing and resnet18's 7x7 stem, 2.8%, ran 9% slower). Since
/// forwardShifted stores its last k block through runs, the stride-2 3x3
/// from 56x56 to 28x28 (832 columns for 784, 6%) runs there 8-13% faster
/// on 2 threads (batch 32, 4 alternated runs: 14.7-15.1 -> 12.9-13.8 ms;
/// the across-images split ran 1.84-1.87x on 2 threads, forwardShifted's
/// 1.98-2.08x), y's pixels contiguous per channel. Not 1x1 kernels: their
/// grid drops no columns, and with so few im2col rows building every
/// image's planes up front cost more than the panels saved (resnet18's
/// 1x1 stride-2 128 -> 256 @28 at batch 32: 26% slower).
bool acrossImagesFits(const Geometry &g, const View5 &y,
                      const MicroKernelInfo &kernel) {
  if (&kernel != &gemm::avx512ConvKernel() || g.groups != 1 || g.batch < 2 ||
      g.pixels < 16 || !ShiftedInput::applies(g) ||
      g.kernel[1] * g.kernel[2] == 1 || y.stride[4] != 1 ||
      y.stride[3] != g.out[2] || y.stride[2] != g.pixels)
    return false;
  const int64_t wq = g.out[2] + (g.kernel[2] - 1) * g.dilation[2] / g.stride[2];
  const int64_t grid = roundUp((g.out[1] - 1) * wq + g.out[2], kernel.nr);
  return grid * 25 >= g.pixels * 27;
}

/// y = conv(x, w) like forwardShifted, but its B panels are output pixels
/// counted across the batch (image n's pixel p is batch pixel n * OH * OW +
/// p), packed from the shifted planes with one permute per 16 pixels: no
/// grid columns are computed and dropped, a panel may hold the end of one
/// image and the start of the next, and a tile of about kPixelTile pixels
/// holds several small images, so each weight panel loaded is used for all
/// of them (forwardShifted streams every weight once per image: 9 MiB at
/// 512 -> 512 channels 3x3). The tile's block of C is written to a scratch
/// buffer, then copied into y image by image and finished there. False
/// (nothing done) when the planes do not fit in memory or a pixel group
/// spans too much (pixelGroups).
bool forwardAcrossImages(const View5 &x, const View5 &y, const Geometry &g,
                         const MicroKernelInfo &kernel,
                         const std::vector<float> &packedWeights,
                         const ConvEpilogue *epilogue) {
  const ShiftedInput s(g, x, /*maskedEdges=*/false); // reads the phase planes
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t k = g.depth, m = g.og, channels = x.size[1];
  const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
  const int64_t padded = roundUp(m, mr);
  const bool streamA = weightsStream(packedWeights.size());
  const int64_t imageFloats =
      s.inPlace ? x.stride[0] : channels * s.phases * s.plane;
  const int64_t total = g.batch * g.pixels;
  // The planes: with many images (two tiles a thread or more), each thread
  // builds those of its tiles' images into its own slots (its tiles are
  // consecutive, so each image about once, and its planes stay in cache);
  // else every image's up front, channels in parallel.
  const int64_t threads = numThreads();
  const bool perThread = !s.inPlace && g.batch >= 2 * threads;
  float *phased = nullptr;
  if (!s.inPlace && !perThread) {
    phased = shifted.get(g.batch * imageFloats);
    if (!phased)
      return false;
    buildAllPhases(g, x, s, channels, phased);
  }
  // Tiles: whole panels, about kPixelTile pixels, as even as the panels
  // allow and (with several threads) a multiple of the threads; with
  // fewer than two tiles a thread the rows split too (at least 4 panels).
  const int64_t panels = (total + nr - 1) / nr;
  const int64_t panelsPerTile = std::max<int64_t>(1, kPixelTile / nr);
  int64_t tiles = (panels + panelsPerTile - 1) / panelsPerTile;
  if (threads > 1)
    tiles = std::min(panels, roundUp(tiles, threads));
  const int64_t tile = (panels + tiles - 1) / tiles * nr;
  auto tileRange = [&](int64_t ti) {
    int64_t lo = ti * panels / tiles * nr;
    int64_t hi = std::min((ti + 1) * panels / tiles * nr, total);
    return std::make_pair(lo, hi - lo);
  };
  int64_t rowBlock = padded;
  if (tiles < 2 * threads && padded > mr)
    rowBlock = std::max<int64_t>(
        roundUp((padded * tiles + 2 * threads - 1) / (2 * threads), mr),
        4 * mr);
  const int64_t rowBlocks = (m + rowBlock - 1) / rowBlock;
  // The pixel groups of every tile, checked before any work is done.
  std::vector<std::vector<PixelGroup>> groups(tiles);
  int64_t tileImages = 0; // the most images one tile reads
  for (int64_t ti = 0; ti < tiles; ++ti) {
    auto [d0, count] = tileRange(ti);
    if (!pixelGroups(g, s, d0, count, groups[ti]))
      return false;
    tileImages =
        std::max(tileImages, (d0 + count - 1) / g.pixels - d0 / g.pixels + 1);
  }
  // Per thread: a slot per image of a tile and one more (a tile's last
  // image is often the next one's first).
  const int64_t slots = tileImages + 1;
  std::optional<int64_t> biasStep, residualStep;
  if (epilogue) {
    biasStep = epilogue->bias.data ? pixelStride(epilogue->bias) : 0;
    residualStep =
        epilogue->residual.data ? pixelStride(epilogue->residual) : 0;
  }
  const bool flatEpilogue = epilogue && biasStep && residualStep;
  const gemm::ActivationFn activation =
      epilogue ? activationFunction() : nullptr;
  std::atomic<bool> failed{false};
  parallelFor(0, tiles * rowBlocks, 1, [&](int64_t lo, int64_t hi) {
    float *bp = packedB.get(kcMax * tile);
    float *scratch = columns.get(rowBlock * tile);
    float *own = perThread ? shifted.get(slots * imageFloats) : nullptr;
    if (!bp || !scratch || (perThread && !own)) {
      failed = true;
      return;
    }
    std::vector<int64_t> slotImage(perThread ? slots : 0, -1);
    std::vector<const float *> images(tileImages);
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t ti = task / rowBlocks;
      const int64_t i0 = task % rowBlocks * rowBlock;
      const int64_t rows = std::min(rowBlock, m - i0);
      auto [d0, count] = tileRange(ti);
      const int64_t n0 = d0 / g.pixels, n1 = (d0 + count - 1) / g.pixels;
      for (int64_t n = n0; n <= n1; ++n) {
        if (s.inPlace) {
          images[n - n0] = x.data + n * x.stride[0];
          continue;
        }
        if (!perThread) {
          images[n - n0] = phased + n * imageFloats;
          continue;
        }
        float *slot = own + n % slots * imageFloats;
        if (slotImage[n % slots] != n) {
          for (int64_t ch = 0; ch < channels; ++ch)
            buildPhases(g, x, s, n, ch, slot + ch * s.channelStride, 0, s.hq);
          slotImage[n % slots] = n;
        }
        images[n - n0] = slot;
      }
      for (int64_t pc = 0; pc < k; pc += kcMax) {
        int64_t kc = std::min(kcMax, k - pc);
        packPixelGroups(images.data(), s.rowOffset + pc, kc, groups[ti], bp);
        multiplyBlock(kernel, rows, count, kc,
                      packedWeights.data() + pc * padded + i0 * kc, bp, scratch,
                      tile, pc == 0 ? 0.0f : 1.0f, streamA);
      }
      // Image by image: the tile's pixels into y, then the epilogue.
      for (int64_t d = d0; d < d0 + count;) {
        int64_t n = d / g.pixels, first = d % g.pixels;
        int64_t last = std::min(g.pixels, first + d0 + count - d);
        float *yBlock = y.data + n * y.stride[0] + i0 * y.stride[1];
        copyBlock(true, scratch + (d - d0), tile, yBlock + first, y.stride[1],
                  rows, last - first);
        if (flatEpilogue)
          gemm::applyEpilogueBlock(
              activation, rows, last - first, yBlock + first, y.stride[1], 1,
              pixelBlockEpilogue(*epilogue, n, i0, first, *biasStep,
                                 *residualStep));
        else if (epilogue)
          for (int64_t p = first; p < last;) {
            int64_t oh = p / g.out[2], ow = p % g.out[2];
            int64_t width = std::min(last - p, g.out[2] - ow);
            gemm::applyEpilogueBlock(
                activation, rows, width, yBlock + oh * y.stride[3] + ow,
                y.stride[1], 1, rowBlockEpilogue(*epilogue, n, i0, 0, oh, ow));
            p += width;
          }
        d += last - first;
      }
    }
  });
  return !failed;
}

/// Whether forward runs `g` as one GEMM over the batch: an ungrouped 1x1
/// convolution with one output pixel (a squeeze-excitation block's FCs
/// after its global pooling), which reads input pixel 0 of each image.
/// Per image, its B panel would be one pixel wide (1/16 of a vector per
/// FMA) and each image would re-read all the weights.
bool isPointwiseOnePixel(const Geometry &g) {
  for (int d = 0; d < 3; ++d)
    if (g.kernel[d] != 1 || g.pad[d] != 0)
      return false;
  return g.groups == 1 && g.pixels == 1 && g.depth > 0;
}

/// w as the B operand (C x O) of pointwiseOnePixelForward's product,
/// packed once when w lies in constant memory (packing it transposes every
/// weight, which at batch 1 costs as much as the product); else null.
std::shared_ptr<const gemm::PackedB> packedPointwiseWeights(const View5 &w,
                                                            const Geometry &g) {
  const float *end = endOf(w);
  if (!end)
    return nullptr;
  constant::Key key{w.data,
                    layoutOf(constant::Packing::ConvPointwiseB, w, {})};
  return constant::packOnce<gemm::PackedB>(w.data, end, key, [&] {
    return std::shared_ptr<const gemm::PackedB>(
        gemm::packBOnce(g.cg, g.outChannels,
                        {w.data, w.stride[1], w.stride[0]}),
        [](const gemm::PackedB *p) {
          gemm::releasePackedB(const_cast<gemm::PackedB *>(p));
        });
  });
}

/// y[n, o] = sum_c w[o, c] x[n, c] as one (N x C) x (C x O) product, with
/// `epilogue` (optional) fused into the GEMM's tiles (rows: images,
/// columns: channels).
void pointwiseOnePixelForward(const View5 &x, const View5 &w, const View5 &y,
                              const Geometry &g, const ConvEpilogue *epilogue) {
  ember_gemm_epilogue fused{};
  if (epilogue) {
    fused = planeEpilogue(*epilogue, 0, 0, 0);
    fused.biasRowStride = epilogue->bias.stride[0];
    fused.biasColStride = epilogue->bias.stride[1];
    fused.residualRowStride = epilogue->residual.stride[0];
    fused.residualColStride = epilogue->residual.stride[1];
  }
  // One image: each weight is used once, so the product streams w at
  // memory speed, unpacked (packing would only copy it once more), split
  // over the threads by output channel. The GEMM ran it on one thread (too
  // few multiply-adds to split a compute-bound product), which at batch 1
  // made mobilenet_v3_small's squeeze-excitation FCs ~7% of its forward.
  if (g.batch == 1) {
    gemm::rowTimesMatrix(g.cg, g.outChannels, x.data, x.stride[1], w.data,
                         w.stride[1], w.stride[0], 0.0f, y.data, y.stride[1],
                         epilogue ? &fused : nullptr);
    return;
  }
  std::shared_ptr<const gemm::PackedB> packed = packedPointwiseWeights(w, g);
  gemm::sgemmPackedB(g.batch, g.outChannels, g.cg, 1.0f,
                     {x.data, x.stride[0], x.stride[1]},
                     {w.data, w.stride[1], w.stride[0]}, packed.get(), 0.0f,
                     {y.data, y.stride[0], y.stride[1]}, numThreads(),
                     epilogue ? &fused : nullptr);
}

/// Whether forward runs `g` through pointwiseForward: an ungrouped 2-D 1x1
/// convolution without padding or dilation, unit or stride-2 steps, on the
/// AVX-512 forward tile, x's and y's pixels unit-stride along rows.
bool isPointwise(const Geometry &g, const View5 &x, const View5 &y,
                 const MicroKernelInfo &kernel) {
  for (int d = 0; d < 3; ++d)
    if (g.kernel[d] != 1 || g.pad[d] != 0)
      return false;
  return g.groups == 1 && g.depth > 0 && g.in[0] == 1 && g.out[0] == 1 &&
         g.stride[1] <= 2 && g.stride[2] <= 2 &&
         &kernel == &gemm::avx512ConvKernel() && x.stride[4] == 1 &&
         y.stride[4] == 1;
}

/// A run of consecutive columns of a pointwise tile, within one 32-column
/// panel, that read consecutive (step 1) or every other (step 2) input
/// pixel of one channel row and write consecutive output pixels: column t0
/// of the tile, the first input pixel's and the first output pixel's
/// offsets from channel 0 of their images.
struct PointwisePiece {
  int64_t t0, length, in, out, image;
  bool direct; // its panel is written straight into y
};

/// The factor per (image, input channel) that packPointwise multiplies x
/// by (ConvEpilogue::scale): none when data is null.
struct InputScale {
  const float *data = nullptr;
  int64_t imageStride = 0, channelStride = 0;
};

/// dst[0:length] = src[0:length] (times `factor` when Scaled), length <=
/// 32, in masked AVX-512 moves (nothing read past the last pixel).
template <bool Scaled>
__attribute__((target("avx512f"))) inline void
copyPiece(const float *src, int64_t length, float *dst, __m512 factor) {
  __mmask16 low =
      static_cast<__mmask16>(length >= 16 ? 0xFFFF : (1u << length) - 1);
  __m512 v = _mm512_maskz_loadu_ps(low, src);
  if constexpr (Scaled)
    v = _mm512_mul_ps(v, factor);
  _mm512_mask_storeu_ps(dst, low, v);
  if (length > 16) {
    __mmask16 high = static_cast<__mmask16>((1u << (length - 16)) - 1);
    v = _mm512_maskz_loadu_ps(high, src + 16);
    if constexpr (Scaled)
      v = _mm512_mul_ps(v, factor);
    _mm512_mask_storeu_ps(dst + 16, high, v);
  }
}

/// factors[at] in every lane (a zero vector, not read, when not Scaled).
template <bool Scaled>
__attribute__((target("avx512f"), always_inline)) inline __m512
scaleFactor(const float *factors, int64_t at) {
  if constexpr (Scaled)
    return _mm512_set1_ps(factors[at]);
  else
    return _mm512_setzero_ps();
}

/// Packs the B panels (32 columns, kc rows) of a pointwise tile of `width`
/// columns: row p of a panel is channel c0 + p of every piece's pixels,
/// zeros past `width`; with Scaled, each piece's row times scale[n, c0 +
/// p] (one broadcast per row of a piece, applied in registers, so that a
/// squeeze-and-excitation block's x * s never goes through memory). Unit
/// steps go piece by piece (each panel written in order); stride 2
/// channel by channel, so that each channel's rows are read in order
/// (piece by piece, the reads hopped a whole plane from channel to
/// channel, 12 KiB at 56x56, for a piece of half a row).
template <bool Scaled>
__attribute__((target("avx512f"))) void
packPointwiseWith(const float *x, int64_t imageStride, int64_t channelStride,
                  int64_t step, const std::vector<PointwisePiece> &pieces,
                  int64_t c0, int64_t kc, int64_t width,
                  const InputScale &scale, float *out) {
  const int64_t scaleStep = scale.channelStride;
  auto factorsOf = [&](const PointwisePiece &piece) {
    return Scaled ? scale.data + piece.image * scale.imageStride +
                        c0 * scale.channelStride
                  : nullptr;
  };
  if (step == 1) {
    for (const PointwisePiece &piece : pieces) {
      const float *src =
          x + piece.image * imageStride + c0 * channelStride + piece.in;
      const float *factors = factorsOf(piece);
      float *dst = out + piece.t0 / 32 * kc * 32 + piece.t0 % 32;
      if (piece.length == 32)
        for (int64_t p = 0; p < kc; ++p) {
          const float *row = src + p * channelStride;
          __m512 lo = _mm512_loadu_ps(row), hi = _mm512_loadu_ps(row + 16);
          if constexpr (Scaled) {
            const __m512 factor = scaleFactor<Scaled>(factors, p * scaleStep);
            lo = _mm512_mul_ps(lo, factor);
            hi = _mm512_mul_ps(hi, factor);
          }
          _mm512_storeu_ps(dst + p * 32, lo);
          _mm512_storeu_ps(dst + p * 32 + 16, hi);
        }
      else
        for (int64_t p = 0; p < kc; ++p)
          copyPiece<Scaled>(src + p * channelStride, piece.length, dst + p * 32,
                            scaleFactor<Scaled>(factors, p * scaleStep));
    }
  } else {
    // Each piece's masks once: inputs [0, 2 length - 1) in four masked
    // loads (16 each), outputs in two masked stores; the even lanes picked
    // by permutes.
    struct Gather {
      const float *src;
      float *dst;
      const float *factors;
      __mmask16 load[4], store[2];
    };
    alignas(64) Gather gathers[64];
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                           20, 22, 24, 26, 28, 30);
    auto maskOf = [](int64_t count) {
      count = std::clamp<int64_t>(count, 0, 16);
      return static_cast<__mmask16>(count >= 16 ? 0xFFFF : (1u << count) - 1);
    };
    for (size_t first = 0; first < pieces.size(); first += 64) {
      const size_t count = std::min<size_t>(64, pieces.size() - first);
      for (size_t i = 0; i < count; ++i) {
        const PointwisePiece &piece = pieces[first + i];
        const int64_t span = 2 * piece.length - 1;
        Gather &gather = gathers[i];
        gather.src =
            x + piece.image * imageStride + c0 * channelStride + piece.in;
        gather.dst = out + piece.t0 / 32 * kc * 32 + piece.t0 % 32;
        gather.factors = factorsOf(piece);
        for (int l = 0; l < 4; ++l)
          gather.load[l] = maskOf(span - 16 * l);
        gather.store[0] = maskOf(piece.length);
        gather.store[1] = maskOf(piece.length - 16);
      }
      for (int64_t p = 0; p < kc; ++p)
        for (size_t i = 0; i < count; ++i) {
          const Gather &gather = gathers[i];
          const float *src = gather.src + p * channelStride;
          float *dst = gather.dst + p * 32;
          const __m512 factor =
              scaleFactor<Scaled>(gather.factors, p * scaleStep);
          __m512 lo = _mm512_permutex2var_ps(
              _mm512_maskz_loadu_ps(gather.load[0], src), even,
              _mm512_maskz_loadu_ps(gather.load[1], src + 16));
          if constexpr (Scaled)
            lo = _mm512_mul_ps(lo, factor);
          _mm512_mask_storeu_ps(dst, gather.store[0], lo);
          if (gather.store[1]) {
            __m512 hi = _mm512_permutex2var_ps(
                _mm512_maskz_loadu_ps(gather.load[2], src + 32), even,
                _mm512_maskz_loadu_ps(gather.load[3], src + 48));
            if constexpr (Scaled)
              hi = _mm512_mul_ps(hi, factor);
            _mm512_mask_storeu_ps(dst + 16, gather.store[1], hi);
          }
        }
    }
  }
  if (int64_t used = width % 32) {
    float *last = out + width / 32 * kc * 32;
    for (int64_t p = 0; p < kc; ++p)
      std::fill(last + p * 32 + used, last + (p + 1) * 32, 0.0f);
  }
}

void packPointwise(const float *x, int64_t imageStride, int64_t channelStride,
                   int64_t step, const std::vector<PointwisePiece> &pieces,
                   int64_t c0, int64_t kc, int64_t width,
                   const InputScale &scale, float *out) {
  if (scale.data)
    packPointwiseWith<true>(x, imageStride, channelStride, step, pieces, c0, kc,
                            width, scale, out);
  else
    packPointwiseWith<false>(x, imageStride, channelStride, step, pieces, c0,
                             kc, width, scale, out);
}

/// The activations pointwiseForward applies in registers (pointwiseTile,
/// finishRows), as the GEMM epilogue's activate() computes them.
template <int Act>
__attribute__((target("avx512f"), always_inline)) inline __m512
activatePointwise(__m512 v) {
  if constexpr (Act == EMBER_GEMM_ACT_RELU)
    return _mm512_max_ps(_mm512_setzero_ps(), v); // keeps NaN
  if constexpr (Act == EMBER_GEMM_ACT_HARDSWISH ||
                Act == EMBER_GEMM_ACT_HARDSIGMOID) {
    // clamp(v + 3, 0, 6) / 6; max and min return their second operand
    // for NaN, so a NaN v stays NaN, as the GEMM epilogue's does.
    __m512 t = _mm512_add_ps(v, _mm512_set1_ps(3.0f));
    t = _mm512_max_ps(_mm512_setzero_ps(), t);
    t = _mm512_min_ps(_mm512_set1_ps(6.0f), t);
    t = _mm512_mul_ps(t, _mm512_set1_ps(1.0f / 6.0f));
    return Act == EMBER_GEMM_ACT_HARDSWISH ? _mm512_mul_ps(v, t) : t;
  }
  return v;
}

/// Whether activatePointwise has `activation`.
bool pointwiseActivation(int activation) {
  return activation == EMBER_GEMM_ACT_NONE ||
         activation == EMBER_GEMM_ACT_RELU ||
         activation == EMBER_GEMM_ACT_HARDSWISH ||
         activation == EMBER_GEMM_ACT_HARDSIGMOID;
}

/// dst[i, 0:length] = act(src[i, :] + bias[i] [+ residual[i, :]])
/// [+ residual[i, :]] for `rows` rows (bias or residual null when absent;
/// src may be dst).
template <int Act>
__attribute__((target("avx512f"))) void
finishRows(const float *src, int64_t srcStride, float *dst, int64_t dstStride,
           int64_t rows, int64_t length, const float *bias, int64_t biasStride,
           const float *residual, int64_t residualStride, bool residualFirst) {
  for (int64_t i = 0; i < rows; ++i) {
    const float *from = src + i * srcStride;
    float *to = dst + i * dstStride;
    const float *add = residual ? residual + i * residualStride : nullptr;
    const __m512 b = _mm512_set1_ps(bias ? bias[i * biasStride] : 0.0f);
    for (int64_t j = 0; j < length; j += 16) {
      int64_t left = length - j;
      __mmask16 mask =
          static_cast<__mmask16>(left >= 16 ? 0xFFFF : (1u << left) - 1);
      __m512 v = _mm512_maskz_loadu_ps(mask, from + j);
      if (bias)
        v = _mm512_add_ps(v, b);
      if (add && residualFirst)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, add + j));
      v = activatePointwise<Act>(v);
      if (add && !residualFirst)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, add + j));
      _mm512_mask_storeu_ps(to + j, mask, v);
    }
  }
}

using FinishRowsFn = void (*)(const float *, int64_t, float *, int64_t, int64_t,
                              int64_t, const float *, int64_t, const float *,
                              int64_t, bool);

FinishRowsFn finishRowsFor(int activation) {
  switch (activation) {
  case EMBER_GEMM_ACT_RELU:
    return finishRows<EMBER_GEMM_ACT_RELU>;
  case EMBER_GEMM_ACT_HARDSWISH:
    return finishRows<EMBER_GEMM_ACT_HARDSWISH>;
  case EMBER_GEMM_ACT_HARDSIGMOID:
    return finishRows<EMBER_GEMM_ACT_HARDSIGMOID>;
  default:
    return finishRows<EMBER_GEMM_ACT_NONE>;
  }
}

/// Where pointwiseTile writes an MR x 32 tile and what it adds: the
/// panel's first `split` columns are pixels of one image (row i of the
/// tile at c0 + i * rsc), the rest the first pixels of the next (at c1 +
/// i * rsc), so that a panel across two images goes straight into y too;
/// the bias (one value per row) of either image.
struct PointwiseStore {
  float *c0, *c1;
  int64_t rsc;
  int split;
  const float *bias0, *bias1;
  int64_t biasStride;
};

/// Vector v (columns 16 v on) of a tile row stored as pointwiseTile
/// stores it: column j >= split at the second image's pixel j - split.
__attribute__((target("avx512f"), always_inline)) inline __m512
loadSplit(const float *row0, const float *row1, int v, __mmask16 first,
          __mmask16 second, int split) {
  __m512 r = _mm512_maskz_loadu_ps(first, row0 + 16 * v);
  if (second)
    r = _mm512_mask_expandloadu_ps(r, second,
                                   row1 + std::max(16 * v - split, 0));
  return r;
}

/// The pointwise forward's tile: avx512Tile<MR, 2, 14>'s product (the
/// first MR rows of a 14-row panel of packed weights times a packed
/// 32-column B panel), then, in registers, the sum with what C holds
/// (accumulate: a later k block) and the epilogue (Act, Bias: at the last
/// k block, else none), stored through `out` (a second image's columns
/// compressed into place). The GEMM's tile and a pass over y for the
/// epilogue wrote and read every output twice. The epilogue's choices are
/// template arguments: tested per vector, they cost a 24-channel layer's
/// tile as much as its product.
template <int MR, int Act, bool Bias>
__attribute__((target("avx512f,avx2,fma"))) void
pointwiseTile(int64_t k, const float *ap, const float *bp,
              const PointwiseStore &out, int mr, int nr, bool accumulate) {
  auto maskOf = [](int count) {
    return static_cast<__mmask16>(count <= 0    ? 0
                                  : count >= 16 ? 0xFFFF
                                                : (1u << count) - 1);
  };
  __mmask16 first[2], second[2];
  for (int v = 0; v < 2; ++v) {
    __mmask16 valid = maskOf(nr - 16 * v);
    __mmask16 before = maskOf(out.split - 16 * v);
    first[v] = valid & before;
    second[v] = valid & static_cast<__mmask16>(~before);
  }
  // C's tile is read or written only after the k loop: fetching its lines
  // now hides the misses (rows a plane apart, often in memory; with a
  // short k, as a mobilenet's 16 or 24 channels, they are much of the
  // tile's time).
  const int firstEnd = std::min(out.split, nr);
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    if (i >= mr)
      break;
    const float *row0 = out.c0 + i * out.rsc, *row1 = out.c1 + i * out.rsc;
    _mm_prefetch(reinterpret_cast<const char *>(row0), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char *>(row0 + firstEnd - 1),
                 _MM_HINT_T0);
    if (firstEnd < nr) {
      _mm_prefetch(reinterpret_cast<const char *>(row1), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char *>(row1 + nr - firstEnd - 1),
                   _MM_HINT_T0);
    }
  }
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i)
    acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  constexpr int64_t kAhead = 16; // B rows prefetched ahead (2 KiB)
  // A's weights 4 KiB ahead (its 14 floats a step, a line per step): in a
  // model they come from memory, evicted since the last call, and the
  // hardware prefetchers stop at each page (resnet18's 1x1 stride-2
  // downsample convs at batch 1: 512 KiB of weights for 49 pixels at l4,
  // 20% faster; l3's 6%).
  constexpr int64_t kWeightsAhead = 1024;
  for (int64_t p = 0; p < k; ++p) {
    if (p + kAhead < k) {
      _mm_prefetch(reinterpret_cast<const char *>(bp + kAhead * 32),
                   _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char *>(bp + kAhead * 32 + 16),
                   _MM_HINT_T0);
    }
    _mm_prefetch(reinterpret_cast<const char *>(ap + kWeightsAhead),
                 _MM_HINT_T0);
    const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(ap[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += 14;
    bp += 32;
  }
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    if (i >= mr)
      break;
    float *row0 = out.c0 + i * out.rsc, *row1 = out.c1 + i * out.rsc;
#pragma GCC unroll 2
    for (int v = 0; v < 2; ++v) { // unrolled: acc stays in registers
      if (!(first[v] | second[v]))
        break;
      __m512 r = acc[i][v];
      if (accumulate)
        r = _mm512_add_ps(
            r, loadSplit(row0, row1, v, first[v], second[v], out.split));
      if constexpr (Bias) {
        __m512 b = _mm512_set1_ps(out.bias0[i * out.biasStride]);
        if (second[v])
          b = _mm512_mask_blend_ps(
              second[v], b, _mm512_set1_ps(out.bias1[i * out.biasStride]));
        r = _mm512_add_ps(r, b);
      }
      r = activatePointwise<Act>(r);
      if (first[v])
        _mm512_mask_storeu_ps(row0 + 16 * v, first[v], r);
      if (second[v])
        _mm512_mask_compressstoreu_ps(row1 + std::max(16 * v - out.split, 0),
                                      second[v], r);
    }
  }
}

using PointwiseTileFn = void (*)(int64_t, const float *, const float *,
                                 const PointwiseStore &, int, int, bool);

template <int MR> PointwiseTileFn pointwiseTileWith(int activation, bool bias) {
  switch (activation) {
  case EMBER_GEMM_ACT_RELU:
    return bias ? pointwiseTile<MR, EMBER_GEMM_ACT_RELU, true>
                : pointwiseTile<MR, EMBER_GEMM_ACT_RELU, false>;
  case EMBER_GEMM_ACT_HARDSWISH:
    return bias ? pointwiseTile<MR, EMBER_GEMM_ACT_HARDSWISH, true>
                : pointwiseTile<MR, EMBER_GEMM_ACT_HARDSWISH, false>;
  case EMBER_GEMM_ACT_HARDSIGMOID:
    return bias ? pointwiseTile<MR, EMBER_GEMM_ACT_HARDSIGMOID, true>
                : pointwiseTile<MR, EMBER_GEMM_ACT_HARDSIGMOID, false>;
  default:
    return bias ? pointwiseTile<MR, EMBER_GEMM_ACT_NONE, true>
                : pointwiseTile<MR, EMBER_GEMM_ACT_NONE, false>;
  }
}

/// pointwiseTile for a panel of `rows` (1 to 14) rows: 14, 7, 4 or 2
/// computed (a 72-channel layer's last panel has 2).
PointwiseTileFn pointwiseTileFor(int rows, int activation, bool bias) {
  if (rows > 7)
    return pointwiseTileWith<14>(activation, bias);
  if (rows > 4)
    return pointwiseTileWith<7>(activation, bias);
  if (rows > 2)
    return pointwiseTileWith<4>(activation, bias);
  return pointwiseTileWith<2>(activation, bias);
}

/// y = conv(x, w) for a 1x1 convolution (isPointwise) as one GEMM W (O x C)
/// times X (C x N * OH * OW): the columns run over every image's output
/// pixels, so that tiles of 32-column panels are full across images (7x7
/// planes waste 15 of 64 columns per image when each image is tiled on its
/// own, 14x14 28 of 224), and a stride-2 convolution gathers its pixels
/// straight into the panels (no phase planes). Where y's pixels are
/// consecutive per channel and the epilogue is a bias and one of
/// pointwiseActivation's, each tile goes straight into y, finished in
/// registers (pointwiseTile); otherwise (a residual, other epilogues, other
/// layouts) the product is stored first (into y, or a buffer for panels
/// across images) and finished by runs of output pixels. x is read times
/// `inputScale` (optional) as it is packed.
void pointwiseForward(const View5 &x, const View5 &y, const Geometry &g,
                      const MicroKernelInfo &kernel,
                      const std::vector<float> &packedWeights,
                      const ConvEpilogue *epilogue,
                      const InputScale &inputScale) {
  const int mr = kernel.mr;
  constexpr int nr = 32;
  const int64_t k = g.depth, m = g.og, pixels = g.pixels;
  const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
  const int64_t padded = roundUp(m, mr);
  const int64_t ow = g.out[2], sh = g.stride[1], sw = g.stride[2];
  // Runs: a whole plane when input and output pixels are both consecutive
  // per channel (unit strides, dense rows), else one output row.
  const bool planeRuns =
      sh == 1 && sw == 1 &&
      (g.out[1] == 1 ||
       (x.stride[3] == g.in[2] && g.in[2] == ow && y.stride[3] == ow));
  const bool denseY = g.out[1] == 1 || y.stride[3] == ow;
  std::optional<int64_t> biasStep, residualStep;
  if (epilogue) {
    biasStep = epilogue->bias.data ? pixelStride(epilogue->bias) : 0;
    residualStep =
        epilogue->residual.data ? pixelStride(epilogue->residual) : 0;
  }
  const bool flatEpilogue = epilogue && biasStep && residualStep && denseY;
  const gemm::ActivationFn activation =
      epilogue ? activationFunction() : nullptr;
  // inRegisters: an epilogue pointwiseTile or finishRows applies (a bias
  // of one value per image and channel, activatePointwise's activations, a
  // residual read with unit steps); else the GEMM's, after the product.
  auto constantOver = [](const View5 &v, int from) {
    for (int d = from; d < 5; ++d)
      if (v.size[d] != 1 && v.stride[d] != 0)
        return false;
    return true;
  };
  const View5 *bias =
      epilogue && epilogue->bias.data ? &epilogue->bias : nullptr;
  const View5 *residual =
      epilogue && epilogue->residual.data ? &epilogue->residual : nullptr;
  const bool inRegisters =
      !epilogue || (pointwiseActivation(epilogue->activation) &&
                    (!bias || constantOver(*bias, 2)) &&
                    (!residual || (planeRuns ? residualStep == 1
                                             : residual->size[4] == 1 ||
                                                   residual->stride[4] == 1)));
  const FinishRowsFn finish =
      finishRowsFor(epilogue ? epilogue->activation : EMBER_GEMM_ACT_NONE);
  // Tiles written straight into y, epilogue included (pointwiseTile): y's
  // pixels consecutive per channel, and no panel across more than two
  // images. With a residual the tiles' scattered reads of it (a plane
  // apart per channel, from memory) came out slower than finishRows'
  // long runs (mobilenet's projections 576->96 @7, 144->48 @14, 88->24
  // @28 at batch 32: 5-13%), so those finish after the product.
  const bool fused = inRegisters && denseY && pixels >= nr && !residual;
  auto rawTile = [](int rows) {
    return pointwiseTileFor(rows, EMBER_GEMM_ACT_NONE, false);
  };
  auto lastTile = [&](int rows) {
    return pointwiseTileFor(
        rows, epilogue ? epilogue->activation : EMBER_GEMM_ACT_NONE,
        bias != nullptr);
  };
  // Tiles span images, so that no panel is mostly empty (49 pixels: 64
  // computed per image when tiled image by image, 196: 224), except for
  // planes of at least four panels whose tiles are not stored straight
  // into y: those go image by image, every panel then in one image and
  // written into y directly rather than through the buffer.
  const bool byImage = pixels >= 4 * nr && !fused;
  const int64_t span = byImage ? pixels : g.batch * pixels;
  const int64_t spans = byImage ? g.batch : 1;
  const int64_t spanPanels = (span + nr - 1) / nr;
  const int64_t threads = numThreads();
  // Short k: wider tiles (their packed panels still kRowsFirstPanel), so
  // that each row block streams longer runs into its channels.
  const int64_t pixelTile = std::max<int64_t>(
      kPixelTile, kRowsFirstPanel / std::max<int64_t>(k, 1) / nr * nr);
  int64_t perSpan = (spanPanels + pixelTile / nr - 1) / (pixelTile / nr);
  // Few tiles: as many as the panels allow, a multiple of the threads.
  if (threads > 1 && spans * perSpan < 8 * threads)
    perSpan = std::min(spanPanels,
                       (roundUp(spans * perSpan, threads) + spans - 1) / spans);
  const int64_t tiles = spans * perSpan;
  auto tileRange = [&](int64_t ti) {
    int64_t t = ti % perSpan;
    int64_t lo = t * spanPanels / perSpan * nr;
    int64_t hi = std::min(span, (t + 1) * spanPanels / perSpan * nr);
    return std::make_pair(ti / perSpan * span + lo, hi - lo);
  };
  const int64_t maxTile = (spanPanels + perSpan - 1) / perSpan * nr;
  const int64_t wanted = 2 * threads;
  int64_t rowBlock = padded;
  if (tiles < wanted && padded > mr)
    rowBlock = std::max<int64_t>(
        roundUp((padded * tiles + wanted - 1) / wanted, mr), 4 * mr);
  const int64_t rowBlocks = (m + rowBlock - 1) / rowBlock;
  parallelFor(0, tiles * rowBlocks, 1, [&](int64_t lo, int64_t hi) {
    float *bp = packedB.get(kcMax * maxTile);
    float *scratch = nullptr;
    std::vector<PointwisePiece> pieces;
    int64_t packedTile = -1;
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t ti = task / rowBlocks, i0 = task % rowBlocks * rowBlock;
      const int64_t rows = std::min(rowBlock, m - i0);
      auto [j0, width] = tileRange(ti);
      if (rows <= 0 || width <= 0)
        continue;
      // The tile's pieces: runs split at images, output rows (unless
      // planeRuns) and panels. A panel within one image of a dense y is
      // written straight into y, one across images into the buffer.
      pieces.clear();
      for (int64_t j = j0; j < j0 + width;) {
        int64_t n = j / pixels, p = j % pixels;
        int64_t oh = p / ow, w0 = p % ow;
        int64_t run = planeRuns ? pixels - p : ow - w0;
        int64_t length = std::min({run, j0 + width - j, nr - (j - j0) % nr});
        int64_t panelEnd = std::min(j0 + width, j - (j - j0) % nr + nr);
        pieces.push_back({j - j0, length,
                          planeRuns ? p : oh * sh * x.stride[3] + w0 * sw,
                          planeRuns ? p : oh * y.stride[3] + w0, n,
                          denseY && (panelEnd - 1) / pixels == j / pixels &&
                              (j - (j - j0) % nr) / pixels == n});
        j += length;
      }
      if (fused) {
        for (int64_t pc = 0; pc < k; pc += kcMax) {
          const int64_t kc = std::min(kcMax, k - pc);
          if (packedTile != ti || kc != k)
            packPointwise(x.data, x.stride[0], x.stride[1], sw, pieces, pc, kc,
                          width, inputScale, bp);
          packedTile = ti;
          const float *a = packedWeights.data() + pc * padded + i0 * kc;
          const bool last = pc + kc == k;
          for (int64_t ic = 0; ic < rows; ic += kernel.mc) {
            const int64_t mc = std::min<int64_t>(kernel.mc, rows - ic);
            // With a short k (the expansions 16->72 @56, 24->88 @28), each
            // tile's product is too short to hide its stores, and every
            // channel of a panel at once is 72-96 write streams, more than
            // the L2 streamer tracks: then row block by row block, each
            // over the tile's panels (mr channels streamed at a time; the
            // packed panels, kc x width, stay in L1). Else panel by panel
            // (the panel's kc x 32 in L1, the weights in L2).
            const bool rowsFirst = kc * width <= kRowsFirstPanel;
            const int64_t blocks = (mc + mr - 1) / mr;
            const int64_t panels = (width + nr - 1) / nr;
            for (int64_t step = 0; step < blocks * panels; ++step) {
              const int64_t ir =
                  (rowsFirst ? step / panels : step % blocks) * mr;
              const int64_t q = rowsFirst ? step % panels : step / blocks;
              const int64_t o = i0 + ic + ir;
              const int64_t j = j0 + q * nr, n0 = j / pixels, p0 = j % pixels;
              const int cols =
                  static_cast<int>(std::min<int64_t>(nr, width - q * nr));
              const int split =
                  static_cast<int>(std::min<int64_t>(cols, pixels - p0));
              const int64_t n1 = split < cols ? n0 + 1 : n0;
              PointwiseStore out{};
              out.c0 = y.data + n0 * y.stride[0] + o * y.stride[1] + p0;
              out.c1 = y.data + n1 * y.stride[0] + o * y.stride[1];
              out.rsc = y.stride[1];
              out.split = split;
              if (bias) {
                out.bias0 =
                    bias->data + n0 * bias->stride[0] + o * bias->stride[1];
                out.bias1 =
                    bias->data + n1 * bias->stride[0] + o * bias->stride[1];
                out.biasStride = bias->stride[1];
              }
              const int height =
                  static_cast<int>(std::min<int64_t>(mr, mc - ir));
              const PointwiseTileFn tile =
                  last ? lastTile(height) : rawTile(height);
              tile(kc, a + (ic + ir) * kc, bp + q * nr * kc, out, height, cols,
                   pc > 0);
            }
          }
        }
        continue;
      }
      if (!scratch &&
          std::any_of(pieces.begin(), pieces.end(),
                      [](const PointwisePiece &p) { return !p.direct; }))
        scratch = columns.get(rowBlock * maxTile);
      for (int64_t pc = 0; pc < k; pc += kcMax) {
        int64_t kc = std::min(kcMax, k - pc);
        // Consecutive row blocks of one tile share its packed panels when
        // one k block covers k.
        if (packedTile != ti || kc != k)
          packPointwise(x.data, x.stride[0], x.stride[1], sw, pieces, pc, kc,
                        width, inputScale, bp);
        packedTile = ti;
        const float *a = packedWeights.data() + pc * padded + i0 * kc;
        const float beta = pc == 0 ? 0.0f : 1.0f;
        // Runs of panels with one destination: an image's pixels in y or
        // the buffer.
        for (size_t at = 0; at < pieces.size();) {
          const PointwisePiece &start = pieces[at];
          size_t next = at + 1;
          while (next < pieces.size() && pieces[next].direct == start.direct &&
                 (!start.direct || pieces[next].image == start.image))
            ++next;
          int64_t from = start.t0,
                  to = pieces[next - 1].t0 + pieces[next - 1].length;
          float *c = start.direct ? y.data + start.image * y.stride[0] +
                                        i0 * y.stride[1] + start.out
                                  : scratch + from;
          multiplyBlock(kernel, rows, to - from, kc, a, bp + from * kc, c,
                        start.direct ? y.stride[1] : maxTile, beta);
          at = next;
        }
      }
      if (inRegisters) {
        if (!epilogue &&
            std::all_of(pieces.begin(), pieces.end(),
                        [](const PointwisePiece &p) { return p.direct; }))
          continue;
        // Runs of pieces whose pixels follow each other in y's channel
        // rows (and x's, with planeRuns), one call each.
        for (size_t at = 0; at < pieces.size();) {
          PointwisePiece piece = pieces[at];
          const int64_t n = piece.image;
          const int64_t pixel = piece.t0 + j0 - n * pixels;
          for (++at; at < pieces.size() && pieces[at].image == n &&
                     pieces[at].direct == piece.direct &&
                     pieces[at].out == piece.out + piece.length &&
                     (planeRuns || (pixel + piece.length) / ow == pixel / ow);
               ++at)
            piece.length += pieces[at].length;
          if (piece.direct && !epilogue)
            continue;
          float *dst = y.data + n * y.stride[0] + i0 * y.stride[1] + piece.out;
          const float *src = piece.direct ? dst : scratch + piece.t0;
          const float *b =
              bias ? bias->data + n * bias->stride[0] + i0 * bias->stride[1]
                   : nullptr;
          const float *r =
              residual ? residual->data + n * residual->stride[0] +
                             i0 * residual->stride[1] +
                             (planeRuns ? pixel
                                        : pixel / ow * residual->stride[3] +
                                              pixel % ow * residual->stride[4])
                       : nullptr;
          finish(src, piece.direct ? y.stride[1] : maxTile, dst, y.stride[1],
                 rows, piece.length, b, bias ? bias->stride[1] : 0, r,
                 residual ? residual->stride[1] : 0,
                 epilogue && epilogue->residualFirst);
        }
        continue;
      }
      for (const PointwisePiece &piece : pieces)
        if (!piece.direct)
          copyBlock(true, scratch + piece.t0, maxTile,
                    y.data + piece.image * y.stride[0] + i0 * y.stride[1] +
                        piece.out,
                    y.stride[1], rows, piece.length);
      // The GEMM's epilogue over the tile's runs of consecutive output
      // pixels: one block per run with flatEpilogue, else per output row.
      for (size_t r = 0; r < pieces.size();) {
        const PointwisePiece &start = pieces[r];
        int64_t length = start.length;
        size_t next = r + 1;
        const int64_t pixel = start.t0 + j0 - start.image * pixels;
        while (flatEpilogue && next < pieces.size() &&
               pieces[next].image == start.image &&
               pieces[next].out == start.out + length) {
          length += pieces[next].length;
          ++next;
        }
        float *block =
            y.data + start.image * y.stride[0] + i0 * y.stride[1] + start.out;
        if (flatEpilogue) {
          gemm::applyEpilogueBlock(
              activation, rows, length, block, y.stride[1], 1,
              pixelBlockEpilogue(*epilogue, start.image, i0, pixel, *biasStep,
                                 *residualStep));
        } else {
          // A piece of planeRuns may cross output rows (y dense then).
          for (int64_t q = pixel; q < pixel + length;) {
            int64_t rowEnd = std::min(pixel + length, (q / ow + 1) * ow);
            gemm::applyEpilogueBlock(activation, rows, rowEnd - q,
                                     block + (q - pixel), y.stride[1], 1,
                                     rowBlockEpilogue(*epilogue, start.image,
                                                      i0, 0, q / ow, q % ow));
            q = rowEnd;
          }
        }
        r = next;
      }
    }
  });
}

void forward(const View5 &x, const View5 &w, const View5 &y,
             const int64_t *scalars, const ConvEpilogue *epilogue = nullptr);

/// forward for a y whose pixels are not contiguous per channel where the
/// kernel needs them so: into a dense temporary, then copied out by rows
/// in parallel.
void forwardThroughDense(const View5 &x, const View5 &w, const View5 &out,
                         const int64_t *scalars,
                         const ConvEpilogue *epilogue) {
  const int64_t rows = out.size[2] * out.size[3], width = out.size[4];
  const int64_t channel = rows * width;
  std::vector<float> storage(out.size[0] * out.size[1] * channel);
  View5 dense{storage.data(),
              {out.size[0], out.size[1], out.size[2], out.size[3], width},
              {out.size[1] * channel, channel, out.size[3] * width, width, 1}};
  forward(x, w, dense, scalars, epilogue);
  parallelFor(0, out.size[0] * out.size[1], 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const float *src = storage.data() + t * channel;
      float *plane = out.data + t / out.size[1] * out.stride[0] +
                     t % out.size[1] * out.stride[1];
      for (int64_t r = 0; r < rows; ++r, src += width) {
        float *row = plane + r / out.size[3] * out.stride[2] +
                     r % out.size[3] * out.stride[3];
        if (out.stride[4] == 1)
          std::memcpy(row, src, width * sizeof(float));
        else
          for (int64_t v = 0; v < width; ++v)
            row[v * out.stride[4]] = src[v];
      }
    }
  });
}

/// Output pixels up to which one image runs through forwardTransposed: the
/// late ResNet layers' 7x7 and 14x14 planes.
constexpr int64_t kTransposedPixels = 256;

/// Whether forward runs `g` through forwardTransposed: one image (batch 1,
/// ungrouped) of at most kTransposedPixels output pixels, a kernel wider
/// than 1x1 (1x1 convolutions have paths of their own), a full panel of
/// output channels for each thread (the threads split the channels), y's
/// planes contiguous, on the AVX-512 tile (its edge kernels cover the last
/// panel of pixels).
bool transposedFits(const Geometry &g, const View5 &y,
                    const MicroKernelInfo &kernel) {
  return &kernel == &gemm::avx512ConvKernel() && g.batch == 1 &&
         y.stride[4] == 1 && y.stride[3] == g.out[2] && g.groups == 1 &&
         g.pixels <= kTransposedPixels && g.kernel[1] * g.kernel[2] > 1 &&
         g.og >= kernel.nr * numThreads() && ShiftedInput::applies(g);
}

/// The calling thread's buffers of forwardTransposed, shared by the
/// threads of one call: the packed im2col (A) and y transposed (C).
thread_local ScratchBuffer transposedPanels, transposedOutput;

/// Rows [p0, p0 + kc) of im2col, transposed, for output pixels [q0, q0 +
/// mr) into one MR panel: out[p * mr + i] is pixel q0 + i of row p0 + p,
/// read from the phase planes at `base` (ShiftedInput's grid: pixel (oh,
/// ow) at oh * wq + ow). A panel's pixels are runs along output rows,
/// each a masked copy per row; lanes past the last pixel are zeros.
__attribute__((target("avx512f"))) void
packTransposedPanel(const Geometry &g, const ShiftedInput &s, const float *base,
                    int64_t p0, int64_t kc, int64_t q0, int mr, float *out) {
  struct Run {
    int lane, grid;
    __mmask16 mask;
  };
  Run runs[16];
  int count = 0;
  const int64_t ow = g.out[2], end = std::min(q0 + mr, g.pixels);
  for (int64_t q = q0; q < end;) {
    int64_t width = std::min(end - q, ow - q % ow);
    runs[count++] = {static_cast<int>(q - q0),
                     static_cast<int>(q / ow * s.wq + q % ow),
                     static_cast<__mmask16>((1u << width) - 1)};
    q += width;
  }
  const __mmask16 used = static_cast<__mmask16>((1u << mr) - 1);
  const int64_t *rowOffset = s.rowOffset + p0;
  for (int64_t p = 0; p < kc; ++p) {
    const float *row = base + rowOffset[p];
    float *panel = out + p * mr;
    if (end - q0 < mr)
      _mm512_mask_storeu_ps(panel, used, _mm512_setzero_ps());
    for (int r = 0; r < count; ++r)
      _mm512_mask_storeu_ps(
          panel + runs[r].lane, runs[r].mask,
          _mm512_maskz_loadu_ps(runs[r].mask, row + runs[r].grid));
  }
}

/// The AVX-512 shuffles of transposeColumns in their merge-masked forms
/// (all lanes written): the plain intrinsics start from an undefined
/// vector, which GCC 12 reports as maybe used uninitialized.
__attribute__((target("avx512f"))) inline __m512 unpackLow(__m512 a, __m512 b) {
  return _mm512_mask_unpacklo_ps(a, 0xFFFF, a, b);
}
__attribute__((target("avx512f"))) inline __m512 unpackHigh(__m512 a,
                                                            __m512 b) {
  return _mm512_mask_unpackhi_ps(a, 0xFFFF, a, b);
}
template <int Imm>
__attribute__((target("avx512f"))) inline __m512 shuffleWithin(__m512 a,
                                                               __m512 b) {
  return _mm512_mask_shuffle_ps(a, 0xFFFF, a, b, Imm);
}
template <int Imm>
__attribute__((target("avx512f"))) inline __m512 shuffleAcross(__m512 a,
                                                               __m512 b) {
  return _mm512_mask_shuffle_f32x4(a, 0xFFFF, a, b, Imm);
}

/// out[o * planeStride + q] = result[q * cols + o] for channels o in [o0,
/// o1) and pixels q < pixels: 16 pixels x 16 channels at a time, loaded as
/// 16 rows, transposed in registers (unpacks, then shuffles within and
/// across 128-bit lanes) and stored as 16 channel rows; masked at the
/// edges, so nothing past either range is read or written.
__attribute__((target("avx512f"))) void
transposeColumns(const float *result, int64_t cols, int64_t pixels, int64_t o0,
                 int64_t o1, float *out, int64_t planeStride) {
  for (int64_t c0 = o0; c0 < o1; c0 += 16) {
    const int64_t channels = std::min<int64_t>(16, o1 - c0);
    const __mmask16 channelMask = static_cast<__mmask16>((1u << channels) - 1);
    for (int64_t q0 = 0; q0 < pixels; q0 += 16) {
      const int64_t count = std::min<int64_t>(16, pixels - q0);
      __m512 r[16], t[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < count ? _mm512_maskz_loadu_ps(channelMask,
                                                 result + (q0 + i) * cols + c0)
                         : _mm512_setzero_ps();
      for (int i = 0; i < 8; ++i) {
        t[2 * i] = unpackLow(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = unpackHigh(r[2 * i], r[2 * i + 1]);
      }
      // r[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j.
      for (int i = 0; i < 4; ++i) {
        r[4 * i] = shuffleWithin<0x44>(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = shuffleWithin<0xEE>(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = shuffleWithin<0x44>(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = shuffleWithin<0xEE>(t[4 * i + 1], t[4 * i + 3]);
      }
      for (int j = 0; j < 4; ++j) {
        t[j] = shuffleAcross<0x88>(r[j], r[4 + j]);
        t[4 + j] = shuffleAcross<0xDD>(r[j], r[4 + j]);
        t[8 + j] = shuffleAcross<0x88>(r[8 + j], r[12 + j]);
        t[12 + j] = shuffleAcross<0xDD>(r[8 + j], r[12 + j]);
      }
      for (int j = 0; j < 4; ++j) {
        r[j] = shuffleAcross<0x88>(t[j], t[8 + j]);
        r[8 + j] = shuffleAcross<0xDD>(t[j], t[8 + j]);
        r[4 + j] = shuffleAcross<0x88>(t[4 + j], t[12 + j]);
        r[12 + j] = shuffleAcross<0xDD>(t[4 + j], t[12 + j]);
      }
      const __mmask16 pixelMask = static_cast<__mmask16>((1u << count) - 1);
      for (int c = 0; c < channels; ++c)
        _mm512_mask_storeu_ps(out + (c0 + c) * planeStride + q0, pixelMask,
                              r[c]);
    }
  }
}

/// y = conv(x, w) for one small image (transposedFits) as the transposed
/// GEMM y^T = im2col^T x w^T: output pixels are the micro-kernel's rows and
/// output channels its 32 columns. The grid forwardShifted runs on rounds
/// a 7x7 image's 61 grid pixels up to 64 columns (49 used: 31% more FMAs
/// than needed) and a 14x14 image's 222 up to 224 (196 used); as rows,
/// 49 pixels are 3 panels of 14 and one of 7 (an edge kernel) and 196 are
/// 14 panels, with nothing wasted since 256 and 512 channels are whole
/// panels. The threads split the output channels: each reads its half of
/// the weights once (w^T's panels, packed once per weight) and packs the
/// im2col panels of each k block itself. Then each thread writes its
/// channels of y from the transposed result and applies `epilogue`
/// (optional) to them. False (nothing done) when the buffers do not fit
/// in memory.
bool forwardTransposed(const View5 &x, const View5 &w, const View5 &y,
                       const Geometry &g, const MicroKernelInfo &kernel,
                       const ConvEpilogue *epilogue) {
  const ShiftedInput s(g, x, /*maskedEdges=*/false); // reads the phase planes
  // The panels are read without masks: every tap in bounds, the padding
  // zeros in the planes (x itself only when nothing is padded).
  if (s.inPlace && (g.pad[1] != 0 || g.pad[2] != 0))
    return false;
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t k = g.depth, m = g.og, pixels = g.pixels;
  const int64_t channels = x.size[1];
  const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
  const int64_t rowsPadded = roundUp(pixels, mr), cols = roundUp(m, nr);
  float *phased = nullptr;
  if (!s.inPlace) {
    phased = shifted.get(channels * s.channelStride);
    if (!phased)
      return false;
  }
  // The threads' parts: channel panels split as evenly as they allow.
  const int64_t parts = std::min<int64_t>(numThreads(), cols / nr);
  float *result = transposedOutput.get(pixels * cols);
  float *blocks = transposedPanels.get(parts * kcMax * rowsPadded);
  if (!result || !blocks)
    return false;
  // w^T: block (pc, channels from j) at pc * cols + j * kc, as the forward
  // packs w with panels of nr rows.
  std::shared_ptr<const std::vector<float>> weights =
      packWeights(g, w, nr, kcMax);
  if (phased)
    parallelFor(0, channels, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c)
        buildPhases(g, x, s, 0, c, phased + c * s.channelStride, 0, s.hq);
    });
  const float *base = phased ? phased : x.data;
  // Each part packs im2col^T's k blocks itself (pixels from i at i * kc):
  // they stay in its core's L2 for all its panels of channels. Packed
  // once for all threads, half of every block came from the other core
  // at each read (1 thread to 2: 1.5x on 14x14 with 256 channels).
  const int64_t rowPanels = rowsPadded / mr;
  const gemm::ActivationFn activation =
      epilogue ? activationFunction() : nullptr;
  parallelFor(0, parts, 1, [&](int64_t lo, int64_t hi) {
    const int64_t j0 = lo * (cols / nr) / parts * nr;
    const int64_t width = std::min(hi * (cols / nr) / parts * nr, m) - j0;
    float *block = blocks + lo * kcMax * rowsPadded;
    for (int64_t pc = 0; pc < k; pc += kcMax) {
      int64_t kc = std::min(kcMax, k - pc);
      for (int64_t i = 0; i < rowPanels; ++i)
        packTransposedPanel(g, s, base, pc, kc, i * mr, mr,
                            block + i * mr * kc);
      multiplyBlock(kernel, pixels, width, kc, block,
                    weights->data() + pc * cols + j0 * kc, result + j0, cols,
                    pc == 0 ? 0.0f : 1.0f);
    }
    // y's channels from their columns (its planes are contiguous).
    transposeColumns(result, cols, pixels, j0, j0 + width, y.data, y.stride[1]);
    if (epilogue)
      for (int64_t o = j0; o < j0 + width; ++o)
        finishPlane(*epilogue, activation, y, 0, o);
  });
  return true;
}

/// forward of x[n, c] * epilogue.scale[n, c] through a dense scaled copy
/// of x (the paths that do not scale x as they pack it).
void forwardScaledCopy(const View5 &x, const View5 &w, const View5 &y,
                       const int64_t *scalars, const ConvEpilogue &epilogue) {
  View5 scaled{
      nullptr, {x.size[0], x.size[1], x.size[2], x.size[3], x.size[4]}, {}};
  scaled.stride[4] = 1;
  for (int d = 3; d >= 0; --d)
    scaled.stride[d] = scaled.stride[d + 1] * x.size[d + 1];
  // The calling thread's buffer, kept between calls (a model calls the same
  // convolution every forward; fresh pages would fault on each).
  thread_local ScratchBuffer scaledInput;
  const size_t count = static_cast<size_t>(x.size[0] * scaled.stride[0]);
  std::vector<float> fallback;
  scaled.data = scaledInput.get(count);
  if (!scaled.data) {
    fallback.resize(count);
    scaled.data = fallback.data();
  }
  const View5 &s = epilogue.scale;
  parallelFor(0, x.size[0] * x.size[1], 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t n = t / x.size[1], c = t % x.size[1];
      const float factor = s.data[n * s.stride[0] + c * s.stride[1]];
      const float *src = x.data + n * x.stride[0] + c * x.stride[1];
      float *dst = scaled.data + n * scaled.stride[0] + c * scaled.stride[1];
      for (int64_t a = 0; a < x.size[2]; ++a)
        for (int64_t b = 0; b < x.size[3]; ++b)
          for (int64_t e = 0; e < x.size[4]; ++e)
            *dst++ = src[a * x.stride[2] + b * x.stride[3] + e * x.stride[4]] *
                     factor;
    }
  });
  ConvEpilogue rest = epilogue;
  rest.scale = View5{};
  forward(scaled, w, y, scalars, finishesY(&rest) ? &rest : nullptr);
}

/// A convolution of a few input channels (an RGB stem) through the direct
/// kernel of CpuConvStem.cpp, epilogue (bias, activation) included; false
/// when it does not apply (then nothing was written).
bool forwardStem(const View5 &x, const View5 &w, const View5 &y,
                 const Geometry &g, const ConvEpilogue *epilogue) {
  // Only where the AVX-512 kernels run (the tests force the others).
  if (std::strcmp(gemm::kernelName(), "avx512") != 0 || g.groups != 1 ||
      !ShiftedInput::applies(g) || g.dilation[1] != 1 || g.dilation[2] != 1 ||
      x.stride[4] != 1 || y.stride[4] != 1)
    return false;
  const View5 *bias = nullptr;
  if (epilogue) {
    if (epilogue->residual.data || epilogue->mean.data ||
        epilogue->scale.data || !stemActivation(epilogue->activation))
      return false;
    if (epilogue->bias.data) {
      bias = &epilogue->bias;
      for (int d = 2; d < 5; ++d)
        if (bias->size[d] != 1 && bias->stride[d] != 0)
          return false; // one value per image and channel only
    }
  }
  StemGeometry s{x.size[1],    g.in[1],     g.in[2],     g.outChannels,
                 g.out[1],     g.out[2],    g.kernel[1], g.kernel[2],
                 g.stride[1],  g.stride[2], g.pad[1],    g.pad[2],
                 x.stride[1],  x.stride[3], y.stride[1], y.stride[3]};
  const int activation = epilogue ? epilogue->activation : EMBER_GEMM_ACT_NONE;
  // Windows of more than 9 taps (a 7x7 stem): CpuConvStemTile.h's kernel.
  const bool tile = stemTileApplies(s, activation);
  if (!tile && !stemApplies(s))
    return false;
  auto pack = [&] {
    std::vector<float> weightCopy;
    const float *weights = contiguous(w, weightCopy); // [O, C, kH, kW]
    auto packed = std::make_shared<std::vector<float>>(
        tile ? stemTilePackedSize(s) : stemPackedSize(s));
    (tile ? packStemTileWeights : packStemWeights)(s, weights, packed->data());
    return packed;
  };
  std::shared_ptr<const std::vector<float>> packed;
  if (const float *end = endOf(w)) {
    constant::Key key{w.data,
                      layoutOf(constant::Packing::ConvStemWeights, w, {})};
    packed = constant::packOnce<std::vector<float>>(w.data, end, key, pack);
  }
  if (!packed)
    packed = pack();
  std::atomic<bool> failed{false};
  parallelFor(0, g.batch * s.outH, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi;) {
      const int64_t n = t / s.outH, oh0 = t % s.outH;
      const int64_t oh1 = std::min(s.outH, oh0 + (hi - t));
      float biases[std::max(kStemMaxOutputs, kStemTileMaxOutputs)];
      if (bias)
        for (int64_t o = 0; o < s.outC; ++o)
          biases[o] = bias->data[n * bias->stride[0] + o * bias->stride[1]];
      if (!(tile ? stemTileRows : stemRows)(s, x.data + n * x.stride[0],
                                            packed->data(),
                                            bias ? biases : nullptr, activation,
                                            y.data + n * y.stride[0], oh0, oh1))
        failed = true;
      t += oh1 - oh0;
    }
  });
  return !failed;
}

/// When forward takes the direct path: Auto where directWins, Never, or
/// Always where it applies.
enum class DirectMode { Auto, Never, Always };

/// The test hooks' mode numbers (CpuConv.h: 0 auto, 1 never, 2 always).
DirectMode directModeOf(int mode) {
  return mode == 2   ? DirectMode::Always
         : mode == 1 ? DirectMode::Never
                     : DirectMode::Auto;
}

/// A path's starting mode from its knob: "0" never, "1" always, else auto.
DirectMode directModeFromEnv(const char *knob) {
  const char *text = std::getenv(knob);
  if (text && !std::strcmp(text, "0"))
    return DirectMode::Never;
  if (text && !std::strcmp(text, "1"))
    return DirectMode::Always;
  return DirectMode::Auto;
}

/// The direct path's mode (ember_cpu_conv_force_direct); starts from
/// EMBER_CONV_DIRECT (docs/knobs.md).
std::atomic<DirectMode> &directMode() {
  static std::atomic<DirectMode> mode{directModeFromEnv("EMBER_CONV_DIRECT")};
  return mode;
}

/// Forward calls the direct path ran (ember_cpu_conv_direct_calls).
std::atomic<uint64_t> directRuns{0};

/// The direct path's shape of `g` when it can run it: 2-D, one group, unit
/// dilation, x's and y's columns contiguous, on the AVX-512 tile.
std::optional<DirectShape> directShapeOf(const Geometry &g, const View5 &x,
                                         const View5 &y) {
  if (&forwardKernel() != &gemm::avx512ConvKernel() || g.groups != 1 ||
      !ShiftedInput::applies(g) || g.dilation[1] != 1 || g.dilation[2] != 1 ||
      x.stride[4] != 1 || y.stride[4] != 1)
    return std::nullopt;
  DirectShape d{g.cg,        g.outChannels, g.in[1],     g.in[2],
                g.out[1],    g.out[2],      g.kernel[1], g.kernel[2],
                g.stride[1], g.stride[2],   g.pad[1],    g.pad[2]};
  if (!directApplies(d))
    return std::nullopt;
  return d;
}

/// Whether the direct path beats the packed-GEMM paths on `g`, as measured
/// per layer on resnet18's convolutions (bench/conv_layers_bench, 2
/// threads): windows up to 3x3 over at least 16 channels into rows wider
/// than 7, all of them at batch 32 (parity at 56x56, 3-9% faster at 28x28
/// and 14x14, stride 2 included), at batch 1 into rows of 28 or fewer (l2's
/// and l3's convs 4-20% faster than the shifted and transposed paths, since
/// the tiles prefetch; at 56x56, l1, parity: +2% plain, -2% with the
/// residual, so it stays on the packed paths). Rows of 7 (l4: tiles of 7 x 64
/// channels) lost to the transposed GEMM by 5-15%, and the 7x7 stem over 3
/// channels (49 taps of 3-step loops) by 30%; but at batch 1, l4's stride-2
/// conv (256 -> 512) ran 5% faster direct in the model (no phase planes; the
/// 1x1 downsample reading the same x then ran 10% faster too), where its
/// stride-1 convs ran 12% slower.
bool directWins(const Geometry &g) {
  if (g.kernel[1] * g.kernel[2] > 9 || g.cg < 16)
    return false;
  if (g.out[2] <= 7)
    return g.batch == 1 && g.stride[2] == 2;
  return g.batch > 1 || g.out[2] <= 28;
}

/// The epilogue the direct tile applies in registers: a bias per (image,
/// channel), a residual with contiguous columns, relu or nothing; nullopt
/// when `e` asks for more (forward finishes the planes afterwards).
std::optional<DirectFinish> directFinishOf(const ConvEpilogue &e,
                                           const Geometry &g) {
  if (e.activation != EMBER_GEMM_ACT_NONE &&
      e.activation != EMBER_GEMM_ACT_RELU)
    return std::nullopt;
  DirectFinish f;
  if (e.bias.data) {
    std::optional<int64_t> step = pixelStride(e.bias);
    if (!step || *step != 0)
      return std::nullopt;
    f.bias = e.bias.data;
    f.biasImage = e.bias.stride[0];
    f.biasChannel = e.bias.stride[1];
  }
  if (e.residual.data) {
    if (e.residual.stride[4] != 1 && g.out[2] != 1)
      return std::nullopt;
    f.residual = e.residual.data;
    f.residualImage = e.residual.stride[0];
    f.residualChannel = e.residual.stride[1];
    f.residualRow = e.residual.stride[3];
  }
  f.relu = e.activation == EMBER_GEMM_ACT_RELU;
  f.residualFirst = e.residualFirst;
  return f;
}

/// y = conv(x, w) through CpuConvDirect.h, with `finish` (optional) applied
/// in registers.
void forwardDirect(const View5 &x, const View5 &w, const View5 &y,
                   const Geometry &g, const DirectShape &d,
                   const DirectFinish *finish) {
  std::shared_ptr<const std::vector<float>> packed = packedOnce(
      w, constant::Packing::ConvDirect, {}, [&] {
        std::vector<float> weightCopy;
        const float *weights = contiguous(w, weightCopy); // [O, C, kH, kW]
        auto out = std::make_shared<std::vector<float>>(directPackedSize(d));
        packDirectWeights(d, weights, out->data());
        return out;
      });
  directRuns.fetch_add(1, std::memory_order_relaxed);
  directForward(d, g.batch, x.data, x.stride[0], x.stride[1], x.stride[3],
                packed->data(), y.data, y.stride[0], y.stride[1], y.stride[3],
                finish);
}

/// The Winograd path's mode (ember_cpu_conv_force_winograd), DirectMode's
/// Auto / Never / Always; starts from EMBER_CONV_WINOGRAD (docs/knobs.md).
std::atomic<DirectMode> &winogradMode() {
  static std::atomic<DirectMode> mode{directModeFromEnv("EMBER_CONV_WINOGRAD")};
  return mode;
}

/// Forward calls the Winograd path ran (ember_cpu_conv_winograd_calls).
std::atomic<uint64_t> winogradRuns{0};

/// Whether the Winograd path beats the direct and GEMM paths on `g` (a 3x3
/// stride-1 convolution), as measured per layer on resnet18's convolutions
/// (bench/conv_layers_bench, 2 threads, best of 6-15): from 32 tiles of 4x4
/// outputs per call. At batch 32, 1.6-2.0x faster than the direct path on
/// every layer (56x56 64 channels to 7x7 512); at batch 1, 2.0-2.2x at
/// 56x56 (196 tiles) and 1.6x at 28x28 (49). Fewer tiles reuse U (36 points
/// x channels x output channels, 4x the weights' size) too little: 14x14 x
/// 256 at batch 1 (16 tiles) ran 8% slower, 7x7 x 512 (4 tiles) 3.4x
/// slower, and 12% faster / 9% faster at 32 / 16 tiles. Channels from 16
/// in and out only (fewer were not measured).
bool winogradWins(const Geometry &g) {
  const int64_t tiles = g.batch * ((g.out[1] + 3) / 4) * ((g.out[2] + 3) / 4);
  return tiles >= 32 && g.cg >= 16 && g.og >= 16;
}

/// y = conv(x, w) through CpuConvWinograd.h, with `finish` (optional)
/// applied at the store.
void forwardWinograd(const View5 &x, const View5 &w, const View5 &y,
                     const Geometry &g, const DirectShape &d,
                     const DirectFinish *finish) {
  std::shared_ptr<const std::vector<float>> packed = packedOnce(
      w, constant::Packing::ConvWinograd, {}, [&] {
        std::vector<float> weightCopy;
        const float *weights = contiguous(w, weightCopy); // [O, C, 3, 3]
        auto out =
            std::make_shared<std::vector<float>>(winogradPackedSize(d));
        packWinogradWeights(d, weights, out->data());
        return out;
      });
  winogradRuns.fetch_add(1, std::memory_order_relaxed);
  winogradForward(d, g.batch, x.data, x.stride[0], x.stride[1], x.stride[3],
                  packed->data(), y.data, y.stride[0], y.stride[1],
                  y.stride[3], finish);
}

/// The F(2x2, 3x3) path's mode (ember_cpu_conv_force_winograd_f2; Auto
/// where winogradF2Wins) and the forward calls it ran.
std::atomic<DirectMode> winogradF2Mode{DirectMode::Auto};
std::atomic<uint64_t> winogradF2Runs{0};

/// Whether F(2x2, 3x3) beats the other paths on `g` (a 3x3 stride-1
/// convolution that winogradWins left out): measured on resnet18's 14x14 x
/// 256 and 7x7 x 512 convolutions at batch 1, 2 threads
/// (bench/conv_layers_bench, best of 40): 0.53-0.60 -> 0.40-0.47 ms (direct
/// path) and 0.67-0.78 -> 0.40-0.50 ms (transposed GEMM). In the model,
/// where the weights come from memory rather than L3, much less: U is 16/9
/// of the weights' bytes, and l4's convolutions are bound by them (CPU
/// samples of l3 + l4 about even before U was prefetched into L2;
/// resnet18 b1 with it 4-8% faster, ~1.07-1.10x ONNX Runtime).
bool winogradF2Wins(const Geometry &g) {
  return g.batch == 1 && g.cg >= 256 && g.og >= 256 && g.out[1] <= 14 &&
         g.out[2] <= 14;
}

/// y = conv(x, w) through F(2x2, 3x3), with `finish` (optional) applied at
/// the store; false when winogradF2Forward declined.
bool forwardWinogradF2(const View5 &x, const View5 &w, const View5 &y,
                       const Geometry &g, const DirectShape &d,
                       const DirectFinish *finish) {
  std::shared_ptr<const std::vector<float>> packed = packedOnce(
      w, constant::Packing::ConvWinograd, {2}, [&] {
        std::vector<float> weightCopy;
        const float *weights = contiguous(w, weightCopy); // [O, C, 3, 3]
        auto out =
            std::make_shared<std::vector<float>>(winogradF2PackedSize(d));
        packWinogradF2Weights(d, weights, out->data());
        return out;
      });
  if (!winogradF2Forward(d, g.batch, x.data, x.stride[0], x.stride[1],
                         x.stride[3], packed->data(), y.data, y.stride[0],
                         y.stride[1], y.stride[3], finish))
    return false;
  winogradF2Runs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

/// y = conv(x, w), then `epilogue` (optional) applied to y. y may be any
/// view (a padded buffer's interior: the max pool after an imported CNN's
/// stem); the GEMM paths that need its pixels contiguous per channel run
/// through forwardThroughDense otherwise.
void forward(const View5 &x, const View5 &w, const View5 &y,
             const int64_t *scalars, const ConvEpilogue *epilogue) {
  Geometry g(x, w, y, scalars);
  if (g.batch == 0 || g.outChannels == 0 || g.pixels == 0)
    return;
  // x scaled per image and channel: pointwiseForward scales it while it
  // packs it; the other paths read a scaled copy.
  if (epilogue && epilogue->scale.data &&
      (isPointwiseOnePixel(g) || !isPointwise(g, x, y, forwardKernel()))) {
    forwardScaledCopy(x, w, y, scalars, *epilogue);
    return;
  }
  if (isDepthwise(g, y)) {
    depthwiseForward(x, w, y, g, epilogue);
    return;
  }
  // The plane means (a squeeze-and-excitation pool) of the other paths: a
  // pass over y after it is finished.
  if (epilogue && epilogue->mean.data) {
    ConvEpilogue rest = *epilogue;
    rest.mean = View5{};
    forward(x, w, y, scalars, &rest);
    writeMeans(y, epilogue->mean);
    return;
  }
  if (forwardStem(x, w, y, g, epilogue))
    return;
  // The shifted path copies its tiles out by rows (any row stride); the
  // others write channels of contiguous pixels.
  std::optional<int64_t> step = pixelStride(y);
  const bool densePixels = g.pixels == 1 || (step && *step == 1);
  const bool shiftedFits =
      ShiftedInput::applies(g) && y.stride[4] == 1 && g.depth > 0;
  if (!densePixels && !shiftedFits) {
    forwardThroughDense(x, w, y, scalars, epilogue);
    return;
  }
  // The shifted path finishes each tile while it is in cache; the generic
  // path below finishes y plane by plane afterwards when its addends do not
  // step through pixels by one stride (an extra pass over y, still one
  // launch less than a separate element-wise kernel).
  auto finishPlanes = [&] {
    if (!epilogue)
      return;
    const gemm::ActivationFn activation = activationFunction();
    parallelFor(0, g.batch * g.outChannels, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t)
        finishPlane(*epilogue, activation, y, t / g.outChannels,
                    t % g.outChannels);
    });
  };
  if (isPointwiseOnePixel(g)) {
    pointwiseOnePixelForward(x, w, y, g, epilogue);
    return;
  }
  // Other 1x1 convolutions: one GEMM over the batch's pixels
  // (pointwiseForward).
  if (isPointwise(g, x, y, forwardKernel())) {
    const MicroKernelInfo &kernel = forwardKernel();
    std::shared_ptr<const std::vector<float>> packedWeights =
        packWeights(g, w, kernel.mr, std::min<int64_t>(kernel.kc, g.depth));
    InputScale scale;
    if (epilogue && epilogue->scale.data)
      scale = {epilogue->scale.data, epilogue->scale.stride[0],
               epilogue->scale.stride[1]};
    pointwiseForward(x, y, g, kernel, *packedWeights,
                     finishesY(epilogue) ? epilogue : nullptr, scale);
    return;
  }
  const MicroKernelInfo &kernel = forwardKernel();
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t k = g.depth, m = g.og;
  if (k == 0) {
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t o = 0; o < g.outChannels; ++o)
        std::fill_n(y.data + n * y.stride[0] + o * y.stride[1], g.pixels,
                    0.0f);
    if (epilogue)
      for (int64_t n = 0; n < g.batch; ++n)
        for (int64_t o = 0; o < g.outChannels; ++o)
          finishPlane(*epilogue, activationFunction(), y, n, o);
    return;
  }
  // Runs a direct-family path (`run`: false when it declined) with the
  // epilogue it applies at its store, finishing the rest over the planes.
  auto withDirectFinish = [&](auto &&run) {
    std::optional<DirectFinish> finish;
    if (epilogue)
      finish = directFinishOf(*epilogue, g);
    if (!run(finish ? &*finish : nullptr))
      return false;
    if (epilogue && !finish)
      finishPlanes();
    return true;
  };
  if (DirectMode mode = winogradMode().load(std::memory_order_relaxed);
      mode != DirectMode::Never) {
    std::optional<DirectShape> d = directShapeOf(g, x, y);
    if (d && winogradApplies(*d) &&
        (mode == DirectMode::Always || winogradWins(g))) {
      withDirectFinish([&](const DirectFinish *finish) {
        forwardWinograd(x, w, y, g, *d, finish);
        return true;
      });
      return;
    }
  }
  if (DirectMode mode = winogradF2Mode.load(std::memory_order_relaxed);
      mode != DirectMode::Never) {
    std::optional<DirectShape> d = directShapeOf(g, x, y);
    // EMBER_CONV_WINOGRAD=0 turns this path off too, unless forced.
    if (d && winogradApplies(*d) &&
        (mode == DirectMode::Always ||
         (winogradMode().load(std::memory_order_relaxed) !=
              DirectMode::Never &&
          winogradF2Wins(g)))) {
      if (withDirectFinish([&](const DirectFinish *finish) {
            return forwardWinogradF2(x, w, y, g, *d, finish);
          }))
        return;
    }
  }
  if (DirectMode mode = directMode().load(std::memory_order_relaxed);
      mode != DirectMode::Never) {
    std::optional<DirectShape> d = directShapeOf(g, x, y);
    if (d && (mode == DirectMode::Always || directWins(g))) {
      withDirectFinish([&](const DirectFinish *finish) {
        forwardDirect(x, w, y, g, *d, finish);
        return true;
      });
      return;
    }
  }
  if (shiftedFits && transposedFits(g, y, kernel) &&
      forwardTransposed(x, w, y, g, kernel, epilogue))
    return;
  const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
  const int64_t padded = roundUp(m, mr);
  std::shared_ptr<const std::vector<float>> packedWeights =
      packWeights(g, w, mr, kcMax);
  if (shiftedFits && acrossImagesFits(g, y, kernel) &&
      forwardAcrossImages(x, y, g, kernel, *packedWeights, epilogue))
    return;
  if (shiftedFits && forwardShifted(x, y, g, kernel, *packedWeights, epilogue))
    return;
  if (!densePixels) {
    forwardThroughDense(x, w, y, scalars, epilogue);
    return;
  }
  // Images x groups x pixel tiles are the parallel tasks; when they are
  // fewer than the threads (batch 1 on small late-layer images: 14x14 is
  // one tile), smaller tiles give every thread work.
  int64_t tile = roundUp(std::min(kPixelTile, g.pixels), nr);
  const int64_t images = g.batch * g.groups, threads = numThreads();
  if (images * ((g.pixels + tile - 1) / tile) < threads) {
    int64_t perImage = (threads + images - 1) / images;
    tile = std::max<int64_t>(
        nr, roundUp((g.pixels + perImage - 1) / perImage, nr));
  }
  const int64_t tiles = (g.pixels + tile - 1) / tile;
  // Too few (image, group, pixel tile) tasks for the threads (batch 1,
  // the small late layers): split the output channels too, each block
  // packing its own copy of the tile's im2col panel.
  const int64_t tasks = g.batch * g.groups * tiles;
  const int64_t wanted = 2 * static_cast<int64_t>(numThreads());
  int64_t rowBlock = padded;
  if (tasks < wanted && padded > mr)
    rowBlock = std::max<int64_t>(
        roundUp((padded * tasks + wanted - 1) / wanted, mr), 4 * mr);
  const int64_t rowBlocks = (m + rowBlock - 1) / rowBlock;
  // The epilogue finishes each task's block of y after its last k block
  // (in L2) when the addends step through pixels by one stride; else by
  // planes after the convolution.
  std::optional<int64_t> biasStep, residualStep;
  if (epilogue) {
    biasStep = epilogue->bias.data ? pixelStride(epilogue->bias) : 0;
    residualStep =
        epilogue->residual.data ? pixelStride(epilogue->residual) : 0;
  }
  const bool blockEpilogue = epilogue && biasStep && residualStep;
  const gemm::ActivationFn activation = activationFunction();
  parallelFor(0, tasks * rowBlocks, 1, [&](int64_t lo, int64_t hi) {
    float *bp = packedB.get(kcMax * tile);
    std::vector<Segment> segments;
    for (int64_t task = lo; task < hi; ++task) {
      int64_t t = task / rowBlocks, i0 = task % rowBlocks * rowBlock;
      int64_t rows = std::min(rowBlock, m - i0);
      int64_t n = t / (g.groups * tiles), gi = t / tiles % g.groups;
      int64_t j0 = t % tiles * tile, nc = std::min(tile, g.pixels - j0);
      const float *image = x.data + n * x.stride[0] + gi * g.cg * x.stride[1];
      float *c = y.data + n * y.stride[0] + (gi * m + i0) * y.stride[1] + j0;
      for (int64_t pc = 0; pc < k; pc += kcMax) {
        int64_t kc = std::min(kcMax, k - pc);
        for (int64_t q = 0; q * nr < nc; ++q) {
          int64_t width = std::min<int64_t>(nr, nc - q * nr);
          segmentsOf(g, j0 + q * nr, width, segments);
          float *panel = bp + q * kc * nr;
          for (int64_t p = 0; p < kc; ++p) {
            fillRow(g, x, image, pc + p, segments, panel + p * nr);
            std::fill(panel + p * nr + width, panel + (p + 1) * nr, 0.0f);
          }
        }
        multiplyBlock(kernel, rows, nc, kc,
                      packedWeights->data() + gi * padded * k + pc * padded +
                          i0 * kc,
                      bp, c, y.stride[1], pc == 0 ? 0.0f : 1.0f);
      }
      if (blockEpilogue) // rows: channels gi * m + i0...; columns: pixels j0...
        gemm::applyEpilogueBlock(activation, rows, nc, c, y.stride[1], 1,
                                 pixelBlockEpilogue(*epilogue, n, gi * m + i0,
                                                    j0, *biasStep,
                                                    *residualStep));
    }
  });
  if (!blockEpilogue)
    finishPlanes();
}

/// The data gradient of a convolution with unit strides is the forward
/// convolution of dy with the weight flipped in space and transposed per
/// group (dx[c] = sum over o of dy[o] (*) W[o, c] reversed), padded by
/// the dilated kernel's extent minus the low padding at the low end: no
/// col2im pass (the forward's packing costs about half of col2im's
/// additions here).
void backwardDataAsForward(const View5 &dy, const View5 &w, const View5 &dx,
                           const Geometry &g) {
  std::vector<float> weightCopy;
  const float *weights = contiguous(w, weightCopy);
  const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  // flipped[g * cg + c, o, taps reversed] = W[g * og + o, c, taps].
  std::vector<float> flipped(g.groups * g.cg * g.og * taps);
  for (int64_t gi = 0; gi < g.groups; ++gi)
    for (int64_t c = 0; c < g.cg; ++c)
      for (int64_t o = 0; o < g.og; ++o) {
        const float *src = weights + ((gi * g.og + o) * g.cg + c) * taps;
        float *dst = flipped.data() + ((gi * g.cg + c) * g.og + o) * taps;
        for (int64_t t = 0; t < taps; ++t)
          dst[t] = src[taps - 1 - t];
      }
  View5 view{flipped.data(),
             {g.groups * g.cg, g.og, g.kernel[0], g.kernel[1], g.kernel[2]},
             {g.og * taps, taps, g.kernel[1] * g.kernel[2], g.kernel[2], 1}};
  int64_t scalars[10] = {1, 1, 1};
  for (int d = 0; d < 3; ++d) {
    scalars[3 + d] = g.dilation[d] * (g.kernel[d] - 1) - g.pad[d];
    scalars[6 + d] = g.dilation[d];
  }
  scalars[9] = g.groups;
  forward(dy, view, dx, scalars);
}

void backwardData(const View5 &dy, const View5 &w, const View5 &dx,
                  const int64_t *scalars) {
  Geometry g(dx, w, dy, scalars);
  if (g.batch == 0)
    return;
  if (g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1) {
    backwardDataAsForward(dy, w, dx, g);
    return;
  }
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < dx.size[1]; ++c)
      std::fill_n(dx.data + n * dx.stride[0] + c * dx.stride[1],
                  g.in[0] * g.in[1] * g.in[2], 0.0f);
  if (g.pixels == 0 || g.depth == 0 || g.og == 0)
    return;
  const MicroKernelInfo &kernel = activeKernel();
  const int mr = kernel.mr, nr = kernel.nr;
  // cols[r, pixel] = sum over o of W[o, r] dy[o, pixel]: m = depth, k = O/G.
  const int64_t m = g.depth, k = g.og;
  const int64_t kcMax = std::min<int64_t>(kernel.kc, k);
  std::vector<float> weightCopy, gradCopy;
  const float *weights = contiguous(w, weightCopy);
  const float *grad = contiguous(dy, gradCopy);
  const int64_t gradImage = dy.size[1] * g.pixels;
  const int64_t padded = roundUp(m, mr);
  std::vector<float> packedWeights(g.groups * padded * k);
  for (int64_t gi = 0; gi < g.groups; ++gi)
    packAllA(
        m, k, kcMax, mr,
        [&](int64_t r, int64_t o) { return weights[(gi * k + o) * m + r]; },
        packedWeights.data() + gi * padded * k);
  const int64_t tile = roundUp(std::min(kPixelTile, g.pixels), nr);
  parallelFor(0, g.batch * g.groups, 1, [&](int64_t lo, int64_t hi) {
    float *bp = packedB.get(kcMax * tile);
    float *cols = columns.get(m * tile);
    std::vector<Segment> segments;
    for (int64_t t = lo; t < hi; ++t) {
      int64_t n = t / g.groups, gi = t % g.groups;
      const float *gradBlock = grad + n * gradImage + gi * k * g.pixels;
      float *image = dx.data + n * dx.stride[0] + gi * g.cg * dx.stride[1];
      for (int64_t j0 = 0; j0 < g.pixels; j0 += tile) {
        int64_t nc = std::min(tile, g.pixels - j0);
        for (int64_t pc = 0; pc < k; pc += kcMax) {
          int64_t kc = std::min(kcMax, k - pc);
          for (int64_t q = 0; q * nr < nc; ++q) {
            int64_t width = std::min<int64_t>(nr, nc - q * nr);
            float *panel = bp + q * kc * nr;
            for (int64_t p = 0; p < kc; ++p) {
              const float *src = gradBlock + (pc + p) * g.pixels + j0 + q * nr;
              std::copy(src, src + width, panel + p * nr);
              std::fill(panel + p * nr + width, panel + (p + 1) * nr, 0.0f);
            }
          }
          multiplyBlock(kernel, m, nc, kc,
                        packedWeights.data() + gi * padded * k + pc * padded,
                        bp, cols, tile, pc == 0 ? 0.0f : 1.0f);
        }
        segmentsOf(g, j0, nc, segments);
        for (int64_t r = 0; r < m; ++r)
          addRow(g, dx, image, r, segments, cols + r * tile);
      }
    }
  });
}

/// One image of x channels last, [D, H, W, C]: in this layout the im2col
/// rows of one tap and consecutive channels are consecutive floats, so the
/// weight gradient's B panels (NR im2col rows per pixel) are copies.
void channelsLast(const Geometry &g, const View5 &x, int64_t n, float *out) {
  const int64_t channels = x.size[1];
  const float *image = x.data + n * x.stride[0];
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t z = 0; z < g.in[0]; ++z)
      for (int64_t y = 0; y < g.in[1]; ++y) {
        const float *row = image + c * x.stride[1] + z * x.stride[2] +
                           y * x.stride[3];
        float *dst = out + ((z * g.in[1] + y) * g.in[2]) * channels + c;
        for (int64_t w = 0; w < g.in[2]; ++w)
          dst[w * channels] = row[w * x.stride[4]];
      }
}

/// A run of weight-gradient columns (tap-major, channels fastest) within
/// one tap: columns [offset, offset + length) of a panel read channels
/// [channel, channel + length) at the tap.
struct ColumnRun {
  int64_t offset, length, tap, channel;
};

void backwardWeight(const View5 &x, const View5 &dy, const View5 &dw,
                    const int64_t *scalars) {
  Geometry g(x, dw, dy, scalars);
  const int64_t weights = g.outChannels * g.depth;
  for (int64_t o = 0; o < g.outChannels; ++o)
    std::fill_n(dw.data + o * dw.stride[0], g.depth, 0.0f);
  if (g.batch == 0 || g.pixels == 0 || weights == 0)
    return;
  const MicroKernelInfo &kernel = activeKernel();
  const int mr = kernel.mr, nr = kernel.nr;
  // dWt[o, (tap, c)] += sum over pixels of dy[o, pixel] cols[(tap, c),
  // pixel]: m = O/G, n = depth (taps outer, channels inner), k = pixels
  // (blocks within one image); dw[o, c, tap] = dWt[o, tap, c] at the end.
  const int64_t m = g.og, cols = g.depth, channels = x.size[1];
  const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t kcMax = std::min<int64_t>(kernel.kc, g.pixels);
  const int64_t blocksPerImage = (g.pixels + kcMax - 1) / kcMax;
  const int64_t units = g.batch * blocksPerImage;
  const int64_t chunks = std::min<int64_t>(numThreads(), units);
  std::vector<float> gradCopy;
  const float *grad = contiguous(dy, gradCopy);
  const int64_t gradImage = dy.size[1] * g.pixels;
  std::vector<float> partial(chunks * weights, 0.0f);
  const int64_t padded = roundUp(m, mr);
  const int64_t colTile = roundUp(std::min<int64_t>(kPixelTile, cols), nr);
  const int64_t inPixels = g.in[0] * g.in[1] * g.in[2];
  // Each tap's offset in the (dilated) window.
  std::vector<int64_t> tapD(taps), tapH(taps), tapW(taps);
  for (int64_t t = 0; t < taps; ++t) {
    tapD[t] = t / (g.kernel[1] * g.kernel[2]) * g.dilation[0];
    tapH[t] = t / g.kernel[2] % g.kernel[1] * g.dilation[1];
    tapW[t] = t % g.kernel[2] * g.dilation[2];
  }
  parallelFor(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    float *ap = packedA.get(padded * kcMax);
    float *bp = packedB.get(kcMax * colTile);
    float *image = columns.get(channels * inPixels);
    std::vector<int64_t> baseD(kcMax), baseH(kcMax), baseW(kcMax);
    std::vector<ColumnRun> runs;
    for (int64_t chunk = lo; chunk < hi; ++chunk) {
      float *sum = partial.data() + chunk * weights;
      int64_t transposed = -1;
      for (int64_t u = chunk * units / chunks;
           u < (chunk + 1) * units / chunks; ++u) {
        int64_t n = u / blocksPerImage, p0 = u % blocksPerImage * kcMax;
        int64_t kc = std::min(kcMax, g.pixels - p0);
        if (transposed != n) {
          channelsLast(g, x, n, image);
          transposed = n;
        }
        for (int64_t p = 0; p < kc; ++p) {
          int64_t pixel = p0 + p;
          int64_t ow = pixel % g.out[2], rest = pixel / g.out[2];
          baseW[p] = ow * g.stride[2] - g.pad[2];
          baseH[p] = rest % g.out[1] * g.stride[1] - g.pad[1];
          baseD[p] = rest / g.out[1] * g.stride[0] - g.pad[0];
        }
        for (int64_t gi = 0; gi < g.groups; ++gi) {
          const float *gradBlock = grad + n * gradImage + gi * m * g.pixels;
          for (int64_t i0 = 0; i0 < m; i0 += mr)
            packPanelA(
                m, i0, 0, kc, mr,
                [&](int64_t o, int64_t p) {
                  return gradBlock[o * g.pixels + p0 + p];
                },
                ap + i0 * kc);
          for (int64_t jc = 0; jc < cols; jc += colTile) {
            int64_t nc = std::min(colTile, cols - jc);
            for (int64_t q = 0; q * nr < nc; ++q) {
              int64_t first = jc + q * nr;
              int64_t width = std::min<int64_t>(nr, nc - q * nr);
              runs.clear();
              for (int64_t j = 0; j < width;) {
                int64_t tap = (first + j) / g.cg, c = (first + j) % g.cg;
                int64_t length = std::min(width - j, g.cg - c);
                runs.push_back({j, length, tap, gi * g.cg + c});
                j += length;
              }
              float *panel = bp + q * kc * nr;
              for (int64_t p = 0; p < kc; ++p) {
                float *d = panel + p * nr;
                for (const ColumnRun &run : runs) {
                  int64_t iz = baseD[p] + tapD[run.tap];
                  int64_t iy = baseH[p] + tapH[run.tap];
                  int64_t ix = baseW[p] + tapW[run.tap];
                  if (iz < 0 || iz >= g.in[0] || iy < 0 || iy >= g.in[1] ||
                      ix < 0 || ix >= g.in[2]) {
                    std::fill_n(d + run.offset, run.length, 0.0f);
                    continue;
                  }
                  std::memcpy(d + run.offset,
                              image + ((iz * g.in[1] + iy) * g.in[2] + ix) *
                                          channels + run.channel,
                              run.length * sizeof(float));
                }
                std::fill(d + width, d + nr, 0.0f);
              }
            }
            multiplyBlock(kernel, m, nc, kc, ap, bp,
                          sum + gi * m * cols + jc, cols, 1.0f);
          }
        }
      }
    }
  });
  // dw[o, c, tap] = the partial sums' [o, tap, c].
  for (int64_t o = 0; o < g.outChannels; ++o) {
    float *out = dw.data + o * dw.stride[0];
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const float *src = partial.data() + chunk * weights + o * cols;
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t c = 0; c < g.cg; ++c)
          out[c * taps + t] += src[t * g.cg + c];
    }
  }
}

#define VIEW5(name)                                                            \
  View5 {                                                                      \
    name##Data + name##Offset,                                                 \
        {name##Size0, name##Size1, name##Size2, name##Size3, name##Size4},     \
        {name##Stride0, name##Stride1, name##Stride2, name##Stride3,           \
         name##Stride4}                                                        \
  }

#define SCALARS                                                                \
  const int64_t scalars[10] = {strideD,   strideH,   strideW,   padD,          \
                               padH,      padW,      dilationD, dilationH,     \
                               dilationW, groups}

} // namespace

} // namespace conv
} // namespace ember

using namespace ember::conv;

namespace {
/// Fused forward calls run in this process (ember_cpu_fused_conv_calls).
std::atomic<uint64_t> fusedConvCalls{0};
/// Those of them that also wrote plane means (ember_cpu_fused_conv_means).
std::atomic<uint64_t> fusedConvMeans{0};
/// Those of them that scaled their input (ember_cpu_fused_conv_scales).
std::atomic<uint64_t> fusedConvScales{0};

/// The epilogue a fused forward call's flags ask for (GemmEpilogue.h's
/// EMBER_GEMM_FUSED_* bits), over its bias and residual views.
ConvEpilogue fusedEpilogue(int64_t flags, const View5 &bias,
                           const View5 &residual) {
  ConvEpilogue epilogue;
  epilogue.activation =
      static_cast<int32_t>(flags & EMBER_GEMM_FUSED_ACTIVATION_MASK);
  epilogue.residualFirst = flags & EMBER_GEMM_FUSED_RESIDUAL_FIRST;
  if (flags & EMBER_GEMM_FUSED_BIAS)
    epilogue.bias = bias;
  if (flags & EMBER_GEMM_FUSED_RESIDUAL)
    epilogue.residual = residual;
  return epilogue;
}

/// ember_cpu_conv_fused_then_f32's call, held until the next convolution
/// call on this thread (ember-fuse-conv-epilogue emits it only where that
/// call reads its y and nothing else comes between).
struct DeferredConv {
  bool held = false;
  View5 x{}, w{}, y{};
  int64_t scalars[10] = {};
  ConvEpilogue epilogue;
};
thread_local DeferredConv deferred;
/// The calling thread's image of the deferred convolution's output.
thread_local ember::ScratchBuffer pairedImage;

/// Largest image of a deferred output run through pairedImage: it should
/// stay in the core's L2 between the two convolutions.
constexpr int64_t kPairedImageBytes = 1 << 20;

/// Whether `a` and `b` show the same elements the same way (the stride of
/// a unit dim does not matter: the compiler gives it as 0 or not).
bool sameView(const View5 &a, const View5 &b) {
  if (a.data != b.data)
    return false;
  for (int d = 0; d < 5; ++d)
    if (a.size[d] != b.size[d] ||
        (a.size[d] != 1 && a.stride[d] != b.stride[d]))
      return false;
  return true;
}

/// Image n of `v` (a null view stays null; stride 0 broadcasts).
View5 imageOf(const View5 &v, int64_t n) {
  View5 image = v;
  if (image.data) {
    image.data += n * v.stride[0];
    image.size[0] = 1;
  }
  return image;
}

/// Whether the deferred convolution `d` and the next one (x, w, y) run
/// image by image: next reads d's whole output as x, is depthwise (the
/// output's planes are read once, right after they are written), an
/// image of that output fits kPairedImageBytes, there are at least 4
/// images per thread, and next writes nothing d reads.
bool runsPaired(const DeferredConv &d, const View5 &x, const View5 &w,
                const View5 &y, const int64_t *scalars) {
  if (!sameView(x, d.y) || x.size[0] < 4 * ember::numThreads())
    return false;
  const int64_t imageBytes = static_cast<int64_t>(sizeof(float)) *
                             x.size[1] * x.size[2] * x.size[3] * x.size[4];
  if (imageBytes > kPairedImageBytes)
    return false;
  Geometry g(x, w, y, scalars);
  if (!isDepthwise(g, y) || y.size[0] != x.size[0])
    return false;
  // next's y may not overlap what d reads (it is written before d's next
  // image is read).
  const float *yEnd = endOf(y);
  if (!yEnd)
    return false;
  for (const View5 *read :
       {&d.x, &d.w, &d.epilogue.bias, &d.epilogue.residual}) {
    if (!read->data)
      continue;
    const float *end = endOf(*read);
    if (!end || !(yEnd <= read->data || end <= y.data))
      return false;
  }
  return true;
}

/// Runs the deferred convolution, if one is held: image by image together
/// with the next one (x, w, y; returns true, both done) where runsPaired,
/// else on its own now (returns false: the caller runs the next one).
bool runDeferred(const View5 &x, const View5 &w, const View5 &y,
                 const int64_t *scalars, const ConvEpilogue *epilogue) {
  if (!deferred.held)
    return false;
  deferred.held = false;
  const DeferredConv &d = deferred;
  if (!runsPaired(d, x, w, y, scalars)) {
    forward(d.x, d.w, d.y, d.scalars, &d.epilogue);
    return false;
  }
  const int64_t c = d.y.size[1], depth = d.y.size[2], h = d.y.size[3],
                wd = d.y.size[4];
  ember::parallelFor(0, x.size[0], 1, [&](int64_t lo, int64_t hi) {
    // Without a buffer, image n of d's output itself.
    float *image = pairedImage.get(c * depth * h * wd);
    for (int64_t n = lo; n < hi; ++n) {
      const View5 mid =
          image ? View5{image,
                        {1, c, depth, h, wd},
                        {c * depth * h * wd, depth * h * wd, h * wd, wd, 1}}
                : imageOf(d.y, n);
      ConvEpilogue first = d.epilogue;
      first.bias = imageOf(first.bias, n);
      first.residual = imageOf(first.residual, n);
      forward(imageOf(d.x, n), d.w, mid, d.scalars, &first);
      ConvEpilogue next = epilogue ? *epilogue : ConvEpilogue{};
      next.bias = imageOf(next.bias, n);
      next.residual = imageOf(next.residual, n);
      next.mean = imageOf(next.mean, n);
      next.scale = imageOf(next.scale, n);
      forward(mid, w, imageOf(y, n), scalars, epilogue ? &next : nullptr);
    }
  });
  return true;
}

} // namespace

extern "C" {

void ember_cpu_conv_f32(EMBER_TENSOR5_ARGS(float, x),
                        EMBER_TENSOR5_ARGS(float, w),
                        EMBER_TENSOR5_ARGS(float, y), EMBER_CONV_SCALARS) {
  SCALARS;
  if (runDeferred(VIEW5(x), VIEW5(w), VIEW5(y), scalars, nullptr))
    return;
  forward(VIEW5(x), VIEW5(w), VIEW5(y), scalars);
}

void ember_cpu_conv_fused_f32(EMBER_TENSOR5_ARGS(float, x),
                              EMBER_TENSOR5_ARGS(float, w),
                              EMBER_TENSOR5_ARGS(float, y),
                              EMBER_TENSOR5_ARGS(float, bias),
                              EMBER_TENSOR5_ARGS(float, residual),
                              EMBER_CONV_SCALARS, int64_t flags) {
  SCALARS;
  fusedConvCalls.fetch_add(1, std::memory_order_relaxed);
  ConvEpilogue epilogue = fusedEpilogue(flags, VIEW5(bias), VIEW5(residual));
  if (runDeferred(VIEW5(x), VIEW5(w), VIEW5(y), scalars, &epilogue))
    return;
  forward(VIEW5(x), VIEW5(w), VIEW5(y), scalars, &epilogue);
}

/// ember_cpu_conv_fused_f32 whose y only the next convolution call on this
/// thread reads, as its x (ember-fuse-conv-epilogue's deferIntoNext): it
/// runs with that call (runDeferred), image by image where runsPaired.
/// mobilenet_v3_small at batch 32: its stem writes 25.7 MB that the first
/// depthwise conv reads back, the first expanding 1x1 conv 28.9 MB; per
/// image (0.8-0.9 MB) they stay in L2. Stem + depthwise 4.0-4.4 -> 3.0-3.2
/// ms, expand + depthwise 4.2 -> 1.8 ms; the model 29.9 -> 24.5 ms (2
/// threads, loaded machine).
void ember_cpu_conv_fused_then_f32(EMBER_TENSOR5_ARGS(float, x),
                                   EMBER_TENSOR5_ARGS(float, w),
                                   EMBER_TENSOR5_ARGS(float, y),
                                   EMBER_TENSOR5_ARGS(float, bias),
                                   EMBER_TENSOR5_ARGS(float, residual),
                                   EMBER_CONV_SCALARS, int64_t flags) {
  SCALARS;
  fusedConvCalls.fetch_add(1, std::memory_order_relaxed);
  // One held at a time: an earlier one (never expected) runs now.
  runDeferred(VIEW5(x), VIEW5(w), VIEW5(y), scalars, nullptr);
  deferred.held = true;
  deferred.x = VIEW5(x);
  deferred.w = VIEW5(w);
  deferred.y = VIEW5(y);
  std::copy(scalars, scalars + 10, deferred.scalars);
  deferred.epilogue = fusedEpilogue(flags, VIEW5(bias), VIEW5(residual));
}

void ember_cpu_conv_fused_mean_f32(EMBER_TENSOR5_ARGS(float, x),
                                   EMBER_TENSOR5_ARGS(float, w),
                                   EMBER_TENSOR5_ARGS(float, y),
                                   EMBER_TENSOR5_ARGS(float, bias),
                                   EMBER_TENSOR5_ARGS(float, residual),
                                   EMBER_TENSOR5_ARGS(float, mean),
                                   EMBER_CONV_SCALARS, int64_t flags) {
  SCALARS;
  fusedConvCalls.fetch_add(1, std::memory_order_relaxed);
  ConvEpilogue epilogue = fusedEpilogue(flags, VIEW5(bias), VIEW5(residual));
  epilogue.mean = VIEW5(mean);
  fusedConvMeans.fetch_add(1, std::memory_order_relaxed);
  if (runDeferred(VIEW5(x), VIEW5(w), VIEW5(y), scalars, &epilogue))
    return;
  forward(VIEW5(x), VIEW5(w), VIEW5(y), scalars, &epilogue);
}

void ember_cpu_conv_fused_scaled_f32(EMBER_TENSOR5_ARGS(float, x),
                                     EMBER_TENSOR5_ARGS(float, w),
                                     EMBER_TENSOR5_ARGS(float, y),
                                     EMBER_TENSOR5_ARGS(float, bias),
                                     EMBER_TENSOR5_ARGS(float, residual),
                                     EMBER_TENSOR5_ARGS(float, scale),
                                     EMBER_CONV_SCALARS, int64_t flags) {
  SCALARS;
  fusedConvCalls.fetch_add(1, std::memory_order_relaxed);
  ConvEpilogue epilogue = fusedEpilogue(flags, VIEW5(bias), VIEW5(residual));
  epilogue.scale = VIEW5(scale);
  fusedConvScales.fetch_add(1, std::memory_order_relaxed);
  if (runDeferred(VIEW5(x), VIEW5(w), VIEW5(y), scalars, &epilogue))
    return;
  forward(VIEW5(x), VIEW5(w), VIEW5(y), scalars, &epilogue);
}

uint64_t ember_cpu_fused_conv_calls(void) {
  return fusedConvCalls.load(std::memory_order_relaxed);
}

uint64_t ember_cpu_fused_conv_means(void) {
  return fusedConvMeans.load(std::memory_order_relaxed);
}

uint64_t ember_cpu_fused_conv_scales(void) {
  return fusedConvScales.load(std::memory_order_relaxed);
}

void ember_cpu_conv_force_direct(int mode) {
  directMode().store(directModeOf(mode), std::memory_order_relaxed);
}

uint64_t ember_cpu_conv_direct_calls(void) {
  return directRuns.load(std::memory_order_relaxed);
}

void ember_cpu_conv_force_winograd(int mode) {
  winogradMode().store(directModeOf(mode), std::memory_order_relaxed);
}

uint64_t ember_cpu_conv_winograd_calls(void) {
  return winogradRuns.load(std::memory_order_relaxed);
}

// 2: wherever F(2x2, 3x3) applies and F(4x4, 3x3) is not taken.
void ember_cpu_conv_force_winograd_f2(int mode) {
  winogradF2Mode.store(directModeOf(mode), std::memory_order_relaxed);
}

uint64_t ember_cpu_conv_winograd_f2_calls(void) {
  return winogradF2Runs.load(std::memory_order_relaxed);
}

void ember_cpu_conv_backward_data_f32(EMBER_TENSOR5_ARGS(float, dy),
                                      EMBER_TENSOR5_ARGS(float, w),
                                      EMBER_TENSOR5_ARGS(float, dx),
                                      EMBER_CONV_SCALARS) {
  SCALARS;
  backwardData(VIEW5(dy), VIEW5(w), VIEW5(dx), scalars);
}

void ember_cpu_conv_backward_weight_f32(EMBER_TENSOR5_ARGS(float, x),
                                        EMBER_TENSOR5_ARGS(float, dy),
                                        EMBER_TENSOR5_ARGS(float, dw),
                                        EMBER_CONV_SCALARS) {
  SCALARS;
  backwardWeight(VIEW5(x), VIEW5(dy), VIEW5(dw), scalars);
}
}
