//===- conv_layers_bench.cpp - a model's convolutions one by one -------===//
//
// Every convolution of torchvision's resnet18 at 224x224, called the way a
// compiled model calls it: ember_cpu_conv_fused_f32 with the folded
// batch-norm bias, relu and (second conv of a block) the residual, weights
// registered as constant memory (packed once, as a loaded model file's
// are). For each layer: the best and median wall time and the median CPU
// time of the process (every thread, spinning included) per call, on 1 and
// on N threads, the calls interleaved layer after layer and thread count
// after thread count, so that a busy machine slows each alike. The best
// wall time on N threads against the best on 1 says whether the threads
// share a layer's work; its GFLOP/s, how close a layer runs to the others.
// Not a test. Usage:
//
//   conv_layers_bench [batch=1] [rounds=30] [threads=2] [only=layer-substring]
//                     [set=resnet18|mobilenet1x1|mobilenet_dw]
//
// The mobilenet1x1 set is mobilenet_v3_small's 1x1 convolutions that have
// pixels (the 1x1 path's shapes at 56x56 down to 7x7); mobilenet_dw, its
// depthwise convolutions (groups = channels), those that feed a
// squeeze-and-excitation block through ember_cpu_conv_fused_mean_f32 (the
// plane means written too), as the compiled model calls them.
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
#include <iterator>
#include <random>
#include <string>
#include <time.h>
#include <vector>

