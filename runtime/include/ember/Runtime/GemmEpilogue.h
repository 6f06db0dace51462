/*===- GemmEpilogue.h - what Ember's GEMM does to C before it leaves ------===*
 *
 * A fused epilogue for Ember's f32 GEMM (EmberGemm.h): each block of C is
 * finished right after its last k block, while it is still in cache,
 *
 *   C = activation(alpha * A * B + beta * C + bias) + residual
 *
 * (or activation(... + bias + residual) with residualBeforeActivation)
 * instead of by separate passes over C. `bias` and `residual` are strided
 * views of C's shape: a stride of 0 broadcasts (a bias per output column,
 * nn.Linear's, has rowStride 0 and colStride 1; one per row has colStride
 * 0). Either may be null. Neither may overlap C (the GEMM writes partial
 * sums into C before the epilogue reads them); a residual that is C itself
 * is beta = 1 instead. Batched calls offset each by i * batchStride for
 * item i. A plain C struct: kernels written elsewhere (attention,
 * convolution) fill one in and call ember::gemm::sgemm. No LLVM dependency.
 *
 *===----------------------------------------------------------------------===*/

#ifndef EMBER_RUNTIME_GEMMEPILOGUE_H
#define EMBER_RUNTIME_GEMMEPILOGUE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The activation applied after the bias, numbered as the compiler passes
 * them in the fused call's flags (keep in sync with FuseMatmulEpilogue). */
enum ember_gemm_activation {
  EMBER_GEMM_ACT_NONE = 0,
  EMBER_GEMM_ACT_RELU = 1,      /* max(x, 0), NaN propagates */
  EMBER_GEMM_ACT_GELU_ERF = 2,  /* 0.5 x (1 + erf(x / sqrt 2)), torch's default */
  EMBER_GEMM_ACT_GELU_TANH = 3, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
  EMBER_GEMM_ACT_SILU = 4,      /* x / (1 + exp(-x)) */
  EMBER_GEMM_ACT_SIGMOID = 5,   /* 1 / (1 + exp(-x)) */
  EMBER_GEMM_ACT_TANH = 6,
  EMBER_GEMM_ACT_HARDSWISH = 7,   /* x * clamp(x + 3, 0, 6) / 6 (NaN at -inf, as torch) */
  EMBER_GEMM_ACT_HARDSIGMOID = 8, /* clamp(x + 3, 0, 6) / 6 */
  EMBER_GEMM_ACT_COUNT = 9
};

typedef struct ember_gemm_epilogue {
  int32_t activation; /* an ember_gemm_activation */
  /* Nonzero: the residual is added before the activation, with the bias
   * (a ResNet block's relu(conv + bias + identity)). */
  int32_t residualBeforeActivation;
  /* Added before the activation; element (i, j) at
   * bias[i * biasRowStride + j * biasColStride]. */
  const float *bias;
  int64_t biasRowStride, biasColStride, biasBatchStride;
  /* Added after the activation, the same way. */
  const float *residual;
  int64_t residualRowStride, residualColStride, residualBatchStride;
} ember_gemm_epilogue;

#ifdef __cplusplus
}
#endif

#endif /* EMBER_RUNTIME_GEMMEPILOGUE_H */
