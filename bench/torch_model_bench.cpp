//===- torch_model_bench.cpp - torch::jit::load and forward latency --------===//
//
// The PyTorch half of bench/model_bench.py, in C++ like Ember's half so that
// neither side pays for Python: times torch::jit::load of a TorchScript file
// (first load, then the median of repeated loads) and forward at each batch
// size (median of single calls after warm-up, under InferenceMode). Prints
// one JSON object. Built by bench/model_bench.py against Debian's libtorch
// (python3-torch ships its headers and libraries); not part of the Bazel
// build, so that tests never need libtorch's headers.
//
//   torch_model_bench MODEL.pt FEATURES BATCH...
//
//===----------------------------------------------------------------------===//

#include "Timing.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace ember::bench;

} // namespace

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL.pt FEATURES BATCH...\n", argv[0]);
    return 2;
  }
  std::string path = argv[1];
  int64_t features = std::atoll(argv[2]);
  c10::InferenceMode inference;
  // As many intra-op threads as cores, like OpenBLAS under Ember (libtorch
  // reports 1 until told otherwise here).
  at::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));

  Clock::time_point start = Clock::now();
  torch::jit::Module module = torch::jit::load(path);
  module.eval();
  double firstLoadMs = millisecondsSince(start);
  std::vector<double> loads;
  for (int i = 0; i < 20; ++i) {
    start = Clock::now();
    torch::jit::Module again = torch::jit::load(path);
    again.eval();
    loads.push_back(millisecondsSince(start));
  }

  std::printf("{\"threads\": %d, \"first_load_ms\": %.4f, \"load_ms\": %.4f, \"forward_us\": {",
              at::get_num_threads(), firstLoadMs, median(loads));
  torch::manual_seed(0);
  for (int i = 3; i < argc; ++i) {
    int64_t batch = std::atoll(argv[i]);
    std::vector<torch::jit::IValue> inputs{torch::randn({batch, features})};
    double micros = medianMicros([&] { module.forward(inputs).toTensor(); }, 1000.0);
    std::printf("%s\"%lld\": %.3f", i > 3 ? ", " : "", static_cast<long long>(batch), micros);
  }
  std::printf("}}\n");
  return 0;
}
