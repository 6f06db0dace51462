//===- CpuConvTest.cpp - the runtime's convolution kernels ----------------===//
//
// ember_cpu_conv[_backward_data|_backward_weight]_f32 against a naive
// convolution in double: 1-D, 2-D and 3-D as 5-D views, strides (the data
// gradient's col2im path) and unit strides (its flipped-forward path),
// padding, dilation, groups, more channels and pixels than one micro-tile
// and one pixel tile, a strided (non-contiguous) input view, the forward's
// phase planes (strides, many images) and its in-place input, one image
// split by output channels, pixel panels across images, the fused epilogue
// (bias, residual, through y's own layout and through transposed views) on each
// forward path, on every micro-kernel this CPU runs and on 1 and 2 threads; 1x1
// convolutions as one GEMM over the batch (panels across images, stride
// 2, the epilogue in the tile or through the GEMM's after it); an input
// scaled per image and channel (a squeeze-and-excitation scale); the direct
// forward that reads x in place (CpuConvDirect.cpp), forced on.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuConv.h"
#include "ember/Runtime/CpuGemm.h"
#include "ember/Runtime/GemmEpilogue.h"
#include "ember/Runtime/EmberGemm.h"
#include "ember/Runtime/Threads.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace {

struct Case {
  int64_t n, c, o, groups, in[3], k[3], stride[3], pad[3], dilation[3];
  bool transposedInput; // x given as a view with its last two dims swapped
  bool constantWeights = false; // w registered as constant (model-file) memory
};

#define VIEW5(ptr, size, stride)                                               \
  ptr, ptr, 0, size[0], size[1], size[2], size[3], size[4], stride[0],         \
      stride[1], stride[2], stride[3], stride[4]

void contiguousStrides(const int64_t *size, int64_t *stride) {
  stride[4] = 1;
  for (int d = 3; d >= 0; --d)
    stride[d] = stride[d + 1] * size[d + 1];
}

/// `tolerance`: of the largest magnitude each result has (at least 1).
void check(const Case &c, double tolerance = 1e-5) {
  int64_t out[3];
  for (int d = 0; d < 3; ++d)
    out[d] = (c.in[d] + 2 * c.pad[d] - c.dilation[d] * (c.k[d] - 1) - 1) /
                 c.stride[d] + 1;
  int64_t xs[5] = {c.n, c.c, c.in[0], c.in[1], c.in[2]};
  int64_t ws[5] = {c.o, c.c / c.groups, c.k[0], c.k[1], c.k[2]};
  int64_t ys[5] = {c.n, c.o, out[0], out[1], out[2]};
  int64_t xst[5], wst[5], yst[5];
  contiguousStrides(xs, xst);
  contiguousStrides(ws, wst);
  contiguousStrides(ys, yst);
  auto count = [](const int64_t *s) { return s[0] * s[1] * s[2] * s[3] * s[4]; };
  std::mt19937 gen(static_cast<unsigned>(c.c * 7 + c.in[2]));
  std::normal_distribution<float> normal;
  std::vector<float> x(count(xs)), w(count(ws)), g(count(ys));
  for (auto *v : {&x, &w, &g})
    for (float &e : *v)
      e = normal(gen);
  // The input's storage, and the strides the kernels read it with: swapped
  // last two dims for a transposed view ([.., W, H] storage).
  std::vector<float> xStorage = x;
  int64_t xView[5] = {xst[0], xst[1], xst[2], xst[3], xst[4]};
  if (c.transposedInput) {
    xView[3] = 1;
    xView[4] = c.in[1];
    for (int64_t a = 0; a < c.n * c.c * c.in[0]; ++a)
      for (int64_t h = 0; h < c.in[1]; ++h)
        for (int64_t v = 0; v < c.in[2]; ++v)
          xStorage[a * c.in[1] * c.in[2] + v * c.in[1] + h] =
              x[(a * c.in[1] + h) * c.in[2] + v];
  }
  // A squeeze-and-excitation scale per image and input channel in (0, 1)
  // (ember_cpu_conv_fused_scaled_f32), and y of the scaled input (rys).
  std::vector<float> scale(c.n * c.c);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (float &e : scale)
    e = unit(gen);
  std::vector<double> ry(g.size()), rys(g.size()), rdx(x.size()), rdw(w.size());
  int64_t og = c.o / c.groups, cg = c.c / c.groups;
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t o = 0; o < c.o; ++o)
      for (int64_t a = 0; a < out[0]; ++a)
        for (int64_t b = 0; b < out[1]; ++b)
          for (int64_t e = 0; e < out[2]; ++e)
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t ka = 0; ka < c.k[0]; ++ka)
                for (int64_t kb = 0; kb < c.k[1]; ++kb)
                  for (int64_t ke = 0; ke < c.k[2]; ++ke) {
                    int64_t ia = a * c.stride[0] + ka * c.dilation[0] - c.pad[0];
                    int64_t ib = b * c.stride[1] + kb * c.dilation[1] - c.pad[1];
                    int64_t ie = e * c.stride[2] + ke * c.dilation[2] - c.pad[2];
                    if (ia < 0 || ia >= c.in[0] || ib < 0 || ib >= c.in[1] ||
                        ie < 0 || ie >= c.in[2])
                      continue;
                    int64_t xi = (((n * c.c + o / og * cg + ci) * c.in[0] + ia) *
                                      c.in[1] + ib) * c.in[2] + ie;
                    int64_t wi = (((o * cg + ci) * c.k[0] + ka) * c.k[1] + kb) *
                                     c.k[2] + ke;
                    int64_t yi = (((n * c.o + o) * out[0] + a) * out[1] + b) *
                                     out[2] + e;
                    ry[yi] += double(x[xi]) * w[wi];
                    rys[yi] += double(x[xi]) *
                               scale[n * c.c + o / og * cg + ci] * w[wi];
                    rdx[xi] += double(g[yi]) * w[wi];
                    rdw[wi] += double(g[yi]) * x[xi];
                  }
  auto expectNear = [tolerance](const std::vector<float> &got,
                       const std::vector<double> &want, const char *what) {
    double scale = 1;
    for (double v : want)
      scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], tolerance * scale) << what << " at " << i;
  };
  std::vector<float> y(g.size(), NAN), dx(x.size(), NAN), dw(w.size(), NAN);
