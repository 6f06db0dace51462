//===- image_model_bench.cpp - an image model's load, latency and memory ---===//
//
// The Ember C++ side of bench/import_bench.py: loads a compiled .ember
// image model with the C++ runtime (//runtime:model only) and prints one
// JSON object with
//   - load_ms: Model::load (map, validate, checksum, load the native code);
//   - rss_load_mib: the process's resident memory after the load, and
//     rss_peak_mib: its peak after the runs (VmRSS / VmHWM);
//   - forward_ms: every timed forward call on a (BATCH, 3, SIZE, SIZE)
//     input, after WARMUP untimed calls, and cpu_ms: the CPU time the
//     process spent in each (all threads; steadier than wall time on a
//     busy machine);
//   - pool: the thread pool's counters over the timed runs, per run
//     (launches split across the pool, wake-ups, chunks run by the caller
//     and by the workers, caller sleeps; ThreadPool.h): each launch costs
//     a batch-1 forward a hand-over to the workers.
// torch_image_bench.cpp measures the same for torch::jit::load.
//
//   image_model_bench MODEL.ember SIZE BATCH WARMUP RUNS
//
//===----------------------------------------------------------------------===//

#include "Timing.h"
#include "ember/Runtime/Model.h"
#include "ember/Runtime/ThreadPool.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <random>
#include <string>
#include <time.h>
#include <vector>

namespace {

using namespace ember::bench;

/// A /proc/self/status field in kB (VmRSS, VmHWM) as MiB.
double statusMiB(const std::string &field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::atof(line.c_str() + field.size() + 1) / 1024.0;
  return -1;
}

/// The CPU time of every thread of this process, in milliseconds.
double processCpuMs() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

int run(int argc, char **argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s MODEL.ember SIZE BATCH WARMUP RUNS\n", argv[0]);
    return 2;
  }
  int64_t size = std::atoll(argv[2]), batch = std::atoll(argv[3]);
  int warmup = std::atoi(argv[4]), runs = std::atoi(argv[5]);

  Clock::time_point start = Clock::now();
  ember::Model model = ember::Model::load(argv[1]);
  double loadMs = millisecondsSince(start);
  double rssLoad = statusMiB("VmRSS");

  ember::HostTensor x(ember::ElementType::Float32, {batch, 3, size, size});
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  for (int64_t j = 0; j < x.numel(); ++j)
    x.data<float>()[j] = normal(rng);
  for (int i = 0; i < warmup; ++i)
    model.forward({x});
  std::printf("{\"kind\": \"%s\", \"load_ms\": %.3f, \"rss_load_mib\": %.1f, \"forward_ms\": [",
              model.executableKind().c_str(), loadMs, rssLoad);
  std::vector<double> cpu;
  const ember::ThreadPoolStats before = ember::threadPoolStats();
  for (int i = 0; i < runs; ++i) {
    start = Clock::now();
    double cpuStart = processCpuMs();
    model.forward({x});
    cpu.push_back(processCpuMs() - cpuStart);
    std::printf("%s%.4f", i ? ", " : "", millisecondsSince(start));
  }
  std::printf("], \"cpu_ms\": [");
  for (size_t i = 0; i < cpu.size(); ++i)
    std::printf("%s%.4f", i ? ", " : "", cpu[i]);
  const ember::ThreadPoolStats after = ember::threadPoolStats();
  const double perRun = runs > 0 ? 1.0 / runs : 0.0;
  std::printf("], \"pool\": {\"launches\": %.1f, \"wakeups\": %.1f, "
              "\"caller_chunks\": %.1f, \"worker_chunks\": %.1f, "
              "\"caller_sleeps\": %.1f}",
              (after.launches - before.launches) * perRun,
              (after.wakeups - before.wakeups) * perRun,
              (after.callerChunks - before.callerChunks) * perRun,
              (after.workerChunks - before.workerChunks) * perRun,
              (after.callerSleeps - before.callerSleeps) * perRun);
  std::printf(", \"rss_peak_mib\": %.1f}\n", statusMiB("VmHWM"));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "image_model_bench: error: %s\n", error.what());
    return 1;
  }
}
