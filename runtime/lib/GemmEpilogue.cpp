//===- GemmEpilogue.cpp - bias, activation and residual on a block of C ---===//
//
// The fused epilogue of Ember's GEMM (GemmEpilogue.h): the GEMM calls
// applyEpilogue on each tile of C right after the tile's last k block, so
// the tile is still in L1. Each row of the tile goes through a small
// buffer: bias added, the activation applied to whole vectors, residual
// added (before the activation with residualBeforeActivation), written
// back. The activations are vectorized polynomial/rational
// approximations (Cephes' expf and tanhf, Eigen's float erf: within a few
// ulp of libm on f32) written once with GCC vector extensions and compiled
// per ISA through target attributes, like the micro-kernels.
//
//===----------------------------------------------------------------------===//

#include "GemmEpilogueKernels.h"

#include <algorithm>
#include <cstring>

namespace ember {
namespace gemm {
namespace {

#define EMBER_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define EMBER_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define EMBER_INLINE __attribute__((always_inline)) inline

// The vector helpers are always inlined into the per-ISA entry points, so
// no vector crosses a call: GCC's note about the vector ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

template <int W>
struct Lanes {
  typedef float F __attribute__((vector_size(W * 4)));
  typedef int32_t I __attribute__((vector_size(W * 4)));
};

// The clamps keep NaN (a comparison with NaN is false, so NaN is kept).
template <typename F>
EMBER_INLINE F clampAbove(F x, float limit) {
  return x > limit ? F{} + limit : x;
}
template <typename F>
EMBER_INLINE F clampBelow(F x, float limit) {
  return x < limit ? F{} + limit : x;
}

/// e^x (Cephes expf): x = n ln2 + r, |r| <= ln2 / 2, e^r by a degree-6
/// polynomial, 2^n through the exponent bits.
template <typename F, typename I>
EMBER_INLINE F expApprox(F x) {
  x = clampBelow(clampAbove(x, 88.3762626647949f), -87.3365447504f);
  // Round x / ln2 to the nearest integer with the 1.5 * 2^23 trick.
  F shifted = x * 1.44269504088896341f + 12582912.0f;
  F n = shifted - 12582912.0f;
  F r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  F y = F{} + 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * (r * r) + r + 1.0f;
  I exponent = (__builtin_convertvector(n, I) + 127) << 23;
  return y * (F)exponent; // a vector cast keeps the bits
}

/// tanh (Cephes tanhf): an odd polynomial below |x| = 0.625, else
/// 1 - 2 / (e^(2|x|) + 1) with x's sign.
template <typename F, typename I>
EMBER_INLINE F tanhApprox(F x) {
  I bits = (I)x;
  I magnitudeBits = bits & 0x7fffffff;
  F magnitude = (F)magnitudeBits;
  F z = x * x;
  F small = F{} - 5.70498872745e-3f;
  small = small * z + 2.06390887954e-2f;
  small = small * z - 5.37397155531e-2f;
  small = small * z + 1.33314422036e-1f;
  small = small * z - 3.33332819422e-1f;
  small = small * z * x + x;
  // tanh(x) rounds to 1 in f32 from x = 9.01 on; at the clamp 2 / e^20
  // vanishes next to 1, so the result is exactly 1, as libm's is.
  F e = expApprox<F, I>(clampAbove(magnitude, 10.0f) * 2.0f);
  F large = 1.0f - 2.0f / (e + 1.0f);
  F signedLarge = (F)((I)large | (bits ^ magnitudeBits));
  return magnitude < 0.625f ? small : signedLarge;
}

/// erf: Eigen's rational approximation on [-4, 4] (erf is +-1 in f32
/// beyond).
template <typename F>
EMBER_INLINE F erfApprox(F x) {
  x = clampBelow(clampAbove(x, 4.0f), -4.0f);
  F x2 = x * x;
  F p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p - 2.10102402082508e-06f;
  p = x2 * p - 5.69250639462346e-05f;
  p = x2 * p - 7.34990630326855e-04f;
  p = x2 * p - 2.95459980854025e-03f;
  p = x2 * p - 1.60960333262415e-02f;
  p = x * p;
  F q = x2 * -1.45660718464996e-05f - 2.13374055278905e-04f;
  q = x2 * q - 1.68282697438203e-03f;
  q = x2 * q - 7.37332916720468e-03f;
  q = x2 * q - 1.42647390514189e-02f;
  return p / q;
}

template <typename F, typename I>
EMBER_INLINE F sigmoidApprox(F x) {
  return 1.0f / (1.0f + expApprox<F, I>(-x));
}

/// clamp(x + 3, 0, 6) / 6; the clamps keep NaN, as torch's does.
template <typename F>
EMBER_INLINE F hardSigmoidApprox(F x) {
  return clampBelow(clampAbove(x + 3.0f, 6.0f), 0.0f) * (1.0f / 6.0f);
}

template <int Act, typename F, typename I>
EMBER_INLINE F activate(F x) {
  if constexpr (Act == EMBER_GEMM_ACT_RELU)
    return x < 0.0f ? F{} : x;
  else if constexpr (Act == EMBER_GEMM_ACT_GELU_ERF)
    return 0.5f * x * (1.0f + erfApprox(x * 0.70710678118654752f));
  else if constexpr (Act == EMBER_GEMM_ACT_GELU_TANH)
    return 0.5f * x *
           (1.0f + tanhApprox<F, I>(0.79788456080286536f *
                                    (x + 0.044715f * x * x * x)));
  else if constexpr (Act == EMBER_GEMM_ACT_SILU)
    return x * sigmoidApprox<F, I>(x);
  else if constexpr (Act == EMBER_GEMM_ACT_SIGMOID)
    return sigmoidApprox<F, I>(x);
  else if constexpr (Act == EMBER_GEMM_ACT_TANH)
    return tanhApprox<F, I>(x);
  else if constexpr (Act == EMBER_GEMM_ACT_HARDSWISH)
    return x * hardSigmoidApprox(x);
  else if constexpr (Act == EMBER_GEMM_ACT_HARDSIGMOID)
    return hardSigmoidApprox(x);
  else
    return x;
}

/// x[0:n] = activation(x[0:n]) in vectors of W; the tail in a zero-padded
/// vector (the activations are defined everywhere, padding included).
template <int W, int Act>
EMBER_INLINE void activateRow(float *x, int64_t n) {
  using F = typename Lanes<W>::F;
  using I = typename Lanes<W>::I;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    F v;
    std::memcpy(&v, x + i, sizeof(v));
    v = activate<Act, F, I>(v);
    std::memcpy(x + i, &v, sizeof(v));
  }
  if (i < n) {
    float tail[W] = {};
    std::memcpy(tail, x + i, (n - i) * sizeof(float));
    F v;
    std::memcpy(&v, tail, sizeof(v));
    v = activate<Act, F, I>(v);
    std::memcpy(tail, &v, sizeof(v));
    std::memcpy(x + i, tail, (n - i) * sizeof(float));
  }
}

template <int W>
EMBER_INLINE void activateAny(float *x, int64_t n, int activation) {
  switch (activation) {
  case EMBER_GEMM_ACT_RELU:
    return activateRow<W, EMBER_GEMM_ACT_RELU>(x, n);
  case EMBER_GEMM_ACT_GELU_ERF:
    return activateRow<W, EMBER_GEMM_ACT_GELU_ERF>(x, n);
  case EMBER_GEMM_ACT_GELU_TANH:
    return activateRow<W, EMBER_GEMM_ACT_GELU_TANH>(x, n);
  case EMBER_GEMM_ACT_SILU:
    return activateRow<W, EMBER_GEMM_ACT_SILU>(x, n);
  case EMBER_GEMM_ACT_SIGMOID:
    return activateRow<W, EMBER_GEMM_ACT_SIGMOID>(x, n);
  case EMBER_GEMM_ACT_TANH:
    return activateRow<W, EMBER_GEMM_ACT_TANH>(x, n);
  case EMBER_GEMM_ACT_HARDSWISH:
    return activateRow<W, EMBER_GEMM_ACT_HARDSWISH>(x, n);
  case EMBER_GEMM_ACT_HARDSIGMOID:
    return activateRow<W, EMBER_GEMM_ACT_HARDSIGMOID>(x, n);
  default:
    return;
  }
}

EMBER_TARGET_AVX512 void activateAvx512(float *x, int64_t n, int activation) {
  activateAny<16>(x, n, activation);
}

EMBER_TARGET_AVX2 void activateAvx2(float *x, int64_t n, int activation) {
  activateAny<8>(x, n, activation);
}

void activatePortable(float *x, int64_t n, int activation) {
  activateAny<4>(x, n, activation);
}

/// What finishRow adds to a contiguous row: each addend either one value
/// for the whole row (broadcast) or one per element (stride 1); null when
/// absent.
struct RowAddends {
  const float *bias = nullptr, *residual = nullptr;
  bool biasBroadcast = false, residualBroadcast = false;
  bool residualFirst = false;
};

/// act(v + b [+ r]) [+ r], b and r the addends' values; an absent addend
/// is not added (x + 0 would turn -0 into +0).
template <int Act, typename F, typename I>
EMBER_INLINE F finishVector(F v, F b, F r, const RowAddends &a) {
  if (a.bias)
    v += b;
  if (a.residual && a.residualFirst)
    v += r;
  v = activate<Act, F, I>(v);
  if (a.residual && !a.residualFirst)
    v += r;
  return v;
}

/// row[0:n] = act(row + bias [+ residual]) [+ residual] in one pass, W
/// floats at a time in registers; the tail through zero-padded vectors.
/// The per-chunk buffer, copies and calls of the general path cost more
/// than the arithmetic on a conv's small planes (7 floats a row at 7x7).
template <int W, int Act>
EMBER_INLINE void finishRow(float *row, int64_t n, const RowAddends &a) {
  using F = typename Lanes<W>::F;
  using I = typename Lanes<W>::I;
  const bool biasRow = a.bias && !a.biasBroadcast;
  const bool residualRow = a.residual && !a.residualBroadcast;
  const F biasValue = a.bias && a.biasBroadcast ? F{} + *a.bias : F{};
  const F residualValue =
      a.residual && a.residualBroadcast ? F{} + *a.residual : F{};
  int64_t j = 0;
  for (; j + W <= n; j += W) {
    F v, b = biasValue, r = residualValue;
    std::memcpy(&v, row + j, sizeof(v));
    if (biasRow)
      std::memcpy(&b, a.bias + j, sizeof(b));
    if (residualRow)
      std::memcpy(&r, a.residual + j, sizeof(r));
    v = finishVector<Act, F, I>(v, b, r, a);
    std::memcpy(row + j, &v, sizeof(v));
  }
  if (j == n)
    return;
  const int64_t left = n - j;
  float tail[W] = {};
  F v, b = biasValue, r = residualValue;
  std::memcpy(tail, row + j, left * sizeof(float));
  std::memcpy(&v, tail, sizeof(v));
  if (biasRow) {
    float bias[W] = {};
    std::memcpy(bias, a.bias + j, left * sizeof(float));
    std::memcpy(&b, bias, sizeof(b));
  }
  if (residualRow) {
    float residual[W] = {};
    std::memcpy(residual, a.residual + j, left * sizeof(float));
    std::memcpy(&r, residual, sizeof(r));
  }
  v = finishVector<Act, F, I>(v, b, r, a);
  std::memcpy(tail, &v, sizeof(v));
  std::memcpy(row + j, tail, left * sizeof(float));
}

template <int W>
EMBER_INLINE void finishRowAny(float *row, int64_t n, const RowAddends &a,
                               int activation) {
  switch (activation) {
  case EMBER_GEMM_ACT_RELU:
    return finishRow<W, EMBER_GEMM_ACT_RELU>(row, n, a);
  case EMBER_GEMM_ACT_GELU_ERF:
    return finishRow<W, EMBER_GEMM_ACT_GELU_ERF>(row, n, a);
  case EMBER_GEMM_ACT_GELU_TANH:
    return finishRow<W, EMBER_GEMM_ACT_GELU_TANH>(row, n, a);
  case EMBER_GEMM_ACT_SILU:
    return finishRow<W, EMBER_GEMM_ACT_SILU>(row, n, a);
  case EMBER_GEMM_ACT_SIGMOID:
    return finishRow<W, EMBER_GEMM_ACT_SIGMOID>(row, n, a);
  case EMBER_GEMM_ACT_TANH:
    return finishRow<W, EMBER_GEMM_ACT_TANH>(row, n, a);
  case EMBER_GEMM_ACT_HARDSWISH:
    return finishRow<W, EMBER_GEMM_ACT_HARDSWISH>(row, n, a);
  case EMBER_GEMM_ACT_HARDSIGMOID:
    return finishRow<W, EMBER_GEMM_ACT_HARDSIGMOID>(row, n, a);
  default:
    return finishRow<W, EMBER_GEMM_ACT_NONE>(row, n, a);
  }
}

using FinishRowFn = void (*)(float *row, int64_t n, const RowAddends &a,
                             int activation);

EMBER_TARGET_AVX512 void finishRowAvx512(float *row, int64_t n,
                                         const RowAddends &a, int activation) {
  finishRowAny<16>(row, n, a, activation);
}

EMBER_TARGET_AVX2 void finishRowAvx2(float *row, int64_t n, const RowAddends &a,
                                     int activation) {
  finishRowAny<8>(row, n, a, activation);
}

void finishRowPortable(float *row, int64_t n, const RowAddends &a,
                       int activation) {
  finishRowAny<4>(row, n, a, activation);
}

/// The row kernel of the ISA `activation` was compiled for.
FinishRowFn finishRowFor(ActivationFn activation) {
  if (activation == activateAvx512)
    return finishRowAvx512;
  if (activation == activateAvx2)
    return finishRowAvx2;
  return finishRowPortable;
}

/// row[0:n] += addend[j * colStride] (colStride 0: one value for the row).
/// Cloned for AVX-512 (picked at load time): the generic build's 4-wide
/// adds were a sixth of a fused transformer GEMM's epilogue time.
__attribute__((target_clones("avx512f", "default"))) void addRow(float *row, int64_t n, const float *addend, int64_t colStride) {
  if (colStride == 0) {
    float value = *addend;
    for (int64_t j = 0; j < n; ++j)
      row[j] += value;
  } else if (colStride == 1) {
    for (int64_t j = 0; j < n; ++j)
      row[j] += addend[j];
  } else {
    for (int64_t j = 0; j < n; ++j)
      row[j] += addend[j * colStride];
  }
}

} // namespace

ActivationFn activationFor(IsaLevel isa) {
  switch (isa) {
  case IsaLevel::Avx512:
    return activateAvx512;
  case IsaLevel::Avx2:
    return activateAvx2;
  case IsaLevel::Portable:
    break;
  }
  return activatePortable;
}

void applyEpilogueBlock(ActivationFn activation, int64_t m, int64_t n,
                        float *c, int64_t rsc, int64_t csc,
                        const ember_gemm_epilogue &epilogue) {
  auto unitOrBroadcast = [](const float *addend, int64_t colStride) {
    return !addend || colStride == 0 || colStride == 1;
  };
  if (csc == 1 && unitOrBroadcast(epilogue.bias, epilogue.biasColStride) &&
      unitOrBroadcast(epilogue.residual, epilogue.residualColStride)) {
    // Contiguous rows: one pass each, in registers. A block whose rows
    // follow each other (a conv's plane), with addends that do too or are
    // one value for the block, is one row.
    auto followsBlock = [&](const float *addend, int64_t rowStride,
                            int64_t colStride) {
      return !addend || (colStride == 0 && rowStride == 0) ||
             (colStride == 1 && rowStride == n);
    };
    if (m > 1 && rsc == n &&
        followsBlock(epilogue.bias, epilogue.biasRowStride,
                     epilogue.biasColStride) &&
        followsBlock(epilogue.residual, epilogue.residualRowStride,
                     epilogue.residualColStride)) {
      n *= m;
      m = 1;
    }
    const FinishRowFn finish = finishRowFor(activation);
    RowAddends addends;
    addends.biasBroadcast = epilogue.biasColStride == 0;
    addends.residualBroadcast = epilogue.residualColStride == 0;
    addends.residualFirst = epilogue.residualBeforeActivation;
    for (int64_t i = 0; i < m; ++i) {
      addends.bias = epilogue.bias ? epilogue.bias + i * epilogue.biasRowStride
                                   : nullptr;
      addends.residual = epilogue.residual
                             ? epilogue.residual + i * epilogue.residualRowStride
                             : nullptr;
      finish(c + i * rsc, n, addends, epilogue.activation);
    }
    return;
  }
  constexpr int64_t kChunk = 64;
  alignas(64) float buffer[kChunk];
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j0 = 0; j0 < n; j0 += kChunk) {
      int64_t width = std::min(kChunk, n - j0);
      float *out = c + i * rsc + j0 * csc;
      if (csc == 1)
        std::memcpy(buffer, out, width * sizeof(float));
      else
        for (int64_t j = 0; j < width; ++j)
          buffer[j] = out[j * csc];
      if (epilogue.bias)
        addRow(buffer, width,
               epilogue.bias + i * epilogue.biasRowStride +
                   j0 * epilogue.biasColStride,
               epilogue.biasColStride);
      const float *residual =
          epilogue.residual ? epilogue.residual +
                                  i * epilogue.residualRowStride +
                                  j0 * epilogue.residualColStride
                            : nullptr;
      if (residual && epilogue.residualBeforeActivation)
        addRow(buffer, width, residual, epilogue.residualColStride);
      if (epilogue.activation != EMBER_GEMM_ACT_NONE)
        activation(buffer, width, epilogue.activation);
      if (residual && !epilogue.residualBeforeActivation)
        addRow(buffer, width, residual, epilogue.residualColStride);
      if (csc == 1)
        std::memcpy(out, buffer, width * sizeof(float));
      else
        for (int64_t j = 0; j < width; ++j)
          out[j * csc] = buffer[j];
    }
  }
}

ember_gemm_epilogue shiftEpilogue(const ember_gemm_epilogue &epilogue,
                                  int64_t row, int64_t col) {
  ember_gemm_epilogue shifted = epilogue;
  if (shifted.bias)
    shifted.bias +=
        row * shifted.biasRowStride + col * shifted.biasColStride;
  if (shifted.residual)
    shifted.residual +=
        row * shifted.residualRowStride + col * shifted.residualColStride;
  return shifted;
}

ember_gemm_epilogue transposeEpilogue(const ember_gemm_epilogue &epilogue) {
  ember_gemm_epilogue transposed = epilogue;
  std::swap(transposed.biasRowStride, transposed.biasColStride);
  std::swap(transposed.residualRowStride, transposed.residualColStride);
  return transposed;
}

bool epilogueDoesNothing(const ember_gemm_epilogue *epilogue) {
  return !epilogue || (epilogue->activation == EMBER_GEMM_ACT_NONE &&
                       !epilogue->bias && !epilogue->residual);
}

} // namespace gemm
} // namespace ember
