//===- GemmEpilogueKernels.h - the fused epilogue's pieces -----*- C++ -*-===//
//
// Internal to the runtime: what EmberGemm.cpp calls to finish a block of C
// (GemmEpilogue.h describes the epilogue itself).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GEMMEPILOGUEKERNELS_H
#define EMBER_RUNTIME_GEMMEPILOGUEKERNELS_H

#include "ember/Runtime/GemmEpilogue.h"

#include <cstdint>

namespace ember {
namespace gemm {

/// x[0:n] = activation(x[0:n]) for an ember_gemm_activation.
using ActivationFn = void (*)(float *x, int64_t n, int activation);

enum class IsaLevel { Avx512, Avx2, Portable };

/// The activations compiled for `isa` (the CPU must support it).
ActivationFn activationFor(IsaLevel isa);

/// Finishes the m x n block of C at `c` (strides rsc, csc): bias,
/// activation, residual, the epilogue's pointers already at the block's
/// first element.
void applyEpilogueBlock(ActivationFn activation, int64_t m, int64_t n,
                        float *c, int64_t rsc, int64_t csc,
                        const ember_gemm_epilogue &epilogue);

/// The epilogue of the block starting at C's element (row, col).
ember_gemm_epilogue shiftEpilogue(const ember_gemm_epilogue &epilogue,
                                  int64_t row, int64_t col);

/// The epilogue of C^T (row and column strides swapped).
ember_gemm_epilogue transposeEpilogue(const ember_gemm_epilogue &epilogue);

/// True for a null epilogue or one that adds nothing and applies nothing.
bool epilogueDoesNothing(const ember_gemm_epilogue *epilogue);

} // namespace gemm
} // namespace ember

#endif // EMBER_RUNTIME_GEMMEPILOGUEKERNELS_H
