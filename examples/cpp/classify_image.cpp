//===- classify_image.cpp - an image classifier served from C++ -----------===//
//
// Loads an image classifier that examples/resnet18_aot.py imported from
// torchvision and compiled ahead of time (`ember-compile --target cpu`),
// draws a synthetic RGB image (a smooth colour gradient with a bright disc,
// since nothing is downloaded), normalizes it with ImageNet's mean and
// standard deviation, classifies it and prints the five best classes.
//
//   classify_image MODEL.ember [SIZE]
//
// SIZE is the image's height and width (default 224). It links only Ember's
// runtime (//runtime:model): no LLVM, no MLIR, no Python, no libtorch.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <numeric>
#include <string>
#include <vector>

namespace {

/// A (1, 3, size, size) float32 image, normalized like torchvision's
/// ImageNet transforms: (pixel - mean) / std per channel.
ember::HostTensor syntheticImage(int64_t size) {
  static const float mean[3] = {0.485f, 0.456f, 0.406f};
  static const float stdev[3] = {0.229f, 0.224f, 0.225f};
  ember::HostTensor image(ember::ElementType::Float32, {1, 3, size, size});
  float *pixels = image.data<float>();
  for (int64_t y = 0; y < size; ++y) {
    for (int64_t x = 0; x < size; ++x) {
      float u = static_cast<float>(x) / size, v = static_cast<float>(y) / size;
      float dx = u - 0.6f, dy = v - 0.4f;
      bool disc = dx * dx + dy * dy < 0.05f;
      float rgb[3] = {disc ? 0.95f : u, disc ? 0.85f : v,
                      disc ? 0.2f : 0.5f + 0.5f * std::sin(6.0f * (u + v))};
      for (int c = 0; c < 3; ++c)
        pixels[(c * size + y) * size + x] = (rgb[c] - mean[c]) / stdev[c];
    }
  }
  return image;
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

int run(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr,
                 "usage: %s MODEL.ember [SIZE]\n"
                 "  MODEL.ember  an image classifier exported by examples/resnet18_aot.py\n"
                 "               and compiled with `ember-compile --target cpu`\n"
                 "  SIZE         the synthetic image's height and width (default 224)\n",
                 argv[0]);
    return 2;
  }
  int64_t size = argc == 3 ? std::atoll(argv[2]) : 224;
  if (size < 32)
    throw ember::ModelError("SIZE must be at least 32");

  auto start = std::chrono::steady_clock::now();
  ember::Model model = ember::Model::load(argv[1]);
  std::printf("loaded %s in %.1f ms (runs %s code)\n", argv[1],
              millisecondsSince(start), model.executableKind().c_str());

  ember::HostTensor image = syntheticImage(size);
  start = std::chrono::steady_clock::now();
  std::vector<ember::HostTensor> outputs = model.forward({image});
  double forwardMs = millisecondsSince(start);
  const ember::HostTensor &logits = outputs.at(0);
  if (logits.rank() != 2 || logits.dim(0) != 1)
    throw ember::ModelError("expected logits of shape [1, classes], got " +
                            logits.describe());

  // Softmax over the classes, then the five most probable.
  int64_t classes = logits.dim(1);
  const float *row = logits.data<float>();
  float top = *std::max_element(row, row + classes);
  std::vector<double> probability(classes);
  double total = 0;
  for (int64_t c = 0; c < classes; ++c)
    total += probability[c] = std::exp(static_cast<double>(row[c] - top));
  std::vector<int64_t> order(classes);
  std::iota(order.begin(), order.end(), 0);
  int64_t shown = std::min<int64_t>(5, classes);
  std::partial_sort(order.begin(), order.begin() + shown, order.end(),
                    [&](int64_t a, int64_t b) { return row[a] > row[b]; });
  std::printf("classified a %lldx%lld image in %.1f ms; top %lld of %lld classes:\n",
              static_cast<long long>(size), static_cast<long long>(size), forwardMs,
              static_cast<long long>(shown), static_cast<long long>(classes));
  for (int64_t i = 0; i < shown; ++i)
    std::printf("  class %4lld  p = %.4f  logit = %+.4f\n",
                static_cast<long long>(order[i]), probability[order[i]] / total,
                row[order[i]]);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "classify_image: error: %s\n", error.what());
    return 1;
  }
}
