// limits_probe.c - The machine's FMA peak and memory bandwidth, measured the same run.
//
// bench/peers/run.py compiles this at run time (cc -O3 -march=native -fopenmp)
// and runs it before and after the timings; it prints one JSON object. Ember's GFLOP/s and GB/s are
// reported as fractions of these numbers, so they come from the same machine
// and the same minutes as the timings.
//
// FMA peak: each thread runs independent chains of fused multiply-adds on
// whole vector registers (AVX-512 where the compiler targets it, else AVX2,
// else scalar): 12 chains, enough to cover the FMA latency on two pipes and
// few enough that AVX2's 16 registers hold them with the two constants (with
// 16 the AVX2 build spills, and the probe would measure the spills).
// Bandwidth: STREAM-style copy and triad on arrays far larger than the
// caches, counted the way STREAM counts (bytes read + bytes written, no
// write-allocate traffic), a triad with streaming stores (which has none)
// and a read-only sum; the best of several passes.
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double now(void) { return omp_get_wtime(); }

#define CHAINS 12 // also the unroll count below

#if defined(__AVX512F__)
#define ISA "avx512"
#define LANES 16
typedef __m512 vec;
#define VSET(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
static float vsum(vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX2__) && defined(__FMA__)
#define ISA "avx2"
#define LANES 8
typedef __m256 vec;
#define VSET(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
static float vsum(vec v) {
  float t[8];
  _mm256_storeu_ps(t, v);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#else
#define ISA "scalar"
#define LANES 1
typedef float vec;
#define VSET(x) (x)
#define VFMA(a, b, c) ((a) * (b) + (c))
static float vsum(vec v) { return v; }
#endif

// Runs `iters` rounds of CHAINS independent FMAs; returns a value that
// depends on every chain so the compiler keeps them all.
static float fmaChains(long iters, float seed) {
  vec acc[CHAINS];
  for (int i = 0; i < CHAINS; ++i)
    acc[i] = VSET(seed + 0.001f * i);
  const vec mul = VSET(0.999999f), add = VSET(1e-7f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < CHAINS; ++i)
      acc[i] = VFMA(acc[i], mul, add);
  }
  float s = 0;
  for (int i = 0; i < CHAINS; ++i)
    s += vsum(acc[i]);
  return s;
}

static double fmaPeakGflops(int threads) {
  const long iters = 20000000;
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    double t0 = now();
#pragma omp parallel num_threads(threads)
    {
      float s = fmaChains(iters, 1.0f + omp_get_thread_num());
#pragma omp atomic
      sink += s;
    }
    double dt = now() - t0;
    double flops = 2.0 * LANES * CHAINS * (double)iters * threads;
    if (flops / dt / 1e9 > best)
      best = flops / dt / 1e9;
  }
  return best;
}

// a = b + s * c with streaming (non-temporal) stores: no read-for-ownership
// of `a`, as a kernel that writes whole cache lines can get.
static void triadStreaming(long begin, long end, double *a, const double *b,
                           const double *c) {
#if defined(__AVX512F__)
  const __m512d s = _mm512_set1_pd(3.0);
  for (long i = begin; i < end; i += 8)
    _mm512_stream_pd(a + i, _mm512_fmadd_pd(s, _mm512_load_pd(c + i),
                                            _mm512_load_pd(b + i)));
#elif defined(__AVX__)
  const __m256d s = _mm256_set1_pd(3.0);
  for (long i = begin; i < end; i += 4)
    _mm256_stream_pd(a + i, _mm256_add_pd(_mm256_load_pd(b + i),
                                          _mm256_mul_pd(s, _mm256_load_pd(c + i))));
#else
  for (long i = begin; i < end; ++i)
    a[i] = b[i] + 3.0 * c[i];
#endif
}