namespace {

using namespace ember::bench;

enum class Residual { None, BeforeActivation, AfterActivation };

struct Layer {
  const char *name;
  int64_t c, o, in, k, stride;
  int activation;
  Residual residual = Residual::None;
  int count = 1; // occurrences of the shape in its model
  bool depthwise = false; // groups = c = o
  bool mean = false;      // ember_cpu_conv_fused_mean_f32 (an SE pool)
};

constexpr int kNone = EMBER_GEMM_ACT_NONE, kRelu = EMBER_GEMM_ACT_RELU,
              kHs = EMBER_GEMM_ACT_HARDSWISH;
constexpr Residual kResFirst = Residual::BeforeActivation,
                   kResAfter = Residual::AfterActivation;

// resnet18's 20 convolutions: relu(conv + bias [+ residual]), downsample 1x1
// stride 2 with bias only. l1: 2 + 2; l2..l4: the block's first conv2 and
// the second block's two convs share a shape.
const Layer kResnet18[] = {
    {"stem 7x7s2 3->64 @224", 3, 64, 224, 7, 2, kRelu},
    {"l1 3x3 64 @56", 64, 64, 56, 3, 1, kRelu, Residual::None, 2},
    {"l1 3x3 64 @56 +res", 64, 64, 56, 3, 1, kRelu, kResFirst, 2},
    {"l2 3x3s2 64->128 @56", 64, 128, 56, 3, 2, kRelu},
    {"l2 1x1s2 64->128 down", 64, 128, 56, 1, 2, kNone},
    {"l2 3x3 128 @28 +res", 128, 128, 28, 3, 1, kRelu, kResFirst, 3},
    {"l3 3x3s2 128->256 @28", 128, 256, 28, 3, 2, kRelu},
    {"l3 1x1s2 128->256 down", 128, 256, 28, 1, 2, kNone},
    {"l3 3x3 256 @14 +res", 256, 256, 14, 3, 1, kRelu, kResFirst, 3},
    {"l4 3x3s2 256->512 @14", 256, 512, 14, 3, 2, kRelu},
    {"l4 1x1s2 256->512 down", 256, 512, 14, 1, 2, kNone},
    {"l4 3x3 512 @7 +res", 512, 512, 7, 3, 1, kRelu, kResFirst, 3},
};

// mobilenet_v3_small's 1x1 convolutions with pixels (the squeeze-excitation
// FCs on one pixel take another path): act(conv + bias) [+ residual].
const Layer kMobilenet1x1[] = {
    {"mb 16->16 @56", 16, 16, 56, 1, 1, kNone},
    {"mb 16->72 @56 relu", 16, 72, 56, 1, 1, kRelu},
    {"mb 72->24 @28", 72, 24, 28, 1, 1, kNone},
    {"mb 24->88 @28 relu", 24, 88, 28, 1, 1, kRelu},
    {"mb 88->24 @28 +res", 88, 24, 28, 1, 1, kNone, kResAfter},
    {"mb 24->96 @28 hs", 24, 96, 28, 1, 1, kHs},
    {"mb 96->40 @14", 96, 40, 14, 1, 1, kNone},
    {"mb 40->240 @14 hs", 40, 240, 14, 1, 1, kHs, Residual::None, 2},
    {"mb 240->40 @14 +res", 240, 40, 14, 1, 1, kNone, kResAfter, 2},
    {"mb 40->120 @14 hs", 40, 120, 14, 1, 1, kHs},
    {"mb 120->48 @14", 120, 48, 14, 1, 1, kNone},
    {"mb 48->144 @14 hs", 48, 144, 14, 1, 1, kHs},
    {"mb 144->48 @14 +res", 144, 48, 14, 1, 1, kNone, kResAfter},
    {"mb 48->288 @14 hs", 48, 288, 14, 1, 1, kHs},
    {"mb 288->96 @7", 288, 96, 7, 1, 1, kNone},
    {"mb 96->576 @7 hs", 96, 576, 7, 1, 1, kHs, Residual::None, 3},
    {"mb 576->96 @7 +res", 576, 96, 7, 1, 1, kNone, kResAfter, 2},
};

// mobilenet_v3_small's depthwise convolutions (features.N's): act(conv +
// bias), the SE pool's plane means where an SE block follows.
const Layer kMobilenetDw[] = {
    {"f1 dw3x3s2 16 @112 se", 16, 16, 112, 3, 2, kRelu, Residual::None, 1,
     true, true},
    {"f2 dw3x3s2 72 @56", 72, 72, 56, 3, 2, kRelu, Residual::None, 1, true},
    {"f3 dw3x3 88 @28", 88, 88, 28, 3, 1, kRelu, Residual::None, 1, true},
    {"f4 dw5x5s2 96 @28 se", 96, 96, 28, 5, 2, kHs, Residual::None, 1, true,
     true},
    {"f5 dw5x5 240 @14 se", 240, 240, 14, 5, 1, kHs, Residual::None, 2, true,
     true},
    {"f7 dw5x5 120 @14 se", 120, 120, 14, 5, 1, kHs, Residual::None, 1, true,
     true},
    {"f8 dw5x5 144 @14 se", 144, 144, 14, 5, 1, kHs, Residual::None, 1, true,
     true},
    {"f9 dw5x5s2 288 @14 se", 288, 288, 14, 5, 2, kHs, Residual::None, 1,
     true, true},
    {"f10 dw5x5 576 @7 se", 576, 576, 7, 5, 1, kHs, Residual::None, 2, true,
     true},
};

struct LayerSet {
  const char *name, *title;
  const Layer *begin, *end;
};
const LayerSet kSets[] = {
    {"resnet18", "resnet18's 20 convs", std::begin(kResnet18),
     std::end(kResnet18)},
    {"mobilenet1x1", "mobilenet_v3_small's 1x1 convs with pixels",
     std::begin(kMobilenet1x1), std::end(kMobilenet1x1)},
    {"mobilenet_dw", "mobilenet_v3_small's depthwise convs",
     std::begin(kMobilenetDw), std::end(kMobilenetDw)},
};

double processCpuMs() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

struct Buffers {
  int64_t out;
  std::vector<float> x, w, bias, residual, y, mean;
};

void run(const Layer &l, int64_t batch, Buffers &b) {
  const int64_t pad = l.k / 2;
  const int64_t in = l.in, out = b.out;
  const int64_t cg = l.depthwise ? 1 : l.c, groups = l.depthwise ? l.c : 1;
  const float *x = b.x.data(), *w = b.w.data(), *bias = b.bias.data();
  const float *res = b.residual.data();
  float *y = b.y.data();
  int64_t flags = EMBER_GEMM_FUSED_BIAS | l.activation;
  if (l.residual != Residual::None)
    flags |= EMBER_GEMM_FUSED_RESIDUAL;
  if (l.residual == Residual::BeforeActivation)
    flags |= EMBER_GEMM_FUSED_RESIDUAL_FIRST;
  const int64_t plane = out * out;
#define EMBER_BENCH_CONV_ARGS                                                  \
  /* x [N, C, 1, H, W] */                                                      \
  const_cast<float *>(x), const_cast<float *>(x), 0, batch, l.c, 1, in, in,    \
      l.c * in * in, in * in, in * in, in, 1, /* w [O, C/G, 1, k, k] */       \
      const_cast<float *>(w), const_cast<float *>(w), 0, l.o, cg, 1, l.k, l.k, \
      cg * l.k * l.k, l.k * l.k, l.k * l.k, l.k, 1,                            \
      /* y [N, O, 1, out, out] */                                              \
      y, y, 0, batch, l.o, 1, out, out, l.o * plane, plane, plane, out, 1,     \
      /* bias, broadcast over pixels */                                        \
      const_cast<float *>(bias), const_cast<float *>(bias), 0, batch, l.o, 1,  \
      out, out, 0, 1, 0, 0, 0, /* residual, y's shape */                       \
      const_cast<float *>(res), const_cast<float *>(res), 0, batch, l.o, 1,    \
      out, out, l.o * plane, plane, plane, out, 1
#define EMBER_BENCH_CONV_SCALARS                                               \
  /* strides, padding, dilation, groups */                                     \
  1, l.stride, l.stride, 0, pad, pad, 1, 1, 1, groups, flags
  if (l.mean) {
    // mean [N, O, 1, 1, 1] as a view of y's shape (pixel strides 0).
    float *mean = b.mean.data();
    ember_cpu_conv_fused_mean_f32(EMBER_BENCH_CONV_ARGS, mean, mean, 0, batch,
                                  l.o, 1, out, out, l.o, 1, 0, 0, 0,
                                  EMBER_BENCH_CONV_SCALARS);
  } else {
    ember_cpu_conv_fused_f32(EMBER_BENCH_CONV_ARGS, EMBER_BENCH_CONV_SCALARS);
  }
#undef EMBER_BENCH_CONV_ARGS
#undef EMBER_BENCH_CONV_SCALARS
}

} // namespace

