//===- gemm_bench.cpp - Ember's GEMM vs OpenBLAS vs the FMA peak ----------===//
//
// Square f32 GEMMs (512, 1024, 2048) on 1 and 2 threads: Ember's own GEMM
// and OpenBLAS's cblas_sgemm (as this process's environment configures it,
// OPENBLAS_CORETYPE included), repetitions interleaved in one process so
// that a noisy machine slows both alike, next to an FMA peak measured in the
// same run the way bench/peers/limits_probe.c measures it (independent FMA
// chains on whole vector registers per thread). Prints best-of GFLOP/s and
// the fraction of the peak, by wall clock and by CPU time: on a machine
// shared with other work the wall clock measures the neighbours as much as
// the GEMM, while GFLOP per CPU-second (process CPU time, so every thread
// counts, spinning included) still compares the kernels and the peak.
// Then the fused epilogues (GemmEpilogue.h): bias + activation (+ residual)
// applied by the GEMM to each tile while it is in cache, against the same
// GEMM followed by the epilogue as a separate pass over C on the same
// threads (what an unfused element-wise kernel costs), interleaved.
// Usage: gemm_bench [rounds]
//
//===----------------------------------------------------------------------===//

#include "Timing.h"

#include "ember/Runtime/EmberGemm.h"
#include "ember/Runtime/ThreadPool.h"

#include <cblas.h>
#include <immintrin.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <thread>
#include <vector>

namespace {

using ember::bench::Clock;
using ember::bench::millisecondsSince;

constexpr int kChains = 12;

/// CPU time this process has used, all threads, in milliseconds.
double processCpuMs() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

/// Wall and CPU milliseconds of one call.
struct Cost {
  double wall, cpu;
};

template <typename Call> Cost measure(const Call &call) {
  double cpu = processCpuMs();
  Clock::time_point start = Clock::now();
  call();
  return {millisecondsSince(start), processCpuMs() - cpu};
}

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

/// The FMA peak on `threads` threads (best of three): by wall clock and
/// per CPU-second, GFLOP/s.
Cost fmaPeak(int threads) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f"))
    return {0, 0};
  const long iters = 20000000;
  const double gflop = 2.0 * 16 * kChains * iters * threads / 1e9;
  Cost best{0, 0};
  for (int rep = 0; rep < 3; ++rep) {
    Cost cost = measure([&] {
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t)
        workers.emplace_back([] {
          volatile float sink = fmaChains(iters);
          (void)sink;
        });
      for (std::thread &worker : workers)
        worker.join();
    });
    best.wall = std::max(best.wall, gflop / (cost.wall / 1e3));
    best.cpu = std::max(best.cpu, gflop / (cost.cpu / 1e3));
  }
  return best;
}

