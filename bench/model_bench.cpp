//===- model_bench.cpp - load time and forward latency of an Ember model ---===//
//
// The Ember half of bench/model_bench.py: loads a compiled .ember file with
// the C++ runtime (//runtime:model only) and times
//   - Model::load (map, validate, checksum every section, load the native
//     code): the first load, then the median of repeated loads;
//   - forward at each batch size: the median of single calls after warm-up.
// Prints one JSON object on stdout. The torch half (torch_model_bench.cpp)
// measures the same things for torch::jit::load.
//
//   model_bench MODEL.ember FEATURES BATCH...
//
//===----------------------------------------------------------------------===//

#include "Timing.h"
#include "ember/Runtime/Model.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace ember::bench;

int run(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL.ember FEATURES BATCH...\n", argv[0]);
    return 2;
  }
  std::string path = argv[1];
  int64_t features = std::atoll(argv[2]);

  Clock::time_point start = Clock::now();
  ember::Model model = ember::Model::load(path);
  double firstLoadMs = millisecondsSince(start);
  std::vector<double> loads;
  for (int i = 0; i < 20; ++i) {
    start = Clock::now();
    ember::Model again = ember::Model::load(path);
    loads.push_back(millisecondsSince(start));
  }

  std::printf("{\"kind\": \"%s\", \"first_load_ms\": %.4f, \"load_ms\": %.4f, \"forward_us\": {",
              model.executableKind().c_str(), firstLoadMs, median(loads));
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  for (int i = 3; i < argc; ++i) {
    int64_t batch = std::atoll(argv[i]);
    ember::HostTensor x(ember::ElementType::Float32, {batch, features});
    for (int64_t j = 0; j < x.numel(); ++j)
      x.data<float>()[j] = normal(rng);
    double micros = medianMicros([&] { model.forward({x}); }, 1000.0);
    std::printf("%s\"%lld\": %.3f", i > 3 ? ", " : "", static_cast<long long>(batch), micros);
  }
  std::printf("}}\n");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "model_bench: error: %s\n", error.what());
    return 1;
  }
}
