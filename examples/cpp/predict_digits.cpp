//===- predict_digits.cpp - a C++ app that runs an exported Ember model ----===//
//
// Loads the digits classifier that examples/train_mlp.py exports (and
// ember-compile compiles for this CPU), reads a few test images and their
// labels from .npy files, and prints each image with the model's prediction.
//
//   predict_digits mlp.ember digits_x.npy digits_y.npy
//
// It links only Ember's runtime (//runtime:model): no LLVM, no MLIR, no
// Python. A model without native code for this CPU is rejected with a
// message saying to run ember-compile.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Model.h"
#include "ember/Runtime/Npy.h"

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

namespace {

/// Draws a standardized 8x8 image: darker characters for brighter pixels.
void printImage(const float *pixels) {
  static const char shades[] = " .:+#";
  for (int row = 0; row < 8; ++row) {
    std::printf("    ");
    for (int col = 0; col < 8; ++col) {
      float v = pixels[row * 8 + col];
      int level = v < -0.5f ? 0 : v < 0.0f ? 1 : v < 0.5f ? 2 : v < 1.0f ? 3 : 4;
      std::printf("%c%c", shades[level], shades[level]);
    }
    std::printf("\n");
  }
}

int run(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr,
                 "usage: %s MODEL.ember IMAGES.npy LABELS.npy\n"
                 "  MODEL.ember  a digits classifier exported by examples/train_mlp.py\n"
                 "               and compiled with `ember-compile --target cpu --sign KEY.key`\n"
                 "               (its native code runs when EMBER_TRUSTED_KEYS names KEY.pub)\n"
                 "  IMAGES.npy   float32 [n, 64] standardized 8x8 images\n"
                 "  LABELS.npy   int64 [n] their classes\n",
                 argv[0]);
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  ember::Model model = ember::Model::load(argv[1]);
  double loadMs = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  ember::HostTensor images = ember::readNpy(argv[2]);
  ember::HostTensor labels = ember::readNpy(argv[3]);
  if (images.rank() != 2 || images.dim(1) != 64 ||
      images.dtype() != ember::ElementType::Float32)
    throw ember::ModelError(std::string(argv[2]) +
                            ": expected float32 images of shape [n, 64], got " +
                            images.describe());
  if (labels.rank() != 1 || labels.dim(0) != images.dim(0) ||
      labels.dtype() != ember::ElementType::Int64)
    throw ember::ModelError(std::string(argv[3]) + ": expected int64 labels of shape [" +
                            std::to_string(images.dim(0)) + "], got " +
                            labels.describe());
  std::printf("loaded %s in %.2f ms (runs %s code)\n", argv[1], loadMs,
              model.executableKind().c_str());

  std::vector<ember::HostTensor> outputs = model.forward({images});
  const ember::HostTensor &logits = outputs.at(0);
  int64_t n = images.dim(0), classes = logits.dim(1);
  int correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float *row = logits.data<float>() + i * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (row[c] > row[best])
        best = c;
    int64_t label = labels.data<int64_t>()[i];
    correct += best == label;
    std::printf("\nimage %lld: predicted %lld, label %lld %s\n",
                static_cast<long long>(i), static_cast<long long>(best),
                static_cast<long long>(label), best == label ? "(correct)" : "(WRONG)");
    printImage(images.data<float>() + i * 64);
  }
  std::printf("\n%d of %lld predictions correct\n", correct, static_cast<long long>(n));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "predict_digits: error: %s\n", error.what());
    return 1;
  }
}