#define SCALARS                                                                \
  c.stride[0], c.stride[1], c.stride[2], c.pad[0], c.pad[1], c.pad[2],         \
      c.dilation[0], c.dilation[1], c.dilation[2], c.groups
  if (c.constantWeights) {
    // Packed once into the cache, then read from it.
    ember::gemm::registerConstantMemory(w.data(), w.size() * sizeof(float));
    ember_cpu_conv_f32(VIEW5(xStorage.data(), xs, xView),
                       VIEW5(w.data(), ws, wst), VIEW5(y.data(), ys, yst),
                       SCALARS);
    expectNear(y, ry, "y (packing the constant weights)");
    std::fill(y.begin(), y.end(), NAN);
  }
  ember_cpu_conv_f32(VIEW5(xStorage.data(), xs, xView), VIEW5(w.data(), ws, wst),
                     VIEW5(y.data(), ys, yst), SCALARS);
  if (c.constantWeights)
    ember::gemm::releaseConstantMemory(w.data());
  expectNear(y, ry, "y");
  // The fused forward (ember_cpu_conv_fused_f32): a bias per channel
  // (strides [0, 1, 0, 0, 0]) and a residual, added after relu, or before
  // hardswish (a ResNet block's order). The second writes y and reads the
  // residual through views with their last two dims swapped (the copy
  // path, and the epilogue by planes). Then bias and hardswish or
  // hardsigmoid with no residual (a MobileNet layer: the depthwise kernel
  // finishes each output in its register). Last, relu of the sum with the
  // residual through y's own layout (the AVX-512 forward's tiles finish it
  // in registers).
  std::vector<float> bias(c.o), residual(g.size());
  for (float &e : bias)
    e = normal(gen);
  for (float &e : residual)
    e = normal(gen);
  const int64_t bst[5] = {0, 1, 0, 0, 0};
  for (int variant : {0, 1, 2, 3, 4}) {
    bool first = variant == 1 || variant == 4;
    bool withResidual = variant < 2 || variant == 4;
    bool transposedOutput = variant == 1;
    int activation = variant == 0 || variant == 4 ? EMBER_GEMM_ACT_RELU
                     : variant == 3 ? EMBER_GEMM_ACT_HARDSIGMOID
                                    : EMBER_GEMM_ACT_HARDSWISH;
    std::vector<double> want(g.size());
    for (size_t i = 0; i < want.size(); ++i) {
      double pre = ry[i] + bias[i / (out[0] * out[1] * out[2]) % c.o];
      double r = withResidual ? residual[i] : 0.0;
      if (first)
        pre += r;
      double hardSigmoid = std::min(std::max(pre + 3, 0.0), 6.0) / 6;
      double act = activation == EMBER_GEMM_ACT_RELU ? std::max(pre, 0.0)
                   : activation == EMBER_GEMM_ACT_HARDSIGMOID
                       ? hardSigmoid
                       : pre * hardSigmoid;
      want[i] = first ? act : act + r;
    }
    std::vector<float> fused(g.size(), NAN), stored(g.size(), NAN);
    int64_t yView[5] = {yst[0], yst[1], yst[2], yst[3], yst[4]};
    std::vector<float> residualStorage = residual;
    if (transposedOutput) {
      yView[3] = 1;
      yView[4] = out[1];
      for (int64_t a = 0; a < c.n * c.o * out[0]; ++a)
        for (int64_t h = 0; h < out[1]; ++h)
          for (int64_t v = 0; v < out[2]; ++v)
            residualStorage[a * out[1] * out[2] + v * out[1] + h] =
                residual[(a * out[1] + h) * out[2] + v];
    }
    const int64_t flags = activation | EMBER_GEMM_FUSED_BIAS |
                          (withResidual ? EMBER_GEMM_FUSED_RESIDUAL : 0) |
                          (first ? EMBER_GEMM_FUSED_RESIDUAL_FIRST : 0);
    // y as written through yView, read back in y's own layout.
    auto readBack = [&] {
      for (int64_t a = 0; a < c.n * c.o * out[0]; ++a)
        for (int64_t h = 0; h < out[1]; ++h)
          for (int64_t v = 0; v < out[2]; ++v)
            fused[(a * out[1] + h) * out[2] + v] =
                stored[a * out[1] * out[2] + h * yView[3] + v * yView[4]];
    };
    ember_cpu_conv_fused_f32(
        VIEW5(xStorage.data(), xs, xView), VIEW5(w.data(), ws, wst),
        VIEW5(stored.data(), ys, yView), VIEW5(bias.data(), ys, bst),
        VIEW5(residualStorage.data(), ys, yView), SCALARS, flags);
    readBack();
    const char *names[] = {"fused relu + residual",
                           "fused hardswish of the sum with the residual",
                           "fused hardswish", "fused hardsigmoid",
                           "fused relu of the sum with the residual"};
    expectNear(fused, want, names[variant]);
    // The same with the plane means (ember_cpu_conv_fused_mean_f32, a
    // squeeze-and-excitation pool): summed in registers by the direct
    // depthwise kernel when it finishes the plane, else after it.
    const int64_t pixels = out[0] * out[1] * out[2];
    std::vector<float> means(c.n * c.o, NAN);
    std::vector<double> wantMeans(c.n * c.o, 0.0);
    for (size_t i = 0; i < want.size(); ++i)
      wantMeans[i / pixels] += want[i] / pixels;
    const int64_t meanStrides[5] = {c.o, 1, 0, 0, 0};
    std::fill(stored.begin(), stored.end(), NAN);
    ember_cpu_conv_fused_mean_f32(
        VIEW5(xStorage.data(), xs, xView), VIEW5(w.data(), ws, wst),
        VIEW5(stored.data(), ys, yView), VIEW5(bias.data(), ys, bst),
        VIEW5(residualStorage.data(), ys, yView),
        VIEW5(means.data(), ys, meanStrides), SCALARS, flags);
    readBack();
    expectNear(fused, want, names[variant]);
    expectNear(means, wantMeans, "plane means");
  }
  // The scaled input (ember_cpu_conv_fused_scaled_f32: a squeeze-and-
  // excitation scale folded into the convolution that reads it, strides
  // [C, 1, 0, 0, 0]): 1x1 convolutions scale x while they pack it, the
  // others read a scaled copy. With relu of the sum with the bias, then the
  // residual; and with no epilogue (flags 0).
  const int64_t sst[5] = {c.c, 1, 0, 0, 0};
  for (bool withEpilogue : {true, false}) {
    std::vector<double> want(g.size());
    for (size_t i = 0; i < want.size(); ++i)
      want[i] =
          withEpilogue
              ? std::max(rys[i] + bias[i / (out[0] * out[1] * out[2]) % c.o],
                         0.0) +
                    residual[i]
              : rys[i];
    std::vector<float> scaled(g.size(), NAN);
    ember_cpu_conv_fused_scaled_f32(
        VIEW5(xStorage.data(), xs, xView), VIEW5(w.data(), ws, wst),
        VIEW5(scaled.data(), ys, yst), VIEW5(bias.data(), ys, bst),
        VIEW5(residual.data(), ys, yst), VIEW5(scale.data(), xs, sst), SCALARS,
        withEpilogue ? EMBER_GEMM_ACT_RELU | EMBER_GEMM_FUSED_BIAS |
                           EMBER_GEMM_FUSED_RESIDUAL
                     : 0);
    expectNear(scaled, want,
               withEpilogue ? "scaled input, relu + residual" : "scaled input");
  }
  ember_cpu_conv_backward_data_f32(VIEW5(g.data(), ys, yst),
                                   VIEW5(w.data(), ws, wst),
                                   VIEW5(dx.data(), xs, xst), SCALARS);
  expectNear(dx, rdx, "dx");
  ember_cpu_conv_backward_weight_f32(VIEW5(xStorage.data(), xs, xView),
                                     VIEW5(g.data(), ys, yst),
                                     VIEW5(dw.data(), ws, wst), SCALARS);
  expectNear(dw, rdw, "dw");