/// Fused epilogue vs GEMM then a separate pass, on `threads` threads.
void epilogueTable(int rounds, int threads) {
  struct Shape {
    const char *what;
    int m, k, n;
    int activation;
    bool residual;
  };
  const Shape shapes[] = {
      {"MLP layer 1 (b128 784->512) +b relu", 128, 784, 512,
       EMBER_GEMM_ACT_RELU, false},
      {"FFN up (1024x256->1024) +b gelu", 1024, 256, 1024,
       EMBER_GEMM_ACT_GELU_ERF, false},
      {"FFN down (1024x1024->256) +b +res", 1024, 1024, 256,
       EMBER_GEMM_ACT_NONE, true},
      {"1024^3 +b silu +res", 1024, 1024, 1024, EMBER_GEMM_ACT_SILU, true},
  };
  std::printf("\nFused epilogue vs GEMM + separate pass, %d threads, best of "
              "%d interleaved rounds (ms by wall clock; ms of process CPU "
              "time, all threads)\n",
              threads, rounds);
  std::printf("%-38s | %8s %8s %7s | %8s %8s %7s\n", "shape", "fused",
              "separate", "gain", "fused", "separate", "gain");
  for (const Shape &shape : shapes) {
    int m = shape.m, k = shape.k, n = shape.n;
    std::mt19937 rng(m + k + n);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> a(size_t(m) * k), b(size_t(k) * n), c(size_t(m) * n),
        bias(n), residual(size_t(m) * n);
    for (std::vector<float> *v : {&a, &b, &bias, &residual})
      for (float &x : *v)
        x = dist(rng);
    ember_gemm_epilogue epilogue{};
    epilogue.activation = shape.activation;
    epilogue.bias = bias.data();
    epilogue.biasColStride = 1;
    if (shape.residual) {
      epilogue.residual = residual.data();
      epilogue.residualRowStride = n;
      epilogue.residualColStride = 1;
    }
    Cost fused{1e30, 1e30}, separate{1e30, 1e30};
    for (int round = 0; round <= rounds; ++round) {
      Cost f = measure([&] {
        ember::gemm::sgemm(m, n, k, 1.0f, {a.data(), k, 1}, {b.data(), n, 1},
                           0.0f, {c.data(), n, 1}, threads, &epilogue);
      });
      Cost s = measure([&] {
        ember::gemm::sgemm(m, n, k, 1.0f, {a.data(), k, 1}, {b.data(), n, 1},
                           0.0f, {c.data(), n, 1}, threads);
        ember::parallelFor(0, m, 16, [&](int64_t lo, int64_t hi) {
          ember_gemm_epilogue rows = epilogue;
          if (rows.residual)
            rows.residual += lo * n;
          ember::gemm::applyEpilogue(hi - lo, n, {c.data() + lo * n, n, 1},
                                     rows);
        });
      });
      if (round == 0)
        continue;
      fused = {std::min(fused.wall, f.wall), std::min(fused.cpu, f.cpu)};
      separate = {std::min(separate.wall, s.wall),
                  std::min(separate.cpu, s.cpu)};
    }
    std::printf("%-38s | %8.3f %8.3f %6.1f%% | %8.3f %8.3f %6.1f%%\n",
                shape.what, fused.wall, separate.wall,
                100 * (separate.wall - fused.wall) / separate.wall, fused.cpu,
                separate.cpu, 100 * (separate.cpu - fused.cpu) / separate.cpu);
  }
}

} // namespace

int main(int argc, char **argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  std::printf("Ember GEMM (%s kernel) vs OpenBLAS, best of %d interleaved "
              "rounds\n",
              ember::gemm::kernelName(), rounds);
  std::printf("GFLOP/s by wall clock (wall) and per CPU-second of all the "
              "process's threads (cpu)\n");
  std::printf("%5s %3s | %6s %6s %6s %7s %6s | %6s %6s %6s %7s %6s\n", "n",
              "thr", "peak", "ember", "oblas", "em/peak", "em/ob", "peak",
              "ember", "oblas", "em/peak", "em/ob");
  for (int threads : {1, 2}) {
    Cost peak = fmaPeak(threads);
    openblas_set_num_threads(threads);
    for (int n : {512, 1024, 2048}) {
      std::mt19937 rng(n);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      std::vector<float> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
      for (float &v : a)
        v = dist(rng);
      for (float &v : b)
        v = dist(rng);
      double gflop = 2.0 * n * n * n / 1e9;
      Cost ember{1e30, 1e30}, blas{1e30, 1e30};
      for (int round = 0; round <= rounds; ++round) {
        Cost e = measure([&] {
          ember::gemm::sgemm(n, n, n, 1.0f, {a.data(), n, 1},
                             {b.data(), n, 1}, 0.0f, {c.data(), n, 1},
                             threads);
        });
        Cost o = measure([&] {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n,
                      1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
        });
        if (round == 0) // warm-up: first touches, thread start
          continue;
        ember = {std::min(ember.wall, e.wall), std::min(ember.cpu, e.cpu)};
        blas = {std::min(blas.wall, o.wall), std::min(blas.cpu, o.cpu)};
      }
      // Per CPU-second the bound is one core's peak whatever the threads.
      double rates[2][3] = {
          {peak.wall, gflop / (ember.wall / 1e3), gflop / (blas.wall / 1e3)},
          {peak.cpu, gflop / (ember.cpu / 1e3), gflop / (blas.cpu / 1e3)}};
      std::printf("%5d %3d", n, threads);
      for (auto &r : rates)
        std::printf(" | %6.1f %6.1f %6.1f %6.0f%% %6.2f", r[0], r[1], r[2],
                    r[0] > 0 ? 100 * r[1] / r[0] : 0.0, r[1] / r[2]);
      std::printf("\n");
    }
  }
  epilogueTable(rounds, 2);
  return 0;
}
