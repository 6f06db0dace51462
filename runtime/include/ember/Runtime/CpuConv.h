//===- CpuConv.h - convolution kernels for compiled code --------*- C++ -*-===//
//
// Compiled CPU code calls these for ember.conv and its two gradients (the
// ember-conv-to-runtime pass), f32 only. Every tensor arrives as a 5-D MLIR
// strided memref descriptor expanded to scalars: input/gradient [N, C, D,
// H, W] (1-D and 2-D convolutions with unit dims in front), weight [O,
// C/G, kD, kH, kW]. The operands may be strided views; the result is a
// fresh contiguous buffer the kernel overwrites. The trailing scalars are
// the stride, low padding and dilation per spatial dim (D, H, W) and the
// group count; the result's shape gives the high padding.
//
// Nothing of im2col's size is ever allocated: the kernels pack each
// im2col block straight from the input into the layout of Ember's GEMM
// micro-kernel (GemmMicroKernels.h) and run the micro-kernel on it, tiles
// of output pixels in parallel on the runtime's thread pool:
// - forward: y[n, g] = W[g] (O/G x C/G*K) * cols(x[n, g]) per tile of
//   output pixels, the weight packed once per call (once per loaded model
//   for a model file's weights). 2-D convolutions read x through its
//   padded stride-phase planes, in which every im2col row is a run of
//   consecutive floats (output pixels on a grid as wide as the planes), so
//   packing is a fixed-size copy per row; 1x1 and other unpadded unit-
//   stride convolutions read x itself. AVX-512 CPUs run a 14x32 tile of
//   its own (channels x pixels);
// - data gradient (col2im): cols = W[g]^T * dy[n, g] per tile of pixels,
//   added into dx at each kernel offset, images in parallel;
// - weight gradient: dW[g] += dy[n, g] * cols(x[n, g])^T over blocks of
//   pixels, the threads' partial sums added at the end.
// No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUCONV_H
#define EMBER_RUNTIME_CPUCONV_H

#include <cstdint>

#define EMBER_TENSOR5_ARGS(T, name)                                            \
  T *name##Alloc, T *name##Data, int64_t name##Offset, int64_t name##Size0,    \
      int64_t name##Size1, int64_t name##Size2, int64_t name##Size3,           \
      int64_t name##Size4, int64_t name##Stride0, int64_t name##Stride1,       \
      int64_t name##Stride2, int64_t name##Stride3, int64_t name##Stride4

#define EMBER_CONV_SCALARS                                                     \
  int64_t strideD, int64_t strideH, int64_t strideW, int64_t padD,             \
      int64_t padH, int64_t padW, int64_t dilationD, int64_t dilationH,        \
      int64_t dilationW, int64_t groups