#undef SCALARS
}

const Case kCases[] = {
    // 1-D: k 3, padding 1.
    {2, 3, 4, 1, {1, 1, 11}, {1, 1, 3}, {1, 1, 1}, {0, 0, 1}, {1, 1, 1}, false},
    // 2-D: strides, dilation, groups (col2im path).
    {2, 4, 6, 2, {1, 9, 7}, {1, 3, 2}, {1, 2, 1}, {0, 1, 2}, {1, 2, 1}, false},
    // Past one micro-tile of channels and one pixel tile; groups.
    {3, 20, 70, 2, {1, 23, 19}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    // 3-D, stride 2.
    {2, 2, 3, 1, {5, 6, 4}, {3, 2, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, false},
    // Large kernel, stride along H and W.
    {2, 3, 5, 1, {1, 13, 11}, {1, 5, 5}, {1, 3, 2}, {0, 2, 0}, {1, 1, 1}, false},
    // Pointwise with many output channels and long rows.
    {1, 7, 300, 1, {1, 5, 70}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
    // A transposed input view.
    {2, 3, 5, 1, {1, 6, 10}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, true},
    // Depthwise (the direct kernel): 3x3 stride 1 past 16 columns and 4
    // rows; 5x5 stride 2; a channel multiplier with dilation; 1-D; a
    // transposed input view with stride 3 and no padding.
    {2, 5, 5, 5, {1, 11, 37}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 4, 4, 4, {1, 14, 13}, {1, 5, 5}, {1, 2, 2}, {0, 2, 2}, {1, 1, 1}, false},
    {2, 3, 6, 3, {1, 9, 10}, {1, 3, 3}, {1, 2, 1}, {0, 2, 1}, {1, 2, 2}, false},
    {2, 4, 4, 4, {1, 1, 19}, {1, 1, 3}, {1, 1, 2}, {0, 0, 1}, {1, 1, 1}, false},
    {1, 3, 3, 3, {1, 10, 17}, {1, 3, 2}, {1, 3, 3}, {0, 0, 0}, {1, 1, 1}, true},
    // Small stride-1 planes as one flat row (several image rows per
    // vector): 7x7 with 5x5 taps; 5x9, 3x3; fewer output rows than input
    // rows (no padding along H).
    {2, 6, 6, 6, {1, 7, 7}, {1, 5, 5}, {1, 1, 1}, {0, 2, 2}, {1, 1, 1}, false},
    {1, 3, 3, 3, {1, 5, 9}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    {2, 4, 4, 4, {1, 8, 6}, {1, 3, 3}, {1, 1, 1}, {0, 0, 1}, {1, 1, 1}, false},
    // Stride 2 from planes twice the output's size through the flat row
    // (4 phase planes): 14x14 into 7x7 with 5x5 taps (MobileNet's), an odd
    // plane count (pairs and one left); 3x3 at 16x16 into 8x8 (one load a
    // row); 5x3 taps at 20x12 into 10x6 (taps not unrolled).
    {2, 5, 5, 5, {1, 14, 14}, {1, 5, 5}, {1, 2, 2}, {0, 2, 2}, {1, 1, 1}, false},
    {1, 3, 3, 3, {1, 16, 16}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 4, 4, 4, {1, 20, 12}, {1, 5, 3}, {1, 2, 2}, {0, 2, 1}, {1, 1, 1}, false},
    // Outputs 7 columns wide in blocks of 16 planes (channel-blocked,
    // transposed in and out), the rest in pairs and one: 7x7 with 5x5 taps
    // (34 planes: 2 blocks, one pair), 3x3 stride 2 from 14x14 with the
    // blocks across images (3 x 6 planes), 5x5 stride 2 (20 planes); 5x7
    // with 3x3 taps.
    {2, 17, 17, 17, {1, 7, 7}, {1, 5, 5}, {1, 1, 1}, {0, 2, 2}, {1, 1, 1}, false},
    {3, 6, 6, 6, {1, 14, 14}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 20, 20, 20, {1, 14, 14}, {1, 5, 5}, {1, 2, 2}, {0, 2, 2}, {1, 1, 1}, false},
    {1, 16, 16, 16, {1, 5, 7}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    // 3x3 stride 2 (each input row split into even and odd columns once):
    // 30x40 into 15x20 (two column vectors, row blocks of 8 and 7); odd
    // sizes 13x35 into 7x18; no padding, 9x33 into 4x16.
    {1, 3, 3, 3, {1, 30, 40}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {2, 2, 2, 2, {1, 13, 35}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 2, 2, 2, {1, 9, 33}, {1, 3, 3}, {1, 2, 2}, {0, 0, 0}, {1, 1, 1}, false},
    // One image of 7x7 pixels (one tile) on 2 threads: split into smaller
    // pixel tiles.
    {1, 6, 40, 1, {1, 7, 7}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    // One image of several tiles on 2 threads, each taking a contiguous
    // half of them: 4 tiles of 30x30 (the grid 32 wide); 18 of 64x64.
    {1, 6, 20, 1, {1, 30, 30}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 3, 16, 1, {1, 64, 64}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    // One small image as the transposed GEMM (pixels as the AVX-512 tile's
    // rows, channels as its columns, each thread a share of at least 32
    // channels; on one thread the cases below with 45 x 9 and 9 x 7 rows
    // take it too): 16x16 (256 pixels: rows of 16 split across panels of
    // 14) with two k blocks and constant weights; 6x5 (panels of three
    // image rows) with 33 channels (a last panel of one channel); dilation
    // 2 with padding 2 x 1; a transposed input view.
    {1, 40, 64, 1, {1, 16, 16}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1},
     false, true},
    {1, 12, 33, 1, {1, 6, 5}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 10, 72, 1, {1, 9, 8}, {1, 3, 3}, {1, 1, 1}, {0, 2, 1}, {1, 2, 2}, false},
    {1, 7, 64, 1, {1, 8, 9}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, true},
    // The forward's shifted input: 3x3 stride 2 (four phase planes) over
    // more images than two per thread (each thread builds its images'
    // planes); 3x3 unpadded with unit strides (x read in place, a grid
    // wider than the output rows, several panels per row).
    {5, 6, 20, 1, {1, 12, 13}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {2, 5, 30, 1, {1, 9, 40}, {1, 3, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
    // Stride-2 phases gathered 16 columns at a time (rows of 75 and 70:
    // whole vectors and a scalar tail) under a 3x3 whose 270 im2col rows
    // span two k blocks of the AVX-512 tile, and a 7x7 stem.
    {2, 30, 20, 1, {1, 9, 75}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 3, 16, 1, {1, 11, 70}, {1, 7, 7}, {1, 2, 2}, {0, 3, 3}, {1, 1, 1}, false},
    // 1x1 on one pixel (a squeeze-excitation FC): one GEMM over the batch;
    // and a strided one that reads pixel 0 of a 3x4 input; weights in
    // constant memory (packed once, then from the cache).
    {5, 70, 19, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
    {3, 9, 13, 1, {1, 3, 4}, {1, 1, 1}, {1, 4, 5}, {0, 0, 0}, {1, 1, 1}, true},
    {4, 40, 100, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false,
     true},
    // The same at batch 1 (a row times the weights, split over the threads
    // by output channel, the epilogue per chunk): large enough to split,
    // from constant memory, and pixel 0 of a strided input.
    {1, 576, 144, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
    {1, 40, 100, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false,
     true},
    {1, 9, 13, 1, {1, 3, 4}, {1, 1, 1}, {1, 4, 5}, {0, 0, 0}, {1, 1, 1}, true},
    // One image of one tile on 2 threads (the late ResNet layers at batch
    // 1): the threads split the output channels over panels packed once;
    // odd channel counts; 3x3 with unit strides (a grid wider than the
    // rows, more im2col rows than one k block: 45 x 9), stride 2 (phase
    // planes), 1x1 (x in place, the grid y's own).
    {1, 45, 70, 1, {1, 9, 11}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 9, 61, 1, {1, 14, 13}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 30, 100, 1, {1, 7, 7}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false,
     true},
    // Several small images (forwardAcrossImages): panels of output pixels
    // that span two images (7x7: 49 a image), 360 im2col rows (two k
    // blocks), 70 channels (a 14-row edge, row blocks on 2 threads); 3x3
    // stride 2 (phase planes) into 7x7.
    {2, 40, 70, 1, {1, 7, 7}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false,
     true},
    {4, 8, 30, 1, {1, 14, 14}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1},
     false},
    // Weights past 1 MiB: the AVX-512 tiles that prefetch A, full and edge.
    {2, 420, 70, 1, {1, 4, 4}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1},
     false},
    // 1x1 as one GEMM over the batch's pixels (pointwiseForward): 7x7
    // planes whose 32-column panels span two images, 300 channels (two k
    // blocks of the AVX-512 tile), 30 outputs (a last panel of 2 rows);
    // stride 2 (pixels gathered into the panels) with odd rows, 56 pixels
    // a plane; stride 2 along W only; 5x6 planes (panels across more than
    // two images: the buffer); 14x14 planes (tiled image by image, a last
    // panel of 4 columns) with 72 outputs.
    {3, 300, 30, 1, {1, 7, 7}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false,
     true},
    {2, 16, 40, 1, {1, 13, 15}, {1, 1, 1}, {1, 2, 2}, {0, 0, 0}, {1, 1, 1}, false},
    {2, 5, 9, 1, {1, 6, 20}, {1, 1, 1}, {1, 1, 2}, {0, 0, 0}, {1, 1, 1}, false},
    {4, 20, 19, 1, {1, 9, 11}, {1, 1, 1}, {1, 2, 2}, {0, 0, 0}, {1, 1, 1}, false},
    {3, 24, 72, 1, {1, 14, 14}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
    // A short k (16 channels, a mobilenet expansion's): tiles up to 512
    // pixels wide, each gone through row block by row block (40 outputs:
    // 14, 14, 12), their panels across images (20x21: 420 a plane).
    {3, 16, 40, 1, {1, 20, 21}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
    // Unit strides with padding, x read in place with the padding masked
    // (AVX-512): padding along H only (outputs narrower than x's rows:
    // the dropped columns); dilated 3x5 taps; more padding than x's rows
    // hold (OW > W: the phase copy instead); rows of 3 (too many short
    // rows per panel for stores through runs), and of 4 with outputs of
    // 2 (the tile copied out); a batch of 2-row images.
    {2, 5, 17, 1, {1, 10, 21}, {1, 3, 3}, {1, 1, 1}, {0, 1, 0}, {1, 1, 1}, false},
    {1, 4, 15, 1, {1, 12, 9}, {1, 3, 5}, {1, 1, 1}, {0, 2, 4}, {1, 2, 2}, false},
    {2, 3, 8, 1, {1, 6, 5}, {1, 3, 3}, {1, 1, 1}, {0, 2, 2}, {1, 1, 1}, false},
    {2, 6, 9, 1, {1, 4, 3}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 3, 5, 1, {1, 5, 4}, {1, 3, 3}, {1, 1, 1}, {0, 1, 0}, {1, 1, 1}, false},
    {5, 16, 29, 1, {1, 2, 40}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
    // A few input channels (the direct stem kernel, CpuConvStem.cpp, on
    // AVX-512): an RGB 3x3 stride-2 stem whose rows end inside a vector
    // (19 and 40 outputs); 24 outputs (a second block of 16, half empty);
    // strides 2x1 over one channel; 2x3 taps with 2 rows of padding; rows
    // of 7 and 4 vectors (pixel blocks 3 + 2 + 2 and 2 + 2) over 16 and
    // 12 outputs.
    {2, 3, 16, 1, {1, 23, 37}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 3, 16, 1, {1, 5, 224}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 3, 12, 1, {1, 4, 120}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
    {1, 3, 24, 1, {1, 9, 80}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false,
     true},
    {3, 1, 7, 1, {1, 11, 18}, {1, 3, 3}, {1, 2, 1}, {0, 1, 0}, {1, 1, 1}, false},
    {1, 4, 32, 1, {1, 5, 33}, {1, 2, 3}, {1, 1, 2}, {0, 2, 1}, {1, 1, 1}, false},
    // Windows of more than 9 taps (CpuConvStemTile.cpp): resnet18's
    // 7x7 stride-2 stem over 64 outputs into 19 rows of 30 (two tiles of
    // 14 and one of 2), from constant memory; 5x5 at unit strides with
    // padding 2 over 2 channels into 36 outputs (a second block of 4);
    // 4x4 at strides 3x1 into rows of 16 (exactly one transpose block).
    {2, 3, 64, 1, {1, 38, 60}, {1, 7, 7}, {1, 2, 2}, {0, 3, 3}, {1, 1, 1}, false,
     true},
    {1, 2, 36, 1, {1, 9, 20}, {1, 5, 5}, {1, 1, 1}, {0, 2, 2}, {1, 1, 1}, false},
    {2, 4, 33, 1, {1, 13, 19}, {1, 4, 4}, {1, 3, 1}, {0, 1, 0}, {1, 1, 1}, false},
};

TEST(CpuConv, MatchesNaiveOnEveryKernelAndThreadCount) {
  for (auto kernel : {ember::gemm::Kernel::Avx512, ember::gemm::Kernel::Avx2,
                      ember::gemm::Kernel::Portable}) {
    if (!ember::gemm::forceKernel(kernel))
      continue;
    for (int threads : {1, 2}) {
      ember::setNumThreads(threads);
      for (const Case &c : kCases) {
        SCOPED_TRACE(::testing::Message()
                     << ember::gemm::kernelName() << " threads " << threads
                     << " case c=" << c.c << " in=" << c.in[1] << "x"
                     << c.in[2]);
        check(c);
        if (::testing::Test::HasFatalFailure())
          return;
      }
    }
  }
  ember::gemm::forceKernel(ember::gemm::Kernel::Detect);
}

// The direct forward (x read in place, runtime/lib/CpuConvDirect.cpp),
// forced on every case it takes, on 1 and 2 threads: 3x3 stride 1 with rows
// cut into uneven tiles (31 = 11 + 10 + 10) and 40 output channels (a last
// block of 8 of the tile's 32); stride 2; a 7x7 stem (pad 3 at stride 2:
// the first output column a tile of its own); rows of 7 (tiles of 16 x 4
// channels, 70 = 64 + 6) with constant weights, and stride 2 into 7x7;
// padding wider than x's rows (pixels out on both sides); stride 3 along H
// with a 3x5 window; rows longer than two tiles; one-column outputs. All
// cases have at least 5 input channels (the stem kernel, CpuConvStem.cpp,
// takes fewer first). The fused relu (+ residual, before or after it) runs
// in the tile's registers, hardswish / hardsigmoid by planes after it.
// One image of 4 channel blocks whose weights fit 3 to a chunk: at batch 1
// the tasks take chunks of 2 blocks and bands of equal rows (directSplit).
TEST(CpuConv, DirectPathMatchesNaive) {
  if (!ember::gemm::forceKernel(ember::gemm::Kernel::Avx512))
    GTEST_SKIP() << "no AVX-512: the direct path does not run";
  const Case cases[] = {
      {2, 5, 40, 1, {1, 9, 31}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
      {3, 7, 32, 1, {1, 11, 30}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
      {1, 5, 20, 1, {1, 13, 22}, {1, 7, 7}, {1, 2, 2}, {0, 3, 3}, {1, 1, 1}, false},
      {2, 9, 70, 1, {1, 7, 7}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false,
       true},
      {1, 10, 64, 1, {1, 14, 14}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1},
       false},
      {2, 5, 17, 1, {1, 5, 6}, {1, 3, 3}, {1, 1, 1}, {0, 2, 2}, {1, 1, 1}, false},
      {1, 6, 33, 1, {1, 10, 17}, {1, 3, 5}, {1, 3, 2}, {0, 1, 2}, {1, 1, 1}, false},
      {2, 6, 16, 1, {1, 3, 47}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
      {2, 6, 24, 1, {1, 6, 1}, {1, 5, 3}, {1, 1, 1}, {0, 2, 1}, {1, 1, 1}, false},
      {1, 48, 128, 1, {1, 5, 9}, {1, 5, 5}, {1, 1, 1}, {0, 2, 2}, {1, 1, 1},
       false},
  };
  ember_cpu_conv_force_direct(2); // always, where it applies
  for (int threads : {1, 2}) {
    ember::setNumThreads(threads);
    for (const Case &c : cases) {
      SCOPED_TRACE(::testing::Message()
                   << "direct threads " << threads << " case c=" << c.c
                   << " o=" << c.o << " in=" << c.in[1] << "x" << c.in[2]
                   << " k=" << c.k[1] << "x" << c.k[2]);
      const uint64_t before = ember_cpu_conv_direct_calls();
      check(c);
      // At least the plain forward and the 8 fused ones into y's own layout
      // (4 with plane means), one more for constant weights; the unit-stride
      // data gradient's flipped forward may add more.
      EXPECT_GE(ember_cpu_conv_direct_calls() - before,
                9u + (c.constantWeights ? 1u : 0u));
      if (::testing::Test::HasFatalFailure())
        break;
    }
  }
  ember_cpu_conv_force_direct(0);
  ember::gemm::forceKernel(ember::gemm::Kernel::Detect);
}

// The direct path's choice left to the dispatch (directWins) on rows of 7
// at batch 1: taken at stride 2 (resnet18's l4 first conv), not at stride 1
// (l4's other convs stay on the transposed GEMM).
TEST(CpuConv, DirectPathChosenForStride2RowsOf7AtBatch1) {
  if (!ember::gemm::forceKernel(ember::gemm::Kernel::Avx512))
    GTEST_SKIP() << "no AVX-512: the direct path does not run";
  ember_cpu_conv_force_direct(0);
  const Case stride2 = {1, 16, 64, 1, {1, 14, 14}, {1, 3, 3}, {1, 2, 2},
                        {0, 1, 1}, {1, 1, 1}, false};
  const Case stride1 = {1, 16, 64, 1, {1, 7, 7}, {1, 3, 3}, {1, 1, 1},
                        {0, 1, 1}, {1, 1, 1}, false};
  uint64_t before = ember_cpu_conv_direct_calls();
  check(stride2);
  EXPECT_GE(ember_cpu_conv_direct_calls() - before, 9u);
  before = ember_cpu_conv_direct_calls();
  check(stride1);
  EXPECT_EQ(ember_cpu_conv_direct_calls() - before, 0u);
  ember::gemm::forceKernel(ember::gemm::Kernel::Detect);
}

// The Winograd F(4x4, 3x3) forward (CpuConvWinograd.cpp) forced on every
// 3x3 stride-1 case, on 1 and 2 threads: output sides not multiples of 4
// (partial tiles: 9x31, 7x7, 5x6) and wider than 16 tiles (a tile row of
// two vectors: 3x70), padding 0 and 1 (and 2: whole tiles in the padding),
// channel counts not multiples of 16 or 8 (5 in, 40 and 70 out; at least 5
// in: the stem kernel takes fewer first), batch 1 to 3 (tile rows of
// several images in one block), the fused relu, bias and residual (before
// or after relu) at the store, constant weights; 160
// input channels (the GEMMs point by point over all output channels, the
// others 16 output channels at a time through every point).
TEST(CpuConv, WinogradPathMatchesNaive) {
  if (!ember::gemm::forceKernel(ember::gemm::Kernel::Avx512))
    GTEST_SKIP() << "no AVX-512: the Winograd path does not run";
  const Case cases[] = {
      {2, 5, 40, 1, {1, 9, 31}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
      {3, 9, 70, 1, {1, 7, 7}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false,
       true},
      {1, 17, 16, 1, {1, 10, 12}, {1, 3, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
      {2, 6, 24, 1, {1, 5, 6}, {1, 3, 3}, {1, 1, 1}, {0, 2, 2}, {1, 1, 1}, false},
      {1, 5, 8, 1, {1, 3, 70}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
      {1, 160, 24, 1, {1, 6, 9}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
  };
  ember_cpu_conv_force_winograd(2); // always, where it applies
  for (int threads : {1, 2}) {
    ember::setNumThreads(threads);
    for (const Case &c : cases) {
      SCOPED_TRACE(::testing::Message()
                   << "winograd threads " << threads << " case n=" << c.n
                   << " c=" << c.c << " o=" << c.o << " in=" << c.in[1] << "x"
                   << c.in[2] << " pad=" << c.pad[1]);
      const uint64_t before = ember_cpu_conv_winograd_calls();
      // F(4x4, 3x3) rounds more than a direct sum (its transforms scale
      // terms by up to 8 and 1/24 before they cancel): 0.6-1.4e-5 of the
      // largest output at 64-512 channels of resnet18's shapes, 0.2-2e-6
      // for the other paths; here one hardsigmoid output (scale 1) missed
      // 1e-5 by 5%.
      check(c, 4e-5);
      // The plain forward and the 8 fused ones into y's own layout (4 with
      // plane means), one more for constant weights.
      EXPECT_GE(ember_cpu_conv_winograd_calls() - before,
                9u + (c.constantWeights ? 1u : 0u));
      if (::testing::Test::HasFatalFailure())
        break;
    }
  }
  ember_cpu_conv_force_winograd(0);
  ember::gemm::forceKernel(ember::gemm::Kernel::Detect);
}

// The Winograd F(2x2, 3x3) forward (CpuConvWinograd.cpp) forced on every
// 3x3 stride-1 case (F(4x4, 3x3) off), on 1 and 2 threads: 7x7 (16 tiles,
// one vector: the 16-row GEMM tile) and 14x14 (49: a 48-tile GEMM tile and
// one tile through multiplyColumns), 20 tiles (a tail of 4), 2 and 3 tiles
// (columns only), a row of 70 (80 lanes: 48 + 32, no columns), odd output
// sides (partial tiles), padding 0, 1 and 2, output channels not multiples
// of 16 (40, 70,
// 33: the threads' chunks of channels end inside a pack), batch 2 and 3,
// the fused epilogues at the scatter, constant weights.
TEST(CpuConv, WinogradF2PathMatchesNaive) {
  if (!ember::gemm::forceKernel(ember::gemm::Kernel::Avx512))
    GTEST_SKIP() << "no AVX-512: the Winograd path does not run";
  const Case cases[] = {
      {1, 9, 40, 1, {1, 7, 7}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
      {1, 17, 70, 1, {1, 14, 14}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1},
       false, true},
      {2, 6, 24, 1, {1, 5, 6}, {1, 3, 3}, {1, 1, 1}, {0, 2, 2}, {1, 1, 1}, false},
      {3, 5, 16, 1, {1, 10, 12}, {1, 3, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
      {1, 8, 33, 1, {1, 3, 70}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}, false},
      {1, 7, 20, 1, {1, 4, 6}, {1, 3, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
      {2, 7, 20, 1, {1, 8, 4}, {1, 3, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false},
  };
  ember_cpu_conv_force_winograd(1);    // F(4x4, 3x3) never
  ember_cpu_conv_force_winograd_f2(2); // F(2x2, 3x3) wherever it applies
  for (int threads : {1, 2}) {
    ember::setNumThreads(threads);
    for (const Case &c : cases) {
      SCOPED_TRACE(::testing::Message()
                   << "winograd f2 threads " << threads << " case n=" << c.n
                   << " c=" << c.c << " o=" << c.o << " in=" << c.in[1] << "x"
                   << c.in[2] << " pad=" << c.pad[1]);
      const uint64_t before = ember_cpu_conv_winograd_f2_calls();
      check(c, 1e-5);
      // The plain forward and the 8 fused ones into y's own layout (4 with
      // plane means), one more for constant weights.
      EXPECT_GE(ember_cpu_conv_winograd_f2_calls() - before,
                9u + (c.constantWeights ? 1u : 0u));
      if (::testing::Test::HasFatalFailure())
        break;
    }
  }
  ember_cpu_conv_force_winograd_f2(0);
  ember_cpu_conv_force_winograd(0);
  ember::gemm::forceKernel(ember::gemm::Kernel::Detect);
}

// 1x1 convolutions (one GEMM over the batch's pixels) with the epilogues
// its tiles do not apply in registers: SiLU, a bias that varies per pixel
// (y's shape) and a residual, through the GEMM's epilogue after the
// product; 7x7 planes across images and stride 2, on 1 and 2 threads.
TEST(CpuConv, PointwiseWithTheGemmEpilogue) {
  struct Shape {
    int64_t n, c, o, h, w, stride;
  };
  for (const Shape &sh : {Shape{3, 20, 30, 7, 7, 1}, Shape{2, 16, 17, 13, 15, 2}})
    for (int threads : {1, 2}) {
      ember::setNumThreads(threads);
      const int64_t oh = (sh.h - 1) / sh.stride + 1;
      const int64_t ow = (sh.w - 1) / sh.stride + 1;
      int64_t xs[5] = {sh.n, sh.c, 1, sh.h, sh.w};
      int64_t ws[5] = {sh.o, sh.c, 1, 1, 1};
      int64_t ys[5] = {sh.n, sh.o, 1, oh, ow};
      int64_t xst[5], wst[5], yst[5];
      contiguousStrides(xs, xst);
      contiguousStrides(ws, wst);
      contiguousStrides(ys, yst);
      const int64_t plane = oh * ow;
      std::mt19937 gen(7);
      std::normal_distribution<float> normal;
      std::vector<float> x(sh.n * sh.c * sh.h * sh.w), w(sh.o * sh.c),
          bias(sh.o * plane), residual(sh.n * sh.o * plane),
          y(sh.n * sh.o * plane, NAN);
      for (auto *v : {&x, &w, &bias, &residual})
        for (float &e : *v)
          e = normal(gen);
      // The bias: one value per (channel, pixel), the same for every image.
      const int64_t bst[5] = {0, plane, plane, ow, 1};
      ember_cpu_conv_fused_f32(
          VIEW5(x.data(), xs, xst), VIEW5(w.data(), ws, wst),
          VIEW5(y.data(), ys, yst), VIEW5(bias.data(), ys, bst),
          VIEW5(residual.data(), ys, yst), 1, sh.stride, sh.stride, 0, 0, 0,
          1, 1, 1, 1,
          EMBER_GEMM_ACT_SILU | EMBER_GEMM_FUSED_BIAS |
              EMBER_GEMM_FUSED_RESIDUAL);
      for (int64_t n = 0; n < sh.n; ++n)
        for (int64_t o = 0; o < sh.o; ++o)
          for (int64_t p = 0; p < plane; ++p) {
            double sum = bias[o * plane + p];
            for (int64_t ci = 0; ci < sh.c; ++ci)
              sum += double(w[o * sh.c + ci]) *
                     x[((n * sh.c + ci) * sh.h + p / ow * sh.stride) * sh.w +
                       p % ow * sh.stride];
            const int64_t i = (n * sh.o + o) * plane + p;
            const double want = sum / (1 + std::exp(-sum)) + residual[i];
            ASSERT_NEAR(y[i], want, 1e-4 * std::max(1.0, std::fabs(want)))
                << "image " << n << " channel " << o << " pixel " << p
                << " stride " << sh.stride << " threads " << threads;
          }
    }
}

// The direct stem kernel's epilogue in registers (CpuConvStem.cpp): a
// bias of one value per image and channel and each activation it applies,
// 3 -> 16 and 3 -> 20 channels, 3x3 stride 2 (the row kernel); 3 -> 64 and
// 3 -> 40 channels, 7x7 stride 2 pad 3 into rows of 23 (CpuConvStemTile.cpp
// for none and relu: a last tile of 9 pixels, a last block of 8 channels;
// the GEMM path for the others), written into the interior of a buffer
// padded by one (the max pool's input after a ResNet stem), whose border
// must stay untouched; on 1 and 2 threads.
TEST(CpuConv, StemWithBiasAndActivation) {
  struct Shape {
    int64_t o, h, wd, k, pad;
  };
  const Shape shapes[] = {{16, 21, 34, 3, 1}, {20, 21, 34, 3, 1},
                          {64, 19, 45, 7, 3}, {40, 19, 45, 7, 3}};
  const int64_t n = 2, c = 3;
  for (const Shape &sh : shapes)
    for (int activation :
         {EMBER_GEMM_ACT_NONE, EMBER_GEMM_ACT_RELU, EMBER_GEMM_ACT_HARDSIGMOID,
          EMBER_GEMM_ACT_HARDSWISH})
      for (int threads : {1, 2}) {
        ember::setNumThreads(threads);
        const int64_t o = sh.o, h = sh.h, wd = sh.wd, k = sh.k;
        const int64_t oh = (h + 2 * sh.pad - k) / 2 + 1,
                      ow = (wd + 2 * sh.pad - k) / 2 + 1;
        const int64_t ph = oh + 2, pw = ow + 2; // the padded buffer
        int64_t xs[5] = {n, c, 1, h, wd}, ws[5] = {o, c, 1, k, k},
                ys[5] = {n, o, 1, oh, ow};
        int64_t xst[5], wst[5];
        contiguousStrides(xs, xst);
        contiguousStrides(ws, wst);
        const int64_t yst[5] = {o * ph * pw, ph * pw, ph * pw, pw, 1};
        std::mt19937 gen(11);
        std::normal_distribution<float> normal;
        std::vector<float> x(n * c * h * wd), w(o * c * k * k), bias(o),
            padded(n * o * ph * pw, -7.0f);
        for (auto *v : {&x, &w, &bias})
          for (float &e : *v)
            e = normal(gen);
        float *y = padded.data() + pw + 1;
        const int64_t bst[5] = {0, 1, 0, 0, 0}; // bias[o] for every pixel
        ember_cpu_conv_fused_f32(
            VIEW5(x.data(), xs, xst), VIEW5(w.data(), ws, wst),
            VIEW5(y, ys, yst), VIEW5(bias.data(), ys, bst), VIEW5(y, ys, yst),
            1, 2, 2, 0, sh.pad, sh.pad, 1, 1, 1, 1,
            activation | EMBER_GEMM_FUSED_BIAS);
        for (int64_t i = 0; i < n * o * ph * pw; ++i) {
          const int64_t e = i % pw - 1, b = i / pw % ph - 1,
                        oc = i / (pw * ph) % o, im = i / (pw * ph * o);
          if (e < 0 || e >= ow || b < 0 || b >= oh) {
            ASSERT_EQ(padded[i], -7.0f) << "border element " << i;
            continue;
          }
          double sum = bias[oc];
          for (int64_t ci = 0; ci < c; ++ci)
            for (int64_t kh = 0; kh < k; ++kh)
              for (int64_t kw = 0; kw < k; ++kw) {
                const int64_t ih = b * 2 + kh - sh.pad,
                              iw = e * 2 + kw - sh.pad;
                if (ih >= 0 && ih < h && iw >= 0 && iw < wd)
                  sum += double(w[((oc * c + ci) * k + kh) * k + kw]) *
                         x[((im * c + ci) * h + ih) * wd + iw];
              }
          const double sigmoid = std::clamp(sum + 3, 0.0, 6.0) / 6;
          const double want =
              activation == EMBER_GEMM_ACT_RELU         ? std::max(sum, 0.0)
              : activation == EMBER_GEMM_ACT_HARDSIGMOID ? sigmoid
              : activation == EMBER_GEMM_ACT_HARDSWISH   ? sum * sigmoid
                                                         : sum;
          ASSERT_NEAR(padded[i], want, 1e-4 * std::max(1.0, std::fabs(want)))
              << "output " << i << " of " << o << " channels, " << k << "x"
              << k << ", activation " << activation << ", threads "
              << threads;
        }
      }
}

// ember_cpu_conv_fused_then_f32 (ember-fuse-conv-epilogue's deferIntoNext):
// an RGB 3x3 stride-2 stem + bias + hardswish, then a depthwise 3x3
// stride-2 + bias + relu with plane means reading its output, equal to the
// two calls one after the other. With 8 images (at least 4 per thread) the
// two run image by image and the stem's own output buffer is never
// written (it stays NaN); with 2 images, or when the next call reads
// another x, the stem runs on its own first and writes it.
TEST(CpuConv, StemDeferredIntoTheNextConvolution) {
  const int64_t c = 3, h = 19, wd = 22, o = 16, sh = 10, sw = 11, dh = 5,
                dw = 6;
  for (int64_t n : {8, 2})
    for (bool nextReadsStem : {true, false})
      for (int threads : {1, 2}) {
        ember::setNumThreads(threads);
        int64_t xs[5] = {n, c, 1, h, wd}, ws[5] = {o, c, 1, 3, 3},
                ss[5] = {n, o, 1, sh, sw}, ds[5] = {o, 1, 1, 3, 3},
                ys[5] = {n, o, 1, dh, dw};
        int64_t xst[5], wst[5], sst[5], dst[5], yst[5];
        contiguousStrides(xs, xst);
        contiguousStrides(ws, wst);
        contiguousStrides(ss, sst);
        contiguousStrides(ds, dst);
        contiguousStrides(ys, yst);
        const int64_t meanStrides[5] = {o, 1, 0, 0, 0};
        const int64_t bst[5] = {0, 1, 0, 0, 0};
        std::mt19937 gen(7);
        std::normal_distribution<float> normal;
        std::vector<float> x(n * c * h * wd), w(o * c * 9), bias(o),
            dwWeights(o * 9), dwBias(o), other(n * o * sh * sw);
        for (auto *v : {&x, &w, &bias, &dwWeights, &dwBias, &other})
          for (float &e : *v)
            e = normal(gen);
        const int64_t stemFlags = EMBER_GEMM_ACT_HARDSWISH | EMBER_GEMM_FUSED_BIAS;
        const int64_t dwFlags = EMBER_GEMM_ACT_RELU | EMBER_GEMM_FUSED_BIAS;
        // The reference: the two calls one after the other.
        std::vector<float> stemWant(n * o * sh * sw, NAN),
            yWant(n * o * dh * dw, NAN), meanWant(n * o, NAN);
        float *dwInput = nextReadsStem ? stemWant.data() : other.data();
        ember_cpu_conv_fused_f32(
            VIEW5(x.data(), xs, xst), VIEW5(w.data(), ws, wst),
            VIEW5(stemWant.data(), ss, sst), VIEW5(bias.data(), ss, bst),
            VIEW5(stemWant.data(), ss, sst), 1, 2, 2, 0, 1, 1, 1, 1, 1, 1,
            stemFlags);
        ember_cpu_conv_fused_mean_f32(
            VIEW5(dwInput, ss, sst), VIEW5(dwWeights.data(), ds, dst),
            VIEW5(yWant.data(), ys, yst), VIEW5(dwBias.data(), ys, bst),
            VIEW5(yWant.data(), ys, yst),
            VIEW5(meanWant.data(), ys, meanStrides), 1, 2, 2, 0, 1, 1, 1, 1,
            1, o, dwFlags);
        // Deferred into the next call.
        std::vector<float> stem(n * o * sh * sw, NAN), y(n * o * dh * dw, NAN),
            mean(n * o, NAN);
        float *input = nextReadsStem ? stem.data() : other.data();
        ember_cpu_conv_fused_then_f32(
            VIEW5(x.data(), xs, xst), VIEW5(w.data(), ws, wst),
            VIEW5(stem.data(), ss, sst), VIEW5(bias.data(), ss, bst),
            VIEW5(stem.data(), ss, sst), 1, 2, 2, 0, 1, 1, 1, 1, 1, 1,
            stemFlags);
        ember_cpu_conv_fused_mean_f32(
            VIEW5(input, ss, sst), VIEW5(dwWeights.data(), ds, dst),
            VIEW5(y.data(), ys, yst), VIEW5(dwBias.data(), ys, bst),
            VIEW5(y.data(), ys, yst), VIEW5(mean.data(), ys, meanStrides),
            1, 2, 2, 0, 1, 1, 1, 1, 1, o, dwFlags);
        SCOPED_TRACE(::testing::Message()
                     << "images " << n << ", next reads the stem "
                     << nextReadsStem << ", threads " << threads);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], yWant[i], 1e-5f * std::max(1.0f, std::fabs(yWant[i])))
              << "output " << i;
        for (size_t i = 0; i < mean.size(); ++i)
          ASSERT_NEAR(mean[i], meanWant[i],
                      1e-5f * std::max(1.0f, std::fabs(meanWant[i])))
              << "mean " << i;
        const bool paired = nextReadsStem && n >= 4 * threads;
        for (size_t i = 0; i < stem.size(); ++i) {
          if (paired)
            ASSERT_TRUE(std::isnan(stem[i])) << "stem output " << i;
          else
            ASSERT_NEAR(stem[i], stemWant[i],
                        1e-5f * std::max(1.0f, std::fabs(stemWant[i])))
                << "stem output " << i;
        }
      }
}

} // namespace
