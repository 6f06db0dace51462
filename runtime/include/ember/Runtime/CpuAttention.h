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

extern "C" {
/// out = softmax(q k^T * scale + mask) v, lse = logsumexp of each row of
/// the scaled, masked scores; f32.
void ember_cpu_attention_f32(EMBER_TENSOR3_ARGS(float, q),
                             EMBER_TENSOR3_ARGS(float, k),
                             EMBER_TENSOR3_ARGS(float, v),
                             EMBER_TENSOR3_ARGS(float, mask),
                             EMBER_TENSOR3_ARGS(float, out),
                             EMBER_TENSOR2_ARGS(float, lse), double scale,
                             int64_t flags);
void ember_cpu_attention_f64(EMBER_TENSOR3_ARGS(double, q),
                             EMBER_TENSOR3_ARGS(double, k),
                             EMBER_TENSOR3_ARGS(double, v),
                             EMBER_TENSOR3_ARGS(double, mask),
                             EMBER_TENSOR3_ARGS(double, out),
                             EMBER_TENSOR2_ARGS(double, lse), double scale,
                             int64_t flags);
/// The same forward with q [B, H, L, E], k [B, H, S, E], v [B, H, S, Ev]
/// and out [B, H, L, Ev] as 4-d strided views (the two batch dims need not
/// collapse: heads read in place from a fused QKV projection's output and
/// written into the [B, L, H, Ev] layout the output projection reads);
/// mask [B * H or 1, L, S] and logsumexp [B * H, L] as above.
void ember_cpu_attention_heads_f32(EMBER_TENSOR4_ARGS(float, q),
                                   EMBER_TENSOR4_ARGS(float, k),
                                   EMBER_TENSOR4_ARGS(float, v),
                                   EMBER_TENSOR3_ARGS(float, mask),
                                   EMBER_TENSOR4_ARGS(float, out),
                                   EMBER_TENSOR2_ARGS(float, lse), double scale,
                                   int64_t flags);
void ember_cpu_attention_heads_f64(EMBER_TENSOR4_ARGS(double, q),
                                   EMBER_TENSOR4_ARGS(double, k),
                                   EMBER_TENSOR4_ARGS(double, v),
                                   EMBER_TENSOR3_ARGS(double, mask),
                                   EMBER_TENSOR4_ARGS(double, out),
                                   EMBER_TENSOR2_ARGS(double, lse), double scale,
                                   int64_t flags);
/// dq, dk, dv from the output's cotangent `grad`, the forward's operands,
/// its output and logsumexp; f32. Every result is overwritten.
void ember_cpu_attention_backward_f32(
    EMBER_TENSOR3_ARGS(float, grad), EMBER_TENSOR3_ARGS(float, q),
    EMBER_TENSOR3_ARGS(float, k), EMBER_TENSOR3_ARGS(float, v),
    EMBER_TENSOR3_ARGS(float, out), EMBER_TENSOR2_ARGS(float, lse),
    EMBER_TENSOR3_ARGS(float, mask), EMBER_TENSOR3_ARGS(float, dq),
    EMBER_TENSOR3_ARGS(float, dk), EMBER_TENSOR3_ARGS(float, dv),
    double scale, int64_t flags);
void ember_cpu_attention_backward_f64(
    EMBER_TENSOR3_ARGS(double, grad), EMBER_TENSOR3_ARGS(double, q),
    EMBER_TENSOR3_ARGS(double, k), EMBER_TENSOR3_ARGS(double, v),
    EMBER_TENSOR3_ARGS(double, out), EMBER_TENSOR2_ARGS(double, lse),
    EMBER_TENSOR3_ARGS(double, mask), EMBER_TENSOR3_ARGS(double, dq),
    EMBER_TENSOR3_ARGS(double, dk), EMBER_TENSOR3_ARGS(double, dv),
    double scale, int64_t flags);
}

#endif // EMBER_RUNTIME_CPUATTENTION_H
