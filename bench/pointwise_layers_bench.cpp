//===- pointwise_layers_bench.cpp - 1x1 convolutions one by one -----------===//
//
// The 1x1 convolutions of torchvision's mobilenet_v3_small at 224x224 (its
// distinct shapes, with their activations) and resnet18's three stride-2
// downsample convolutions, conv_layers_bench's way: called the way a
// compiled model calls it: ember_cpu_conv_fused_f32 with the folded
// batch-norm bias, the activation and (projections in a residual block) the
// residual, weights registered as constant memory (packed once, as a loaded
// model file's are). For each layer: the best and median wall time and the
// median CPU time of the process (every thread, spinning included) per call,
// on 1 and on N threads, the calls interleaved layer after layer and thread
// count
// after thread count, so that a busy machine slows each alike. The best
// wall time on N threads against the best on 1 says whether the threads
// share a layer's work; its GFLOP/s, how close a layer runs to the others.
// Not a test. Usage:
//
//   pointwise_layers_bench [batch=1] [rounds=30] [threads=2] [only=substring]
//
//===----------------------------------------------------------------------===//

#include "Timing.h"

#include "ember/Runtime/CpuConv.h"
#include "ember/Runtime/CpuGemm.h"
#include "ember/Runtime/EmberGemm.h"
#include "ember/Runtime/GemmEpilogue.h"
#include "ember/Runtime/Threads.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <time.h>
#include <vector>

namespace {

using namespace ember::bench;

struct Layer {
  const char *name;
  int64_t c, o, in, k, stride;
  bool residual; // act(conv + bias) + residual, else act(conv + bias)
  int activation = EMBER_GEMM_ACT_NONE;
};

constexpr int kRelu = EMBER_GEMM_ACT_RELU, kHs = EMBER_GEMM_ACT_HARDSWISH;
// mobilenet_v3_small's 1x1 convolutions with pixels (the squeeze-excitation
// FCs on one pixel take another path), then resnet18's downsamples.
const Layer kLayers[] = {
    {"mb 16->16 @56", 16, 16, 56, 1, 1, false},
    {"mb 16->72 @56 relu", 16, 72, 56, 1, 1, false, kRelu},
    {"mb 72->24 @28", 72, 24, 28, 1, 1, false},
    {"mb 24->88 @28 relu", 24, 88, 28, 1, 1, false, kRelu},
    {"mb 88->24 @28 +res", 88, 24, 28, 1, 1, true},
    {"mb 24->96 @28 hs", 24, 96, 28, 1, 1, false, kHs},
    {"mb 96->40 @14", 96, 40, 14, 1, 1, false},
    {"mb 40->240 @14 hs", 40, 240, 14, 1, 1, false, kHs},
    {"mb 240->40 @14 +res", 240, 40, 14, 1, 1, true},
    {"mb 40->120 @14 hs", 40, 120, 14, 1, 1, false, kHs},
    {"mb 120->48 @14", 120, 48, 14, 1, 1, false},
    {"mb 48->144 @14 hs", 48, 144, 14, 1, 1, false, kHs},
    {"mb 144->48 @14 +res", 144, 48, 14, 1, 1, true},
    {"mb 48->288 @14 hs", 48, 288, 14, 1, 1, false, kHs},
    {"mb 288->96 @7", 288, 96, 7, 1, 1, false},
    {"mb 96->576 @7 hs", 96, 576, 7, 1, 1, false, kHs},
    {"mb 576->96 @7 +res", 576, 96, 7, 1, 1, true},
    {"rn l2 1x1s2 64->128 down", 64, 128, 56, 1, 2, false},
    {"rn l3 1x1s2 128->256 down", 128, 256, 28, 1, 2, false},
    {"rn l4 1x1s2 256->512 down", 256, 512, 14, 1, 2, false},
};
const int kCount[] = {1, 1, 1, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 3, 2,
                      1, 1, 1};

double processCpuMs() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

struct Buffers {
  int64_t out;
  std::vector<float> x, w, bias, residual, y;
};

void run(const Layer &l, int64_t batch, Buffers &b) {
  const int64_t pad = l.k / 2;
  const int64_t in = l.in, out = b.out;
  const float *x = b.x.data(), *w = b.w.data(), *bias = b.bias.data();
  const float *res = b.residual.data();
  float *y = b.y.data();
  int64_t flags = EMBER_GEMM_FUSED_BIAS | l.activation;
  if (l.residual)
    flags |= EMBER_GEMM_FUSED_RESIDUAL;
  const int64_t plane = out * out;
  ember_cpu_conv_fused_f32(
      // x [N, C, 1, H, W]
      const_cast<float *>(x), const_cast<float *>(x), 0, batch, l.c, 1, in,
      in, l.c * in * in, in * in, in * in, in, 1,
      // w [O, C, 1, k, k]
      const_cast<float *>(w), const_cast<float *>(w), 0, l.o, l.c, 1, l.k,
      l.k, l.c * l.k * l.k, l.k * l.k, l.k * l.k, l.k, 1,
      // y [N, O, 1, out, out]
      y, y, 0, batch, l.o, 1, out, out, l.o * plane, plane, plane, out, 1,
      // bias, broadcast over pixels
      const_cast<float *>(bias), const_cast<float *>(bias), 0, batch, l.o, 1,
      out, out, 0, 1, 0, 0, 0,
      // residual, y's shape
      const_cast<float *>(res), const_cast<float *>(res), 0, batch, l.o, 1,
      out, out, l.o * plane, plane, plane, out, 1,
      // strides, padding, dilation, groups
      1, l.stride, l.stride, 0, pad, pad, 1, 1, 1, 1, flags);
}

} // namespace

