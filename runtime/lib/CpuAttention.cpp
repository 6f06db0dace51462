//===- CpuAttention.cpp - blocked attention kernels for compiled code ------===//
//
// Flash-attention on the CPU (see CpuAttention.h). Forward, for one batch
// item and one block of query rows: for each block of keys, the scores
// S = Q K^T * scale (a GEMM), the mask and causal masking, then per row the
// online softmax: m' = max(m, max_j S), the row's accumulator and running
// sum rescaled by exp(m - m'), P = exp(S - m') summed into the running sum,
// and the accumulator += P V (a GEMM). At the end out = acc / sum and
// lse = m + log(sum). Only a block of scores exists at a time (kQueryBlock
// x kKeyBlock), so long sequences stay in cache.
//
// Backward, per batch item: D = rowsum(grad * out); for each key block and
// each query block, P = exp(S - lse) recomputed, dV += P^T grad,
// dP = grad V^T, dS = P * (dP - D), dQ += dS K * scale, dK += dS^T Q *
// scale.
//
// f32 runs the AVX-512 kernels of CpuAttentionFast.cpp where they apply
// (about 1.5x these kernels). Here f32 products run on Ember's GEMM (one
// thread: the blocks already run in parallel), f64 products on plain
// loops; the exponentials of a row are AVX2 where the CPU has it (f32).
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuAttention.h"
#include "CpuAttentionFast.h"
#include "ember/Runtime/EmberGemm.h"
#include "ember/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 128;

/// One batch item's matrix: element (i, j) at data[i * rs + j * cs].
template <typename T>
struct View {
  T *data;
  int64_t rs, cs;
  T &at(int64_t i, int64_t j) const { return data[i * rs + j * cs]; }
  View rowsFrom(int64_t i) const { return {data + i * rs, rs, cs}; }
  View transposed() const { return {data, cs, rs}; }
};

/// A flattened [B, R, C] memref; with `heads` > 1 a [B / heads, heads, R,
/// C] one, the heads `headStride` apart (ember_cpu_attention_heads_*).
template <typename T>
struct Tensor3 {
  T *data;
  int64_t size[3], stride[3];
  int64_t heads = 1, headStride = 0;
  View<T> item(int64_t b) const {
    int64_t offset = heads == 1 ? b * stride[0]
                                : (b / heads) * stride[0] + (b % heads) * headStride;
    return {data + offset, stride[1], stride[2]};
  }
};

template <typename T>
struct Tensor2 {
  T *data;
  int64_t size[2], stride[2];
  T &at(int64_t b, int64_t i) const {
    return data[b * stride[0] + i * stride[1]];
  }
};

/// C[m, n] = alpha * A[m, k] B[k, n] + beta * C on this thread.
void gemm(int64_t m, int64_t n, int64_t k, float alpha, View<float> a,
          View<float> b, float beta, View<float> c) {
  ember::gemm::sgemm(m, n, k, alpha, {a.data, a.rs, a.cs}, {b.data, b.rs, b.cs},
                     beta, {c.data, c.rs, c.cs}, /*threads=*/1);
}

void gemm(int64_t m, int64_t n, int64_t k, double alpha, View<double> a,
          View<double> b, double beta, View<double> c) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j)
      c.at(i, j) = beta == 0 ? 0.0 : c.at(i, j) * beta;
    for (int64_t p = 0; p < k; ++p) {
      double scaled = alpha * a.at(i, p);
      for (int64_t j = 0; j < n; ++j)
        c.at(i, j) += scaled * b.at(p, j);
    }
  }
}

#if defined(__x86_64__)
/// e^x for 8 floats: x = n ln2 + r, |r| <= ln2/2, e^r by its degree-6
/// Taylor polynomial (relative error ~1e-7), 2^n from the exponent bits.
/// Inputs below -87.3 (the -inf of masked scores included) give 0.
__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 underflow = _mm256_set1_ps(-87.3f);
  __m256 tiny = _mm256_cmp_ps(x, underflow, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, underflow), _mm256_set1_ps(88.3f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i bits = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  return _mm256_andnot_ps(tiny, result);
}