// The sum of a[begin, end) with four vector accumulators, so that the add
// latency does not bound it.
static double sumRange(long begin, long end, const double *a) {
#if defined(__AVX512F__)
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  for (long i = begin; i < end; i += 32) {
    s0 = _mm512_add_pd(s0, _mm512_load_pd(a + i));
    s1 = _mm512_add_pd(s1, _mm512_load_pd(a + i + 8));
    s2 = _mm512_add_pd(s2, _mm512_load_pd(a + i + 16));
    s3 = _mm512_add_pd(s3, _mm512_load_pd(a + i + 24));
  }
  return _mm512_reduce_add_pd(
      _mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
#else
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (long i = begin; i < end; i += 4) {
    s0 += a[i];
    s1 += a[i + 1];
    s2 += a[i + 2];
    s3 += a[i + 3];
  }
  return s0 + s1 + s2 + s3;
#endif
}

// copy: c = a; triad: a = b + s * c (plain and streaming stores); read: the
// sum of a (no stores at all). Returns GB/s of the best pass of each.
static void bandwidth(int threads, long n, double *a, double *b, double *c,
                      double *copyGBs, double *triadGBs, double *triadNtGBs,
                      double *readGBs) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long i = 0; i < n; ++i) {
    a[i] = 1.0;
    b[i] = 2.0;
    c[i] = 0.0;
  }
  double bestCopy = 0, bestTriad = 0, bestTriadNt = 0, bestRead = 0;
  volatile double sink = 0;
  for (int rep = 0; rep < 6; ++rep) {
    double t0 = now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < n; ++i)
      c[i] = a[i];
    double t1 = now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < n; ++i)
      a[i] = b[i] + 3.0 * c[i];
    double t2 = now();
    // Each thread takes a chunk that is a multiple of 32 doubles (n is a
    // power of two), so the aligned vector loops here need no tail.
#pragma omp parallel num_threads(threads)
    {
      long chunk = n / omp_get_num_threads();
      long begin = chunk * omp_get_thread_num();
      triadStreaming(begin, begin + chunk, a, b, c);
    }
    double t3 = now();
    double sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    {
      long chunk = n / omp_get_num_threads();
      long begin = chunk * omp_get_thread_num();
      sum += sumRange(begin, begin + chunk, a);
    }
    double t4 = now();
    sink += sum;
    double copy = 2.0 * 8 * n / (t1 - t0) / 1e9;
    double triad = 3.0 * 8 * n / (t2 - t1) / 1e9;
    double triadNt = 3.0 * 8 * n / (t3 - t2) / 1e9;
    double read = 8.0 * n / (t4 - t3) / 1e9;
    if (copy > bestCopy)
      bestCopy = copy;
    if (triad > bestTriad)
      bestTriad = triad;
    if (triadNt > bestTriadNt)
      bestTriadNt = triadNt;
    if (read > bestRead)
      bestRead = read;
  }
  *copyGBs = bestCopy;
  *triadGBs = bestTriad;
  *triadNtGBs = bestTriadNt;
  *readGBs = bestRead;
}

int main(int argc, char **argv) {
  int maxThreads = argc > 1 ? atoi(argv[1]) : omp_get_num_procs();
  long n = 1L << 24; // 16M doubles = 128 MB per array
  double *a = aligned_alloc(64, n * sizeof(double));
  double *b = aligned_alloc(64, n * sizeof(double));
  double *c = aligned_alloc(64, n * sizeof(double));
  if (!a || !b || !c)
    return 1;
  printf("{\"isa\": \"%s\", \"threads\": {", ISA);
  int counts[2] = {1, maxThreads};
  int nCounts = maxThreads > 1 ? 2 : 1;
  for (int k = 0; k < nCounts; ++k) {
    int t = counts[k];
    double copy, triad, triadNt, read;
    double peak = fmaPeakGflops(t);
    bandwidth(t, n, a, b, c, &copy, &triad, &triadNt, &read);
    printf("%s\"%d\": {\"fma_gflops\": %.1f, \"copy_gbs\": %.1f, \"triad_gbs\": %.1f, "
           "\"triad_nt_gbs\": %.1f, \"read_gbs\": %.1f}",
           k ? ", " : "", t, peak, copy, triad, triadNt, read);
    fflush(stdout);
  }
  printf("}}\n");
  free(a);
  free(b);
  free(c);
  return 0;
}