extern "C" {
/// y = conv(x, w).
void ember_cpu_conv_f32(EMBER_TENSOR5_ARGS(float, x),
                        EMBER_TENSOR5_ARGS(float, w),
                        EMBER_TENSOR5_ARGS(float, y), EMBER_CONV_SCALARS);
/// y = act(conv(x, w) + bias) + residual, finished block by block while
/// in cache (ember-fuse-conv-epilogue): bias and residual are views of y's
/// shape (stride 0 along broadcast dims: a bias per channel has strides
/// [0, s, 0, 0, 0]), read only when `flags` (CpuGemm.h's
/// EMBER_GEMM_FUSED_*: activation, BIAS, RESIDUAL, RESIDUAL_FIRST) name
/// them; neither may overlap y. y may be any view.
void ember_cpu_conv_fused_f32(EMBER_TENSOR5_ARGS(float, x),
                              EMBER_TENSOR5_ARGS(float, w),
                              EMBER_TENSOR5_ARGS(float, y),
                              EMBER_TENSOR5_ARGS(float, bias),
                              EMBER_TENSOR5_ARGS(float, residual),
                              EMBER_CONV_SCALARS, int64_t flags);
/// ember_cpu_conv_fused_f32, then mean[n, c] = the mean of D[n, c] over
/// its pixels (a squeeze-and-excitation block's global average pool,
/// ember-fuse-conv-epilogue): `mean` is a 5-D view of D's shape whose
/// pixel dims have stride 0. The direct depthwise kernel sums each plane's
/// outputs while they are in registers, so the pool's pass over D goes.
void ember_cpu_conv_fused_mean_f32(EMBER_TENSOR5_ARGS(float, x),
                                   EMBER_TENSOR5_ARGS(float, w),
                                   EMBER_TENSOR5_ARGS(float, y),
                                   EMBER_TENSOR5_ARGS(float, bias),
                                   EMBER_TENSOR5_ARGS(float, residual),
                                   EMBER_TENSOR5_ARGS(float, mean),
                                   EMBER_CONV_SCALARS, int64_t flags);
/// ember_cpu_conv_fused_f32 of x[n, c] * scale[n, c] (a squeeze-and-
/// excitation block's scale, folded into the 1x1 convolution that reads it
/// by ember-fuse-conv-epilogue): `scale` is a 5-D view of x's shape whose
/// pixel dims have stride 0. 1x1 convolutions scale x in registers while
/// they pack it, so x * scale is never written; other convolutions read a
/// scaled copy.
void ember_cpu_conv_fused_scaled_f32(EMBER_TENSOR5_ARGS(float, x),
                                     EMBER_TENSOR5_ARGS(float, w),
                                     EMBER_TENSOR5_ARGS(float, y),
                                     EMBER_TENSOR5_ARGS(float, bias),
                                     EMBER_TENSOR5_ARGS(float, residual),
                                     EMBER_TENSOR5_ARGS(float, scale),
                                     EMBER_CONV_SCALARS, int64_t flags);
/// ember_cpu_conv_fused_f32 whose y only the next convolution call on this
/// thread reads, as its x (ember-fuse-conv-epilogue's deferIntoNext): the
/// call is held until that next forward entry, which runs the two image by
/// image (y's image in a per-thread buffer) where the next one is depthwise
/// and there are at least 4 images per thread, else this one first.
void ember_cpu_conv_fused_then_f32(EMBER_TENSOR5_ARGS(float, x),
                                   EMBER_TENSOR5_ARGS(float, w),
                                   EMBER_TENSOR5_ARGS(float, y),
                                   EMBER_TENSOR5_ARGS(float, bias),
                                   EMBER_TENSOR5_ARGS(float, residual),
                                   EMBER_CONV_SCALARS, int64_t flags);
/// Fused forward calls run in this process (ember.compile_stats()'s
/// "fused_conv_calls").
uint64_t ember_cpu_fused_conv_calls(void);
/// Those of them that also wrote plane means (ember_cpu_conv_fused_mean_f32;
/// "fused_conv_means").
uint64_t ember_cpu_fused_conv_means(void);
/// Those of them that scaled their input (ember_cpu_conv_fused_scaled_f32;
/// "fused_conv_scales").
uint64_t ember_cpu_fused_conv_scales(void);
/// For tests and benchmarks: which forward calls from now on take the
/// direct path (x read in place, no packing: runtime/lib/CpuConvDirect.h):
/// 0 where it was measured to win (the default; EMBER_CONV_DIRECT unset),
/// 1 never (EMBER_CONV_DIRECT=0), 2 wherever it applies
/// (EMBER_CONV_DIRECT=1).
void ember_cpu_conv_force_direct(int mode);
/// Forward calls the direct path ran in this process.
uint64_t ember_cpu_conv_direct_calls(void);
/// The same for the Winograd F(4x4, 3x3) path (runtime/lib/CpuConvWinograd.h;
/// EMBER_CONV_WINOGRAD=0|1) and the forward calls it ran.
void ember_cpu_conv_force_winograd(int mode);
uint64_t ember_cpu_conv_winograd_calls(void);
/// The same for its F(2x2, 3x3) path (batch 1's small planes; also off
/// under EMBER_CONV_WINOGRAD=0) and the forward calls it ran.
void ember_cpu_conv_force_winograd_f2(int mode);
uint64_t ember_cpu_conv_winograd_f2_calls(void);
/// dx = the input gradient of conv(x, w) from the output's gradient dy.
void ember_cpu_conv_backward_data_f32(EMBER_TENSOR5_ARGS(float, dy),
                                      EMBER_TENSOR5_ARGS(float, w),
                                      EMBER_TENSOR5_ARGS(float, dx),
                                      EMBER_CONV_SCALARS);
/// dw = the weight gradient of conv(x, w) from the output's gradient dy.
void ember_cpu_conv_backward_weight_f32(EMBER_TENSOR5_ARGS(float, x),
                                        EMBER_TENSOR5_ARGS(float, dy),
                                        EMBER_TENSOR5_ARGS(float, dw),
                                        EMBER_CONV_SCALARS);
/// y[n, c, d, oh, ow] = the maximum of x[n, c, d, rowStart + oh * strideH +
/// i * dilationH, colStart + ow * strideW + j * dilationW] over i < kernelH,
/// j < kernelW (a max pool of an already padded x, ember-conv-to-runtime;
/// runtime/lib/CpuPool.cpp): a value replaces the best if greater or NaN,
/// as python/ember/nn/_pooling.py's running maximum does. y has x's
/// first three sizes; every window lies inside x.
void ember_cpu_max_pool_f32(EMBER_TENSOR5_ARGS(float, x),
                            EMBER_TENSOR5_ARGS(float, y), int64_t rowStart,
                            int64_t colStart, int64_t strideH, int64_t strideW,
                            int64_t kernelH, int64_t kernelW,
                            int64_t dilationH, int64_t dilationW);
/// ember_cpu_max_pool_f32 calls run in this process (ember.compile_stats()'s
/// "max_pool_calls").
uint64_t ember_cpu_max_pool_calls(void);
}

#endif // EMBER_RUNTIME_CPUCONV_H