/// row[j] = exp(row[j] - shift); returns the sum (AVX2).
__attribute__((target("avx2,fma"))) float expRowAvx2(float *row, int64_t n,
                                                      float shift) {
  __m256 vshift = _mm256_set1_ps(shift), acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), vshift));
    _mm256_storeu_ps(row + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  float sum = 0;
  for (float lane : lanes)
    sum += lane;
  for (; j < n; ++j) {
    row[j] = std::exp(row[j] - shift);
    sum += row[j];
  }
  return sum;
}

/// max(row[0..n)) (AVX2; -inf for an empty row). A scalar max is a chain
/// of dependent instructions per score: this was the forward's bottleneck.
__attribute__((target("avx2,fma"))) float rowMaxAvx2(const float *row,
                                                      int64_t n) {
  __m256 acc = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    acc = _mm256_max_ps(acc, _mm256_loadu_ps(row + j));
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  float best = lanes[0];
  for (float lane : lanes)
    best = std::max(best, lane);
  for (; j < n; ++j)
    best = std::max(best, row[j]);
  return best;
}

bool haveAvx2() {
  static const bool have =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return have;
}
#endif

float expRow(float *row, int64_t n, float shift) {
#if defined(__x86_64__)
  if (haveAvx2())
    return expRowAvx2(row, n, shift);
#endif
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    row[j] = std::exp(row[j] - shift);
    sum += row[j];
  }
  return sum;
}

float rowMax(const float *row, int64_t n) {
#if defined(__x86_64__)
  if (haveAvx2())
    return rowMaxAvx2(row, n);
#endif
  float best = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j)
    best = std::max(best, row[j]);
  return best;
}

double rowMax(const double *row, int64_t n) {
  double best = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j)
    best = std::max(best, row[j]);
  return best;
}

double expRow(double *row, int64_t n, double shift) {
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    row[j] = std::exp(row[j] - shift);
    sum += row[j];
  }
  return sum;
}

template <typename T>
struct Problem {
  Tensor3<T> q, k, v, mask, out;
  Tensor2<T> lse;
  T scale;
  bool causal, hasMask;
  int64_t batch, l, s, e, ev;
};

/// The scores of query rows [i0, i0 + rows) against keys [j0, j0 + cols)
/// of batch item b into `scores` (row stride kKeyBlock): q k^T * scale,
/// plus the mask, -inf where causal hides key j from query i.
template <typename T>
void blockScores(const Problem<T> &p, int64_t b, int64_t i0, int64_t rows,
                 int64_t j0, int64_t cols, T *scores) {
  View<T> sc{scores, kKeyBlock, 1};
  gemm(rows, cols, p.e, p.scale, p.q.item(b).rowsFrom(i0),
       p.k.item(b).rowsFrom(j0).transposed(), T(0), sc);
  const T negInf = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < rows; ++r) {
    T *row = scores + r * kKeyBlock;
    if (p.hasMask) {
      View<T> m = p.mask.item(b);
      for (int64_t c = 0; c < cols; ++c)
        row[c] += m.at(i0 + r, j0 + c);
    }
    if (p.causal)
      for (int64_t c = std::max<int64_t>(0, i0 + r + 1 - j0); c < cols; ++c)
        row[c] = negInf;
  }
}

/// Keys a causal query block [i0, i0 + rows) sees: [0, end).
template <typename T>
int64_t keyEnd(const Problem<T> &p, int64_t i0, int64_t rows) {
  return p.causal ? std::min(p.s, i0 + rows) : p.s;
}

