//===- RowTimesMatrix.cpp - one row times a matrix, on Ember's pool --------===//
//
// A single-row product is memory-bound (each element of B is used once), so
// it only has to stream B at full bandwidth: no packing, vector loads along
// whichever of B's strides is 1, the output columns split across Ember's
// pool. It replaced OpenBLAS's gemv, which at these sizes (a 512 x 1000
// Linear) ran on OpenBLAS's own worker threads: after each call those spin
// in sched_yield for ~0.1 s (OpenBLAS's THREAD_TIMEOUT), so at batch 1 one
// of them was always runnable beside Ember's pool, a core that Ember's
// caller and worker then had to share (docs/knobs.md, EMBER_NUM_THREADS).
// The one-pixel 1x1 convolutions of a squeeze-excitation block at batch 1
// (CpuConv.cpp) run here too: the GEMM kept them on one thread (too few
// multiply-adds for a compute-bound split), but streaming the weights from
// the last-level cache splits well. A fused epilogue (bias, activation,
// residual) finishes each chunk of the row on the thread that computed it.
//
//===----------------------------------------------------------------------===//

#include "RowTimesMatrix.h"

#include "GemmEpilogueKernels.h"
#include "ember/Runtime/EmberGemm.h"
#include "ember/Runtime/ThreadPool.h"

#include <algorithm>
#include <cstring>

