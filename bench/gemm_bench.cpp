//===- gemm_bench.cpp - Ember's GEMM vs OpenBLAS vs the FMA peak ----------===//
//
// Square f32 GEMMs (512, 1024, 2048) on 1 and 2 threads: Ember's own GEMM
// and OpenBLAS's cblas_sgemm (as this process's environment configures it,
// OPENBLAS_CORETYPE included), repetitions interleaved in one process so
// that a noisy machine slows both alike, next to an FMA peak measured in the
// same run the way bench/peers/limits_probe.c measures it (independent FMA
// chains on whole vector registers per thread). Prints best-of GFLOP/s and
// the fraction of the peak. Usage: gemm_bench [rounds]
//
//===----------------------------------------------------------------------===//

#include "Timing.h"

#include "ember/Runtime/EmberGemm.h"

#include <cblas.h>
#include <immintrin.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

namespace {

using ember::bench::Clock;
using ember::bench::millisecondsSince;

constexpr int kChains = 12;

/// Independent FMA chains on 512-bit registers; returns a value depending on
/// all of them so the compiler keeps every chain.
__attribute__((target("avx512f,fma"), noinline)) float fmaChains(long iters) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i)
    acc[i] = _mm512_set1_ps(1.0f + 0.001f * i);
  const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
  float sum = 0;
  for (int i = 0; i < kChains; ++i)
    sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

/// The FMA peak in GFLOP/s on `threads` threads (best of three).
double fmaPeak(int threads) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f"))
    return 0;
  const long iters = 20000000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<std::thread> workers;
    volatile float sink = 0;
    Clock::time_point start = Clock::now();
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&] { sink = fmaChains(iters); });
    for (std::thread &worker : workers)
      worker.join();
    double seconds = millisecondsSince(start) / 1000.0;
    best = std::max(best, 2.0 * 16 * kChains * iters * threads / seconds / 1e9);
  }
  return best;
}

} // namespace

int main(int argc, char **argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  std::printf("Ember GEMM (%s kernel) vs OpenBLAS, best of %d interleaved "
              "rounds\n",
              ember::gemm::kernelName(), rounds);
  std::printf("%5s %7s %9s %9s %9s %8s %8s\n", "n", "threads", "peak",
              "ember", "openblas", "ember/pk", "ember/ob");
  for (int threads : {1, 2}) {
    double peak = fmaPeak(threads);
    openblas_set_num_threads(threads);
    for (int n : {512, 1024, 2048}) {
      std::mt19937 rng(n);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      std::vector<float> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
      for (float &v : a)
        v = dist(rng);
      for (float &v : b)
        v = dist(rng);
      double flops = 2.0 * n * n * n;
      double bestEmber = 1e30, bestBlas = 1e30;
      for (int round = 0; round <= rounds; ++round) {
        Clock::time_point start = Clock::now();
        ember::gemm::sgemm(n, n, n, 1.0f, {a.data(), n, 1}, {b.data(), n, 1},
                           0.0f, {c.data(), n, 1}, threads);
        double ember = millisecondsSince(start);
        start = Clock::now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f,
                    a.data(), n, b.data(), n, 0.0f, c.data(), n);
        double blas = millisecondsSince(start);
        if (round == 0) // warm-up: first touches, thread start
          continue;
        bestEmber = std::min(bestEmber, ember);
        bestBlas = std::min(bestBlas, blas);
      }
      double emberRate = flops / bestEmber / 1e6, blasRate = flops / bestBlas / 1e6;
      std::printf("%5d %7d %9.1f %9.1f %9.1f %7.0f%% %8.2f\n", n, threads, peak,
                  emberRate, blasRate, peak > 0 ? 100 * emberRate / peak : 0.0,
                  emberRate / blasRate);
    }
  }
  return 0;
}