template <typename T>
void forwardBlock(const Problem<T> &p, int64_t b, int64_t i0,
                  std::vector<T> &scratch) {
  int64_t rows = std::min(kQueryBlock, p.l - i0);
  scratch.resize(static_cast<size_t>(kQueryBlock * kKeyBlock +
                                     kQueryBlock * p.ev + 2 * kQueryBlock));
  T *scores = scratch.data();
  T *acc = scores + kQueryBlock * kKeyBlock;
  T *runMax = acc + kQueryBlock * p.ev;
  T *runSum = runMax + kQueryBlock;
  const T negInf = -std::numeric_limits<T>::infinity();
  std::fill(acc, acc + rows * p.ev, T(0));
  std::fill(runMax, runMax + rows, negInf);
  std::fill(runSum, runSum + rows, T(0));
  View<T> accView{acc, p.ev, 1};
  int64_t end = keyEnd(p, i0, rows);
  for (int64_t j0 = 0; j0 < end; j0 += kKeyBlock) {
    int64_t cols = std::min(kKeyBlock, end - j0);
    blockScores(p, b, i0, rows, j0, cols, scores);
    for (int64_t r = 0; r < rows; ++r) {
      T *row = scores + r * kKeyBlock;
      T newMax = std::max(runMax[r], rowMax(row, cols));
      if (newMax == negInf) { // every key so far masked: nothing to add
        std::fill(row, row + cols, T(0));
        continue;
      }
      T correction = std::exp(runMax[r] - newMax);
      runSum[r] = runSum[r] * correction + expRow(row, cols, newMax);
      if (correction != T(1))
        for (int64_t x = 0; x < p.ev; ++x)
          acc[r * p.ev + x] *= correction;
      runMax[r] = newMax;
    }
    gemm(rows, p.ev, cols, T(1), View<T>{scores, kKeyBlock, 1},
         p.v.item(b).rowsFrom(j0), T(1), accView);
  }
  View<T> out = p.out.item(b);
  for (int64_t r = 0; r < rows; ++r) {
    // A row with every key masked: 0 / 0, NaN, as torch's softmax gives.
    T inverse = T(1) / runSum[r];
    for (int64_t x = 0; x < p.ev; ++x)
      out.at(i0 + r, x) = acc[r * p.ev + x] * inverse;
    p.lse.at(b, i0 + r) = runMax[r] + std::log(runSum[r]);
  }
}

template <typename T>
Problem<T> makeProblem(Tensor3<T> q, Tensor3<T> k, Tensor3<T> v,
                       Tensor3<T> mask, Tensor3<T> out, Tensor2<T> lse,
                       double scale, int64_t flags) {
  // One mask for every batch item.
  if (mask.size[0] == 1)
    mask.stride[0] = 0;
  return {q,
          k,
          v,
          mask,
          out,
          lse,
          static_cast<T>(scale),
          (flags & 1) != 0,
          (flags & 2) != 0,
          q.size[0],
          q.size[1],
          k.size[1],
          q.size[2],
          v.size[2]};
}

ember::attention::Matrix fastMatrix(const Tensor3<float> &t) {
  return {t.data, t.stride[0], t.stride[1], t.stride[2], t.heads, t.headStride};
}

ember::attention::FastProblem fastProblem(const Problem<float> &p) {
  return {fastMatrix(p.q),   fastMatrix(p.k),    fastMatrix(p.v),
          fastMatrix(p.mask), fastMatrix(p.out), p.lse.data,
          p.lse.stride[0],   p.lse.stride[1],    p.scale,
          p.causal,          p.hasMask,          p.batch,
          p.l,               p.s,                p.e,
          p.ev};
}

/// The AVX-512 kernels (CpuAttentionFast.cpp) where they apply: f32 only.
bool tryFastForward(const Problem<float> &p) {
  ember::attention::FastProblem fast = fastProblem(p);
  if (!ember::attention::fastAttentionApplies(fast, /*backward=*/false))
    return false;
  ember::attention::fastAttentionForward(fast);
  return true;
}
bool tryFastForward(const Problem<double> &) { return false; }

bool tryFastBackward(const Problem<float> &p, Tensor3<float> grad,
                     Tensor3<float> dq, Tensor3<float> dk, Tensor3<float> dv) {
  ember::attention::FastProblem fast = fastProblem(p);
  ember::attention::Matrix g = fastMatrix(grad), q = fastMatrix(dq),
                           k = fastMatrix(dk), v = fastMatrix(dv);
  if (!ember::attention::fastAttentionApplies(fast, /*backward=*/true, &g, &q,
                                              &k, &v))
    return false;
  ember::attention::fastAttentionBackward(fast, g, q, k, v);
  return true;
}
bool tryFastBackward(const Problem<double> &, Tensor3<double>, Tensor3<double>,
                     Tensor3<double>, Tensor3<double>) {
  return false;
}