int main(int argc, char **argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 1;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 30;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const std::string only = argc > 4 ? argv[4] : "";
  std::mt19937 gen(0);
  std::normal_distribution<float> normal;
  std::vector<const Layer *> layers;
  std::vector<Buffers> buffers;
  std::vector<int> counts;
  for (size_t i = 0; i < sizeof(kLayers) / sizeof(kLayers[0]); ++i) {
    const Layer &l = kLayers[i];
    if (!only.empty() && std::string(l.name).find(only) == std::string::npos)
      continue;
    Buffers b;
    b.out = (l.in + 2 * (l.k / 2) - l.k) / l.stride + 1;
    b.x.resize(batch * l.c * l.in * l.in);
    b.w.resize(l.o * l.c * l.k * l.k);
    b.bias.resize(l.o);
    b.residual.resize(batch * l.o * b.out * b.out);
    b.y.resize(b.residual.size());
    for (auto *v : {&b.x, &b.w, &b.bias, &b.residual})
      for (float &e : *v)
        e = normal(gen);
    layers.push_back(&l);
    counts.push_back(kCount[i]);
    buffers.push_back(std::move(b));
  }
  // One registry serves the GEMM's and the conv's packed weights.
  for (Buffers &b : buffers)
    ember::gemm::registerConstantMemory(b.w.data(), b.w.size() * sizeof(float));
  const int threadCounts[2] = {1, threads};
  // [threads][layer] -> wall and CPU times.
  std::vector<std::vector<std::vector<double>>> wall(2), cpu(2);
  for (int t = 0; t < 2; ++t) {
    wall[t].resize(layers.size());
    cpu[t].resize(layers.size());
  }
  for (int round = -2; round < rounds; ++round)
    for (int t = 0; t < 2; ++t) {
      ember::setNumThreads(threadCounts[t]);
      for (size_t i = 0; i < layers.size(); ++i) {
        double cpuStart = processCpuMs();
        Clock::time_point start = Clock::now();
        run(*layers[i], batch, buffers[i]);
        double ms = millisecondsSince(start);
        if (round >= 0) { // the first rounds pack the weights and warm up
          wall[t][i].push_back(ms);
          cpu[t][i].push_back(processCpuMs() - cpuStart);
        }
      }
    }
  std::printf("batch %lld, %d rounds, 1 and %d threads; per call: best/median "
              "wall ms, median CPU ms; GFLOP/s at the best wall time\n",
              static_cast<long long>(batch), rounds, threads);
  std::printf("%-26s %22s %22s %8s %7s\n", "layer", "1 thread", "N threads",
              "speedup", "GF/s N");
  double total[2][2] = {{0, 0}, {0, 0}};
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer &l = *layers[i];
    const int64_t out = buffers[i].out;
    double flop = 2.0 * batch * l.o * l.c * l.k * l.k * out * out;
    double best[2], med[2], medCpu[2];
    for (int t = 0; t < 2; ++t) {
      best[t] = *std::min_element(wall[t][i].begin(), wall[t][i].end());
      med[t] = median(wall[t][i]);
      medCpu[t] = median(cpu[t][i]);
      total[t][0] += counts[i] * best[t];
      total[t][1] += counts[i] * medCpu[t];
    }
    std::printf("%-26s %6.3f %6.3f %6.3f   %6.3f %6.3f %6.3f   %6.2fx %7.1f\n",
                l.name, best[0], med[0], medCpu[0], best[1], med[1], medCpu[1],
                best[0] / best[1], flop / best[1] / 1e6);
  }
  std::printf("layers x occurrences: best wall %.2f ms "
              "(1 thread) %.2f ms (%d threads); median CPU %.2f / %.2f ms\n",
              total[0][0], total[1][0], threads, total[0][1], total[1][1]);
  return 0;
}
