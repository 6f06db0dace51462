//===- CpuAttention.h - blocked attention kernels for compiled code -*- C++ -*-===//
//
// Compiled CPU code calls these for ember.attention and its backward (the
// ember-attention-to-runtime pass). Each tensor arrives as an MLIR strided
// memref descriptor expanded to scalars (allocated pointer, aligned pointer,
// offset, sizes, strides), with the batch dims flattened into one:
// q [B, L, E], k [B, S, E], v [B, S, Ev], mask [B, L, S], out [B, L, Ev],
// logsumexp [B, L]. `flags`: bit 0 causal (key j > query i masked), bit 1
// the mask is given (otherwise the mask arguments are ignored).
//
// The forward never holds the L x S scores: keys are taken in blocks, each
// block's scores (a small GEMM on Ember's own f32 GEMM, or loops for f64)
// go through an online softmax (running max and sum per query row) and
// are multiplied into the output accumulator at once; blocks of query rows
// run in parallel on the thread pool. The backward recomputes each block's
// weights from the saved logsumexp (flash-attention style), batch items in
// parallel. No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUATTENTION_H
#define EMBER_RUNTIME_CPUATTENTION_H

#include <cstdint>

#define EMBER_TENSOR3_ARGS(T, name)                                            \
  T *name##Alloc, T *name##Data, int64_t name##Offset, int64_t name##Size0,    \
      int64_t name##Size1, int64_t name##Size2, int64_t name##Stride0,         \
      int64_t name##Stride1, int64_t name##Stride2

#define EMBER_TENSOR4_ARGS(T, name)                                            \
  T *name##Alloc, T *name##Data, int64_t name##Offset, int64_t name##Size0,    \
      int64_t name##Size1, int64_t name##Size2, int64_t name##Size3,           \
      int64_t name##Stride0, int64_t name##Stride1, int64_t name##Stride2,     \
      int64_t name##Stride3

#define EMBER_TENSOR2_ARGS(T, name)                                            \
  T *name##Alloc, T *name##Data, int64_t name##Offset, int64_t name##Size0,    \
      int64_t name##Size1, int64_t name##Stride0, int64_t name##Stride1

/// The entry points for element type `T`, named by `suffix` (f32 or f64;
/// CpuAttention.cpp defines both):
/// - ember_cpu_attention_<suffix>: out = softmax(q k^T * scale + mask) v,
///   lse = logsumexp of each row of the scaled, masked scores.
/// - ember_cpu_attention_heads_<suffix>: the same forward with q [B, H, L, E],
///   k [B, H, S, E], v [B, H, S, Ev] and out [B, H, L, Ev] as 4-d strided
///   views (the two batch dims need not collapse: heads read in place from a
///   fused QKV projection's output and written into the [B, L, H, Ev] layout
///   the output projection reads); mask [B * H or 1, L, S] and logsumexp
///   [B * H, L] as above.
/// - ember_cpu_attention_backward_<suffix>: dq, dk, dv from the output's
///   cotangent `grad`, the forward's operands, its output and logsumexp.
///   Every result is overwritten.
#define EMBER_DECLARE_CPU_ATTENTION(T, suffix)                                 \
  void ember_cpu_attention_##suffix(                                           \
      EMBER_TENSOR3_ARGS(T, q), EMBER_TENSOR3_ARGS(T, k),                      \
      EMBER_TENSOR3_ARGS(T, v), EMBER_TENSOR3_ARGS(T, mask),                   \
      EMBER_TENSOR3_ARGS(T, out), EMBER_TENSOR2_ARGS(T, lse), double scale,    \
      int64_t flags);                                                          \
  void ember_cpu_attention_heads_##suffix(                                     \
      EMBER_TENSOR4_ARGS(T, q), EMBER_TENSOR4_ARGS(T, k),                      \
      EMBER_TENSOR4_ARGS(T, v), EMBER_TENSOR3_ARGS(T, mask),                   \
      EMBER_TENSOR4_ARGS(T, out), EMBER_TENSOR2_ARGS(T, lse), double scale,    \
      int64_t flags);                                                          \
  void ember_cpu_attention_backward_##suffix(                                  \
      EMBER_TENSOR3_ARGS(T, grad), EMBER_TENSOR3_ARGS(T, q),                   \
      EMBER_TENSOR3_ARGS(T, k), EMBER_TENSOR3_ARGS(T, v),                      \
      EMBER_TENSOR3_ARGS(T, out), EMBER_TENSOR2_ARGS(T, lse),                  \
      EMBER_TENSOR3_ARGS(T, mask), EMBER_TENSOR3_ARGS(T, dq),                  \
      EMBER_TENSOR3_ARGS(T, dk), EMBER_TENSOR3_ARGS(T, dv), double scale,      \
      int64_t flags);

extern "C" {
EMBER_DECLARE_CPU_ATTENTION(float, f32)
EMBER_DECLARE_CPU_ATTENTION(double, f64)
}

#endif // EMBER_RUNTIME_CPUATTENTION_H