namespace ember {
namespace gemm {
namespace {

#define EMBER_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define EMBER_TARGET_AVX2 __attribute__((target("avx2,fma")))

/// The sum of a vector's lanes.
template <int W, typename V>
__attribute__((always_inline)) inline auto lanesSum(const V &v) {
  auto total = v[0];
  for (int u = 1; u < W; ++u)
    total += v[u];
  return total;
}

/// Output columns [lo, hi) from B's columns stored contiguously
/// (rsb == 1: column j is b[j * csb + 0 .. k)): dot products, four columns
/// at a time so that each load of x feeds four multiply-adds.
template <int Bytes, typename T>
__attribute__((always_inline)) inline void
dotColumns(int64_t k, const T *x, const T *b, int64_t csb, T beta, T *y,
           int64_t incy, int64_t lo, int64_t hi) {
  constexpr int W = Bytes / sizeof(T);
  typedef T V __attribute__((vector_size(Bytes)));
  auto store = [&](int64_t j, T total) {
    T &out = y[j * incy];
    out = beta == T(0) ? total : total + beta * out;
  };
  int64_t j = lo;
  for (; j + 4 <= hi; j += 4) {
    const T *c0 = b + j * csb, *c1 = c0 + csb, *c2 = c1 + csb, *c3 = c2 + csb;
    V a0 = {}, a1 = {}, a2 = {}, a3 = {};
    int64_t i = 0;
    for (; i + W <= k; i += W) {
      V xv, v0, v1, v2, v3;
      std::memcpy(&xv, x + i, sizeof(V));
      std::memcpy(&v0, c0 + i, sizeof(V));
      std::memcpy(&v1, c1 + i, sizeof(V));
      std::memcpy(&v2, c2 + i, sizeof(V));
      std::memcpy(&v3, c3 + i, sizeof(V));
      a0 += xv * v0;
      a1 += xv * v1;
      a2 += xv * v2;
      a3 += xv * v3;
    }
    T t0 = lanesSum<W>(a0), t1 = lanesSum<W>(a1), t2 = lanesSum<W>(a2),
      t3 = lanesSum<W>(a3);
    for (; i < k; ++i) {
      t0 += x[i] * c0[i];
      t1 += x[i] * c1[i];
      t2 += x[i] * c2[i];
      t3 += x[i] * c3[i];
    }
    store(j, t0);
    store(j + 1, t1);
    store(j + 2, t2);
    store(j + 3, t3);
  }
  for (; j < hi; ++j) {
    const T *column = b + j * csb;
    V acc = {};
    int64_t i = 0;
    for (; i + W <= k; i += W) {
      V xv, bv;
      std::memcpy(&xv, x + i, sizeof(V));
      std::memcpy(&bv, column + i, sizeof(V));
      acc += xv * bv;
    }
    T total = lanesSum<W>(acc);
    for (; i < k; ++i)
      total += x[i] * column[i];
    store(j, total);
  }
}

/// Output columns [lo, hi) from B's rows stored contiguously (csb == 1):
/// the block's sums stay in a local buffer while B's rows stream past.
template <int Bytes, typename T>
__attribute__((always_inline)) inline void axpyRows(int64_t k, const T *x, int64_t incx, const T *b,
                     int64_t rsb, T beta, T *y, int64_t incy, int64_t lo,
                     int64_t hi) {
  constexpr int W = Bytes / sizeof(T);
  constexpr int64_t kBlock = 512; // sums in L1
  typedef T V __attribute__((vector_size(Bytes)));
  for (int64_t j0 = lo; j0 < hi; j0 += kBlock) {
    int64_t width = std::min(kBlock, hi - j0);
    int64_t vectors = width / W;
    V sums[kBlock / W] = {};
    T tail[W] = {};
    for (int64_t i = 0; i < k; ++i) {
      const T *row = b + i * rsb + j0;
      T xi = x[i * incx];
      V xv = V{} + xi; // broadcast
      for (int64_t v = 0; v < vectors; ++v) {
        V bv;
        std::memcpy(&bv, row + v * W, sizeof(V));
        sums[v] += xv * bv;
      }
      for (int64_t j = vectors * W; j < width; ++j)
        tail[j - vectors * W] += xi * row[j];
    }
    for (int64_t j = 0; j < width; ++j) {
      T total = j < vectors * W ? sums[j / W][j % W] : tail[j - vectors * W];
      T &out = y[(j0 + j) * incy];
      out = beta == T(0) ? total : total + beta * out;
    }
  }
}

/// Any strides: one scalar dot product per output column.
template <typename T>
void anyStrides(int64_t k, const T *x, int64_t incx, const T *b, int64_t rsb,
                int64_t csb, T beta, T *y, int64_t incy, int64_t lo,
                int64_t hi) {
  for (int64_t j = lo; j < hi; ++j) {
    T total = 0;
    for (int64_t i = 0; i < k; ++i)
      total += x[i * incx] * b[i * rsb + j * csb];
    T &out = y[j * incy];
    out = beta == T(0) ? total : total + beta * out;
  }
}

template <typename T> struct Columns {
  int64_t k;
  const T *x;
  int64_t incx;
  const T *b;
  int64_t rsb, csb;
  T beta;
  T *y;
  int64_t incy;
};

template <int Bytes, typename T>
__attribute__((always_inline)) inline void columnsAt(const Columns<T> &p, int64_t lo, int64_t hi) {
  if (p.rsb == 1 && p.incx == 1)
    dotColumns<Bytes>(p.k, p.x, p.b, p.csb, p.beta, p.y, p.incy, lo, hi);
  else if (p.csb == 1)
    axpyRows<Bytes>(p.k, p.x, p.incx, p.b, p.rsb, p.beta, p.y, p.incy, lo,
                    hi);
  else
    anyStrides(p.k, p.x, p.incx, p.b, p.rsb, p.csb, p.beta, p.y, p.incy, lo,
               hi);
}

template <typename T>
EMBER_TARGET_AVX512 void columnsAvx512(const Columns<T> &p, int64_t lo,
                                       int64_t hi) {
  columnsAt<64>(p, lo, hi);
}
template <typename T>
EMBER_TARGET_AVX2 void columnsAvx2(const Columns<T> &p, int64_t lo,
                                   int64_t hi) {
  columnsAt<32>(p, lo, hi);
}
template <typename T>
void columnsPortable(const Columns<T> &p, int64_t lo, int64_t hi) {
  columnsAt<16>(p, lo, hi);
}

/// Finishes y's columns [lo, hi) with `epilogue` (f32 only).
void finish(const ember_gemm_epilogue *epilogue, float *y, int64_t incy,
            int64_t lo, int64_t hi) {
  if (epilogue)
    applyEpilogue(1, hi - lo, {y + lo * incy, hi - lo, incy},
                  shiftEpilogue(*epilogue, 0, lo));
}
void finish(const ember_gemm_epilogue *, double *, int64_t, int64_t,
            int64_t) {}

template <typename T>
void run(int64_t k, int64_t n, const T *x, int64_t incx, const T *b,
         int64_t rsb, int64_t csb, T beta, T *y, int64_t incy,
         const ember_gemm_epilogue *epilogue = nullptr) {
  static void (*const columns)(const Columns<T> &, int64_t, int64_t) = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
      return &columnsAvx512<T>;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      return &columnsAvx2<T>;
    return &columnsPortable<T>;
  }();
  Columns<T> p{k, x, incx, b, rsb, csb, beta, y, incy};
  // Columns per chunk: ~32K multiply-adds (128 KiB of f32 weights, a few
  // microseconds from the last-level cache) or more, so that short
  // products stay on the calling thread.
  int64_t grain = std::max<int64_t>(16, (int64_t{1} << 15) / std::max<int64_t>(k, 1));
  if (epilogueDoesNothing(epilogue))
    epilogue = nullptr;
  parallelFor(0, n, grain, [&](int64_t lo, int64_t hi) {
    columns(p, lo, hi);
    finish(epilogue, y, incy, lo, hi);
  });
}

} // namespace

void rowTimesMatrix(int64_t k, int64_t n, const float *x, int64_t incx,
                    const float *b, int64_t rsb, int64_t csb, float beta,
                    float *y, int64_t incy,
                    const ember_gemm_epilogue *epilogue) {
  run(k, n, x, incx, b, rsb, csb, beta, y, incy, epilogue);
}

void rowTimesMatrix(int64_t k, int64_t n, const double *x, int64_t incx,
                    const double *b, int64_t rsb, int64_t csb, double beta,
                    double *y, int64_t incy) {
  run(k, n, x, incx, b, rsb, csb, beta, y, incy);
}

} // namespace gemm
} // namespace ember