int main(int argc, char **argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 1;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 30;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const std::string only = argc > 4 ? argv[4] : "";
  const std::string setName = argc > 5 ? argv[5] : "resnet18";
  const LayerSet *set = nullptr;
  for (const LayerSet &candidate : kSets)
    if (setName == candidate.name)
      set = &candidate;
  if (!set) {
    std::fprintf(stderr,
                 "conv_layers_bench: unknown layer set '%s' (expected "
                 "resnet18, mobilenet1x1 or mobilenet_dw)\n",
                 setName.c_str());
    return 2;
  }
  std::mt19937 gen(0);
  std::normal_distribution<float> normal;
  std::vector<const Layer *> layers;
  std::vector<Buffers> buffers;
  std::vector<int> counts;
  for (const Layer *layer = set->begin; layer != set->end; ++layer) {
    const Layer &l = *layer;
    if (!only.empty() && std::string(l.name).find(only) == std::string::npos)
      continue;
    Buffers b;
    b.out = (l.in + 2 * (l.k / 2) - l.k) / l.stride + 1;
    b.x.resize(batch * l.c * l.in * l.in);
    b.w.resize(l.o * (l.depthwise ? 1 : l.c) * l.k * l.k);
    b.bias.resize(l.o);
    b.residual.resize(batch * l.o * b.out * b.out);
    b.y.resize(b.residual.size());
    b.mean.resize(batch * l.o);
    for (auto *v : {&b.x, &b.w, &b.bias, &b.residual})
      for (float &e : *v)
        e = normal(gen);
    layers.push_back(&l);
    counts.push_back(l.count);
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
    double flop = 2.0 * batch * l.o * (l.depthwise ? 1 : l.c) * l.k * l.k *
                  out * out;
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
  std::printf("%s (shapes x occurrences): best wall %.2f ms "
              "(1 thread) %.2f ms (%d threads); median CPU %.2f / %.2f ms\n",
              set->title, total[0][0], total[1][0], threads, total[0][1],
              total[1][1]);
  return 0;
}
