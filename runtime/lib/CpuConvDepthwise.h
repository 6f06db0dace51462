//===- CpuConvDepthwise.h - direct depthwise convolution ---------*- C++ -*-===//
//
// A convolution whose groups see one input channel each (depthwise, as in
// MobileNet and EfficientNet) has only kH * kW multiply-adds per output:
// as a GEMM its A matrix is one row, so the micro-kernel's MR x NR tile
// would be almost all padding. CpuConv.cpp runs such convolutions plane by
// plane through this direct kernel instead.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUCONVDEPTHWISE_H
#define EMBER_RUNTIME_CPUCONVDEPTHWISE_H

#include <cstdint>

namespace ember {
namespace conv {

/// The geometry of one 2-D plane of a depthwise convolution.
struct PlaneGeometry {
  int64_t inH, inW, outH, outW, kH, kW, strideH, strideW, padH, padW,
      dilationH, dilationW;
};

/// What depthwisePlane may apply to each output as it stores it, while it
/// is in a register: + bias, then an activation (an ember_gemm_activation).
struct PlaneEpilogue {
  bool hasBias = false;
  float bias = 0;
  int activation = 0;
  // When set: receives the sum of the plane's finished outputs, summed in
  // their registers, when depthwisePlane applies the epilogue (a
  // squeeze-and-excitation block's pool, without a pass over the plane).
  float *sum = nullptr;
};

/// Floats of scratch depthwisePlane needs for `g`.
int64_t depthwiseScratchSize(const PlaneGeometry &g);

/// y[outH, outW] (rows `yRow` apart, columns contiguous) = the input
/// plane x (element (h, w) at x[h * xRow + w * xCol]) convolved with the
/// contiguous kH x kW taps. `scratch` holds depthwiseScratchSize floats;
/// `avx512` picks the AVX-512 path (the caller checked the CPU has it).
/// Returns true when it also applied `epilogue` (optional): the AVX-512
/// direct path does for no activation, relu, hardsigmoid and hardswish,
/// with the GEMM epilogue's arithmetic; otherwise the caller finishes the
/// plane.
bool depthwisePlane(const PlaneGeometry &g, const float *x, int64_t xRow,
                    int64_t xCol, const float *taps, float *y, int64_t yRow,
                    float *scratch, bool avx512,
                    const PlaneEpilogue *epilogue = nullptr);

/// The most planes of `g` (with these strides) depthwisePlanes takes at
/// once: 1 (none: depthwisePlane each), 2 (small flat planes on AVX-512:
/// two planes' FMA chains overlap) or 16 (MobileNet's 7-column outputs,
/// channel-blocked). A caller with fewer left takes pairs, then single
/// planes.
int64_t depthwiseGroup(const PlaneGeometry &g, int64_t xRow, int64_t xCol,
                       int64_t yRow, bool avx512);
constexpr int64_t kDepthwiseMaxGroup = 16;

/// depthwisePlane for `count` planes of `g` at once (count 2, or
/// depthwiseGroup's when it is more; rows contiguous, as it checked):
/// plane p reads x[p] and taps[p] and writes y[p]. `epilogues` (optional)
/// holds one PlaneEpilogue per plane, with the same activation; returns
/// whether it applied them.
bool depthwisePlanes(const PlaneGeometry &g, int64_t count,
                     const float *const *x, const float *const *taps,
                     float *const *y,
                     const PlaneEpilogue *epilogues = nullptr);

} // namespace conv
} // namespace ember

#endif // EMBER_RUNTIME_CPUCONVDEPTHWISE_H
