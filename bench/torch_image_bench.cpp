//===- torch_image_bench.cpp - torch::jit::load of an image model ---------===//
//
// The libtorch side of bench/import_bench.py, the counterpart of
// image_model_bench.cpp: load time of a TorchScript file (torch::jit::load),
// resident memory after it and at the peak, and each timed forward call on
// a (BATCH, 3, SIZE, SIZE) input under InferenceMode. Built by
// bench/import_bench.py with g++ against Debian's libtorch (not Bazel, so
// that tests never need libtorch's headers).
//
//   torch_image_bench MODEL.pt SIZE BATCH WARMUP RUNS
//
//===----------------------------------------------------------------------===//

#include "Timing.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <time.h>
#include <vector>

namespace {

double statusMiB(const std::string &field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::atof(line.c_str() + field.size() + 1) / 1024.0;
  return -1;
}

double processCpuMs() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

} // namespace

int main(int argc, char **argv) {
  using namespace ember::bench;
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s MODEL.pt SIZE BATCH WARMUP RUNS\n", argv[0]);
    return 2;
  }
  int64_t size = std::atoll(argv[2]), batch = std::atoll(argv[3]);
  int warmup = std::atoi(argv[4]), runs = std::atoi(argv[5]);
  c10::InferenceMode inference;
  at::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));

  Clock::time_point start = Clock::now();
  torch::jit::Module module = torch::jit::load(argv[1]);
  module.eval();
  double loadMs = millisecondsSince(start);
  double rssLoad = statusMiB("VmRSS");

  torch::manual_seed(0);
  std::vector<torch::jit::IValue> inputs{torch::randn({batch, 3, size, size})};
  for (int i = 0; i < warmup; ++i)
    module.forward(inputs);
  std::printf("{\"kind\": \"libtorch\", \"load_ms\": %.3f, \"rss_load_mib\": %.1f, "
              "\"forward_ms\": [",
              loadMs, rssLoad);
  std::vector<double> cpu;
  for (int i = 0; i < runs; ++i) {
    start = Clock::now();
    double cpuStart = processCpuMs();
    module.forward(inputs).toTensor();
    cpu.push_back(processCpuMs() - cpuStart);
    std::printf("%s%.4f", i ? ", " : "", millisecondsSince(start));
  }
  std::printf("], \"cpu_ms\": [");
  for (size_t i = 0; i < cpu.size(); ++i)
    std::printf("%s%.4f", i ? ", " : "", cpu[i]);
  std::printf("], \"rss_peak_mib\": %.1f}\n", statusMiB("VmHWM"));
  return 0;
}
