//===- foundation_bench.cpp - compiled ember code vs C++ and OpenBLAS ------===//
//
// Times, in one process: the 5-op chain sigmoid(a*b+c)*d - a (f32, 16M
// elements) compiled by Ember vs a plain C++ loop; Ember's matmul vs a direct
// cblas_sgemm call at 256/1024/2048; and the cold compile time of each module.
// Prints one JSON object per line for bench/run_foundation.py (which adds
// PyTorch to the same run), or a table with --table.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/CpuCompiler.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Best wall time of `repeats` runs (after one warm-up run).
template <typename Fn>
double bestTime(int repeats, Fn &&fn) {
  fn();
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    auto start = Clock::now();
    fn();
    best = std::min(best, secondsSince(start));
  }
  return best;
}

/// The baseline: one fused loop, as a C++ programmer would write it.
__attribute__((noinline)) void chainLoop(const float *a, const float *b,
                                         const float *c, const float *d,
                                         float *out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float t = a[i] * b[i] + c[i];
    out[i] = 1.0f / (1.0f + std::exp(-t)) * d[i] - a[i];
  }
}

const char *kChain = R"mlir(
func.func @chain(%a: tensor<?xf32>, %b: tensor<?xf32>, %c: tensor<?xf32>, %d: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.mul %a, %b : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %1 = ember.add %0, %c : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %2 = ember.sigmoid %1 : tensor<?xf32>
  %3 = ember.mul %2, %d : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %4 = ember.sub %3, %a : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  return %4 : tensor<?xf32>
}
)mlir";

const char *kMatmul = R"mlir(
func.func @mm(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.matmul %a, %b : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
)mlir";

struct Compiled {
  std::unique_ptr<ember::CpuExecutable> executable;
  double compileMs;
};

Compiled compile(mlir::MLIRContext &context, const char *source) {
  auto start = Clock::now();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  std::string error;
  auto executable =
      ember::compileForCpu(*module, ember::CpuCompileOptions{}, &error);
  if (!executable) {
    std::fprintf(stderr, "compile failed: %s\n", error.c_str());
    std::exit(1);
  }
  return {std::move(executable), secondsSince(start) * 1e3};
}

std::vector<float> randomVector(size_t n, std::mt19937 &rng) {
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

} // namespace

int main(int argc, char **argv) {
  bool table = argc > 1 && std::string(argv[1]) == "--table";
  mlir::MLIRContext context;
  mlir::DialectRegistry registry;
  ember::registerCompilerDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
  std::mt19937 rng(1234);

  // 5-op chain at 16M elements.
  const int64_t n = 16 << 20;
  std::vector<float> a = randomVector(n, rng), b = randomVector(n, rng),
                     c = randomVector(n, rng), d = randomVector(n, rng);
  std::vector<float> outEmber(n), outLoop(n);
  Compiled chain = compile(context, kChain);
  ember::PackedEntry entry = chain.executable->lookup("chain", nullptr);
  int64_t shape[1] = {n};
  std::vector<ember::BufferView> views = {
      {a.data(), shape, 1}, {b.data(), shape, 1}, {c.data(), shape, 1},
      {d.data(), shape, 1}, {outEmber.data(), shape, 1}};
  double emberChain = bestTime(10, [&] { ember::invokePacked(entry, views); });
  double loopChain = bestTime(10, [&] {
    chainLoop(a.data(), b.data(), c.data(), d.data(), outLoop.data(), n);
  });
  double maxDiff = 0;
  for (int64_t i = 0; i < n; ++i)
    maxDiff = std::max<double>(maxDiff, std::fabs(outEmber[i] - outLoop[i]));
  double bytes = 5.0 * n * sizeof(float);
  if (table) {
    std::printf("chain 16M f32: ember %.2f ms (%.1f GB/s), C++ loop %.2f ms "
                "(%.1f GB/s), ember/loop speed %.2fx, max |diff| %.2g\n",
                emberChain * 1e3, bytes / emberChain / 1e9, loopChain * 1e3,
                bytes / loopChain / 1e9, loopChain / emberChain, maxDiff);
    std::printf("cold compile: chain %.1f ms\n", chain.compileMs);
  } else {
    std::printf("{\"bench\": \"chain\", \"n\": %lld, \"ember_s\": %.6f, "
                "\"loop_s\": %.6f, \"bytes\": %.0f, \"max_diff\": %.3g, "
                "\"compile_ms\": %.2f}\n",
                static_cast<long long>(n), emberChain, loopChain, bytes,
                maxDiff, chain.compileMs);
  }

  // Matmul vs OpenBLAS.
  Compiled mm = compile(context, kMatmul);
  ember::PackedEntry mmEntry = mm.executable->lookup("mm", nullptr);
  for (int64_t size : {256, 1024, 2048}) {
    std::vector<float> x = randomVector(size * size, rng),
                       y = randomVector(size * size, rng), z(size * size),
                       ref(size * size);
    int64_t dims[2] = {size, size};
    std::vector<ember::BufferView> mmViews = {
        {x.data(), dims, 2}, {y.data(), dims, 2}, {z.data(), dims, 2}};
    int repeats = size >= 2048 ? 3 : 10;
    double emberMm =
        bestTime(repeats, [&] { ember::invokePacked(mmEntry, mmViews); });
    double blasMm = bestTime(repeats, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size,
                  1.0f, x.data(), size, y.data(), size, 0.0f, ref.data(), size);
    });
    double diff = 0;
    for (int64_t i = 0; i < size * size; ++i)
      diff = std::max<double>(diff, std::fabs(z[i] - ref[i]));
    double flops = 2.0 * size * size * size;
    if (table)
      std::printf("matmul %lld: ember %.1f GFLOP/s, OpenBLAS %.1f GFLOP/s, "
                  "ratio %.2fx, max |diff| %.2g\n",
                  static_cast<long long>(size), flops / emberMm / 1e9,
                  flops / blasMm / 1e9, blasMm / emberMm, diff);
    else
      std::printf("{\"bench\": \"matmul\", \"n\": %lld, \"ember_s\": %.6f, "
                  "\"blas_s\": %.6f, \"flops\": %.0f, \"max_diff\": %.3g}\n",
                  static_cast<long long>(size), emberMm, blasMm, flops, diff);
  }
  if (table)
    std::printf("cold compile: matmul %.1f ms\n", mm.compileMs);
  else
    std::printf("{\"bench\": \"compile\", \"matmul_ms\": %.2f}\n", mm.compileMs);
  return 0;
}
