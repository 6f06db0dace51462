//===- CpuAttentionFast.h - AVX-512 flash attention for f32 ------*- C++ -*-===//
//
// The f32 attention kernels CpuAttention.cpp runs when the CPU has AVX-512
// and the operands fit (CpuAttentionFast.cpp): register-blocked micro-kernels
// for the four products of the forward and the five of the backward, the
// online softmax and its exponentials in 16-float vectors, no call to the
// general GEMM and no allocation once a thread's buffers have grown. Internal
// to the runtime; no LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUATTENTIONFAST_H
#define EMBER_RUNTIME_CPUATTENTIONFAST_H

#include <cstdint>

namespace ember {
namespace attention {

/// One operand, a flattened [B, R, C] memref: element (b, i, j) at
/// data[b * bs + i * rs + j * cs]. With `heads` > 1 the batch is
/// [B / heads, heads] with strides (bs, hs): a [batch, heads, R, C] view of
/// a projection's output read in place.
struct Matrix {
  float *data;
  int64_t bs, rs, cs;
  int64_t heads = 1, hs = 0;
  float *row(int64_t b, int64_t i) const {
    int64_t item = heads == 1 ? b * bs : (b / heads) * bs + (b % heads) * hs;
    return data + item + i * rs;
  }
};

struct FastProblem {
  Matrix q, k, v, mask, out;
  float *lse;
  int64_t lseBs, lseCs;
  float scale;
  bool causal, hasMask;
  int64_t batch, l, s, e, ev;
};

/// True when the fast kernels can run `p` (AVX-512 present, unit column
/// strides where they are read as vectors, head sizes in range) and they are
/// not switched off. `backward` adds the backward's operands' conditions.
bool fastAttentionApplies(const FastProblem &p, bool backward,
                          const Matrix *grad = nullptr,
                          const Matrix *dq = nullptr,
                          const Matrix *dk = nullptr,
                          const Matrix *dv = nullptr);

/// out and lse of `p` (fastAttentionApplies must hold).
void fastAttentionForward(const FastProblem &p);

/// dq, dk, dv of `p` from the output's cotangent (overwritten).
void fastAttentionBackward(const FastProblem &p, const Matrix &grad,
                           const Matrix &dq, const Matrix &dk,
                           const Matrix &dv);

/// Switches the fast kernels on or off (on by default); returns the
/// previous setting. For tests and A/B measurements.
bool setFastAttentionEnabled(bool enabled);

} // namespace attention
} // namespace ember

#endif // EMBER_RUNTIME_CPUATTENTIONFAST_H