template <typename T>
void attentionForward(const Problem<T> &p) {
  if (tryFastForward(p))
    return;
  int64_t blocks = (p.l + kQueryBlock - 1) / kQueryBlock;
  if (p.batch == 0 || blocks == 0)
    return;
  ember::parallelFor(0, p.batch * blocks, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> scratch;
    for (int64_t task = lo; task < hi; ++task)
      forwardBlock(p, task / blocks, (task % blocks) * kQueryBlock, scratch);
  });
}

template <typename T>
void zero(View<T> m, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      m.at(i, j) = T(0);
}

template <typename T>
void backwardItem(const Problem<T> &p, Tensor3<T> grad, Tensor3<T> dq,
                  Tensor3<T> dk, Tensor3<T> dv, int64_t b,
                  std::vector<T> &scratch) {
  scratch.resize(static_cast<size_t>(2 * kQueryBlock * kKeyBlock + p.l));
  T *probs = scratch.data();
  T *dprobs = probs + kQueryBlock * kKeyBlock;
  T *rowDot = dprobs + kQueryBlock * kKeyBlock;
  View<T> g = grad.item(b), o = p.out.item(b), q = p.q.item(b),
          k = p.k.item(b), v = p.v.item(b);
  View<T> dqv = dq.item(b), dkv = dk.item(b), dvv = dv.item(b);
  for (int64_t i = 0; i < p.l; ++i) {
    T sum = 0;
    for (int64_t x = 0; x < p.ev; ++x)
      sum += g.at(i, x) * o.at(i, x);
    rowDot[i] = sum;
  }
  zero(dqv, p.l, p.e);
  zero(dkv, p.s, p.e);
  zero(dvv, p.s, p.ev);
  View<T> pv{probs, kKeyBlock, 1}, dpv{dprobs, kKeyBlock, 1};
  for (int64_t j0 = 0; j0 < p.s; j0 += kKeyBlock) {
    int64_t cols = std::min(kKeyBlock, p.s - j0);
    // Causal: query blocks ending before j0 see none of these keys.
    int64_t firstQuery = p.causal ? std::min(p.l, j0) : 0;
    for (int64_t i0 = firstQuery / kQueryBlock * kQueryBlock; i0 < p.l;
         i0 += kQueryBlock) {
      int64_t rows = std::min(kQueryBlock, p.l - i0);
      blockScores(p, b, i0, rows, j0, cols, probs);
      for (int64_t r = 0; r < rows; ++r) {
        T *row = probs + r * kKeyBlock;
        expRow(row, cols, p.lse.at(b, i0 + r));
      }
      // dV[j] += P^T grad; dP = grad V^T.
      gemm(cols, p.ev, rows, T(1), pv.transposed(), g.rowsFrom(i0), T(1),
           dvv.rowsFrom(j0));
      gemm(rows, cols, p.ev, T(1), g.rowsFrom(i0),
           v.rowsFrom(j0).transposed(), T(0), dpv);
      for (int64_t r = 0; r < rows; ++r) {
        T *dRow = dprobs + r * kKeyBlock;
        const T *pRow = probs + r * kKeyBlock;
        T d = rowDot[i0 + r];
        for (int64_t c = 0; c < cols; ++c)
          dRow[c] = pRow[c] * (dRow[c] - d);
      }
      // dQ[i] += dS K * scale; dK[j] += dS^T Q * scale.
      gemm(rows, p.e, cols, p.scale, dpv, k.rowsFrom(j0), T(1),
           dqv.rowsFrom(i0));
      gemm(cols, p.e, rows, p.scale, dpv.transposed(), q.rowsFrom(i0), T(1),
           dkv.rowsFrom(j0));
    }
  }
}

template <typename T>
void attentionBackward(const Problem<T> &p, Tensor3<T> grad, Tensor3<T> dq,
                       Tensor3<T> dk, Tensor3<T> dv) {
  if (tryFastBackward(p, grad, dq, dk, dv))
    return;
  ember::parallelFor(0, p.batch, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> scratch;
    for (int64_t b = lo; b < hi; ++b)
      backwardItem(p, grad, dq, dk, dv, b, scratch);
  });
}

} // namespace

