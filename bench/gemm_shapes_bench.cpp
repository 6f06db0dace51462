//===- gemm_shapes_bench.cpp - Ember's GEMM on the models' real shapes ----===//
//
// GFLOP/s of the products the image models run, each shape on its own:
// resnet18's convolutions (the runtime's conv forward, weights registered as
// constant memory and so packed once, as a loaded model's are) and
// vit_b_16's linear layers (M = 197 * batch tokens, N x K weights read
// transposed and packed once, as CpuGemm.cpp does for a model file), at
// batch 1 and 32, on 1 and 2 threads. Prints per shape the best of the
// rounds (one call each) by wall clock and per CPU-second of all the
// process's threads, and resnet18's total over its 20 convolutions,
// counted per layer. On a shared machine the best single-thread call
// still compares kernels; with 2 threads the process CPU clock can miss a
// worker's time on calls of a few ms (it is updated at scheduler ticks),
// so read the wall column there, on a quiet machine.
// Usage: gemm_shapes_bench [rounds] [conv|vit|all] [threads] [batch] [name]
//
//===----------------------------------------------------------------------===//

#include "Timing.h"

#include "ember/Runtime/CpuConv.h"
#include "ember/Runtime/EmberGemm.h"
#include "ember/Runtime/Threads.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

namespace {

using ember::bench::Clock;
using ember::bench::millisecondsSince;

double processCpuMs() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

struct Cost {
  double wall, cpu;
};

/// Best wall and CPU ms per call over `rounds` rounds of `reps` calls (one
/// call a round, many rounds, filters a busy machine's preemptions best).
template <typename Call> Cost best(int rounds, int reps, const Call &call) {
  call(); // warm-up: packing into the constant cache, first touches
  Cost out{1e30, 1e30};
  for (int r = 0; r < rounds; ++r) {
    double cpu = processCpuMs();
    Clock::time_point start = Clock::now();
    for (int i = 0; i < reps; ++i)
      call();
    out.wall = std::min(out.wall, millisecondsSince(start) / reps);
    out.cpu = std::min(out.cpu, (processCpuMs() - cpu) / reps);
  }
  return out;
}

std::vector<float> randomVector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

struct ConvShape {
  const char *name;
  int c, o, size, kernel, stride, count; // count: layers of this shape
};

// resnet18 at 224x224 (padding kernel / 2).
const ConvShape kResnet18[] = {
    {"stem 7x7s2 3->64", 3, 64, 224, 7, 2, 1},
    {"3x3 64 @56", 64, 64, 56, 3, 1, 4},
    {"3x3s2 64->128", 64, 128, 56, 3, 2, 1},
    {"1x1s2 64->128", 64, 128, 56, 1, 2, 1},
    {"3x3 128 @28", 128, 128, 28, 3, 1, 3},
    {"3x3s2 128->256", 128, 256, 28, 3, 2, 1},
    {"1x1s2 128->256", 128, 256, 28, 1, 2, 1},
    {"3x3 256 @14", 256, 256, 14, 3, 1, 3},
    {"3x3s2 256->512", 256, 512, 14, 3, 2, 1},
    {"1x1s2 256->512", 256, 512, 14, 1, 2, 1},
    {"3x3 512 @7", 512, 512, 7, 3, 1, 3},
};

/// Only the shapes whose name contains this (all when empty).
std::string shapeFilter;

void convTable(int rounds, int batch, int threads) {
  std::printf("\nresnet18 convolutions, batch %d, %d thread(s): ms per call "
              "and GFLOP/s (wall, per CPU-second)\n",
              batch, threads);
  std::printf("%-20s %3s | %8s %8s | %7s %7s\n", "shape", "n", "wall ms",
              "cpu ms", "wall GF", "cpu GF");
  double totalGflop = 0, totalWall = 0, totalCpu = 0;
  for (const ConvShape &s : kResnet18) {
    if (std::string(s.name).find(shapeFilter) == std::string::npos)
      continue;
    int pad = s.kernel / 2;
    int out = (s.size + 2 * pad - s.kernel) / s.stride + 1;
    std::vector<float> x = randomVector(size_t(batch) * s.c * s.size * s.size, 1);
    std::vector<float> w =
        randomVector(size_t(s.o) * s.c * s.kernel * s.kernel, 2);
    std::vector<float> y(size_t(batch) * s.o * out * out);
    ember::gemm::registerConstantMemory(w.data(), w.size() * sizeof(float));
    int64_t hw = int64_t(s.size) * s.size, khw = int64_t(s.kernel) * s.kernel,
            ohw = int64_t(out) * out;
    auto call = [&] {
      ember_cpu_conv_f32(
          x.data(), x.data(), 0, batch, s.c, 1, s.size, s.size, s.c * hw, hw,
          hw, s.size, 1, w.data(), w.data(), 0, s.o, s.c, 1, s.kernel,
          s.kernel, s.c * khw, khw, khw, s.kernel, 1, y.data(), y.data(), 0,
          batch, s.o, 1, out, out, s.o * ohw, ohw, ohw, out, 1, 1, s.stride,
          s.stride, 0, pad, pad, 1, 1, 1, 1);
    };
    double gflop = 2.0 * batch * s.o * s.c * khw * ohw / 1e9;
    Cost c = best(rounds, 1, call);
    ember::gemm::releaseConstantMemory(w.data());
    std::printf("%-20s %3d | %8.3f %8.3f | %7.1f %7.1f\n", s.name, s.count,
                c.wall, c.cpu, gflop / c.wall * 1e3, gflop / c.cpu * 1e3);
    totalGflop += gflop * s.count;
    totalWall += c.wall * s.count;
    totalCpu += c.cpu * s.count;
  }
  std::printf("%-20s %3d | %8.3f %8.3f | %7.1f %7.1f\n", "total", 20,
              totalWall, totalCpu, totalGflop / totalWall * 1e3,
              totalGflop / totalCpu * 1e3);
}

void vitTable(int rounds, int batch, int threads) {
  struct Shape {
    const char *name;
    int n, k;
  };
  const Shape shapes[] = {{"qkv 768->2304", 2304, 768},
                          {"proj 768->768", 768, 768},
                          {"fc1 768->3072", 3072, 768},
                          {"fc2 3072->768", 768, 3072}};
  int m = 197 * batch;
  std::printf("\nvit_b_16 linear layers, M = %d, %d thread(s)\n", m, threads);
  std::printf("%-20s | %8s %8s | %7s %7s\n", "shape", "wall ms", "cpu ms",
              "wall GF", "cpu GF");
  for (const Shape &s : shapes) {
    if (std::string(s.name).find(shapeFilter) == std::string::npos)
      continue;
    std::vector<float> a = randomVector(size_t(m) * s.k, 3);
    std::vector<float> w = randomVector(size_t(s.n) * s.k, 4); // [N, K]
    std::vector<float> c(size_t(m) * s.n);
    ember::gemm::StridedMatrix b{w.data(), 1, s.k}; // W^T
    ember::gemm::PackedB *packed = ember::gemm::packBOnce(s.k, s.n, b);
    auto call = [&] {
      ember::gemm::sgemmPackedB(m, s.n, s.k, 1.0f, {a.data(), s.k, 1}, b,
                                packed, 0.0f, {c.data(), s.n, 1}, threads);
    };
    double gflop = 2.0 * m * s.n * s.k / 1e9;
    Cost cost = best(rounds, 1, call);
    ember::gemm::releasePackedB(packed);
    std::printf("%-20s | %8.3f %8.3f | %7.1f %7.1f\n", s.name, cost.wall,
                cost.cpu, gflop / cost.wall * 1e3, gflop / cost.cpu * 1e3);
  }
}

} // namespace

int main(int argc, char **argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  std::string filter = argc > 2 ? argv[2] : "";
  std::vector<int> threadCounts = {1, 2};
  if (argc > 3)
    threadCounts = {std::atoi(argv[3])};
  std::vector<int> batches = {1, 32};
  if (argc > 4)
    batches = {std::atoi(argv[4])};
  if (argc > 5)
    shapeFilter = argv[5];
  std::printf("Ember GEMM (%s kernel) on resnet18 / vit_b_16 shapes, best of "
              "%d rounds\n",
              ember::gemm::kernelName(), rounds);
  for (int threads : threadCounts) {
    ember::setNumThreads(threads);
    for (int batch : batches) {
      if (filter.empty() || filter == "all" || filter == "conv")
        convTable(rounds, batch, threads);
      if (filter.empty() || filter == "all" || filter == "vit")
        vitTable(rounds, batch, threads);
    }
  }
  return 0;
}