#define TENSOR3(name)                                                          \
  {name##Data + name##Offset,                                                  \
   {name##Size0, name##Size1, name##Size2},                                    \
   {name##Stride0, name##Stride1, name##Stride2}}
#define TENSOR2(name)                                                          \
  {name##Data + name##Offset,                                                  \
   {name##Size0, name##Size1},                                                 \
   {name##Stride0, name##Stride1}}

/// A [B, H, R, C] memref as a Tensor3 of B * H items.
#define TENSOR4(T, name)                                                       \
  heads4<T>(name##Data + name##Offset, name##Size0, name##Size1, name##Size2,  \
            name##Size3, name##Stride0, name##Stride1, name##Stride2,          \
            name##Stride3)

namespace {
template <typename T>
Tensor3<T> heads4(T *data, int64_t b, int64_t h, int64_t r, int64_t c,
                  int64_t sb, int64_t sh, int64_t sr, int64_t sc) {
  Tensor3<T> t{data, {b * h, r, c}, {sb, sr, sc}};
  t.heads = std::max<int64_t>(h, 1);
  t.headStride = sh;
  return t;
}
} // namespace

#define DEFINE_ATTENTION(T, suffix)                                            \
  void ember_cpu_attention_##suffix(                                           \
      EMBER_TENSOR3_ARGS(T, q), EMBER_TENSOR3_ARGS(T, k),                      \
      EMBER_TENSOR3_ARGS(T, v), EMBER_TENSOR3_ARGS(T, mask),                   \
      EMBER_TENSOR3_ARGS(T, out), EMBER_TENSOR2_ARGS(T, lse), double scale,    \
      int64_t flags) {                                                         \
    attentionForward(makeProblem<T>(TENSOR3(q), TENSOR3(k), TENSOR3(v),        \
                                    TENSOR3(mask), TENSOR3(out), TENSOR2(lse), \
                                    scale, flags));                            \
  }                                                                            \
  void ember_cpu_attention_backward_##suffix(                                  \
      EMBER_TENSOR3_ARGS(T, grad), EMBER_TENSOR3_ARGS(T, q),                   \
      EMBER_TENSOR3_ARGS(T, k), EMBER_TENSOR3_ARGS(T, v),                      \
      EMBER_TENSOR3_ARGS(T, out), EMBER_TENSOR2_ARGS(T, lse),                  \
      EMBER_TENSOR3_ARGS(T, mask), EMBER_TENSOR3_ARGS(T, dq),                  \
      EMBER_TENSOR3_ARGS(T, dk), EMBER_TENSOR3_ARGS(T, dv), double scale,      \
      int64_t flags) {                                                         \
    attentionBackward(makeProblem<T>(TENSOR3(q), TENSOR3(k), TENSOR3(v),       \
                                     TENSOR3(mask), TENSOR3(out),              \
                                     TENSOR2(lse), scale, flags),              \
                      Tensor3<T> TENSOR3(grad), Tensor3<T> TENSOR3(dq),        \
                      Tensor3<T> TENSOR3(dk), Tensor3<T> TENSOR3(dv));         \
  }                                                                            \
  void ember_cpu_attention_heads_##suffix(                                     \
      EMBER_TENSOR4_ARGS(T, q), EMBER_TENSOR4_ARGS(T, k),                      \
      EMBER_TENSOR4_ARGS(T, v), EMBER_TENSOR3_ARGS(T, mask),                   \
      EMBER_TENSOR4_ARGS(T, out), EMBER_TENSOR2_ARGS(T, lse), double scale,    \
      int64_t flags) {                                                         \
    attentionForward(makeProblem<T>(TENSOR4(T, q), TENSOR4(T, k),              \
                                    TENSOR4(T, v), TENSOR3(mask),              \
                                    TENSOR4(T, out), TENSOR2(lse),             \
                                    scale, flags));                            \
  }

namespace ember {
/// Switches the f32 AVX-512 kernels off (false) or back on (true, the
/// default), so that the portable kernels run; returns the previous setting.
/// Not in CpuAttention.h: for //test/unit:cpu_attention_test and A/B runs,
/// which declare it themselves.
bool setFastAttention(bool enabled);
} // namespace ember

bool ember::setFastAttention(bool enabled) {
  return ember::attention::setFastAttentionEnabled(enabled);
}

extern "C" {
DEFINE_ATTENTION(float, f32)
DEFINE_ATTENTION(double, f64)
}
