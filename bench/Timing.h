//===- Timing.h - timing helpers shared by the C++ benchmarks ---*- C++ -*-===//
//
// Header-only, so that bench/torch_model_bench.cpp (built with g++ against
// libtorch by bench/model_bench.py, outside Bazel) and the Bazel-built
// benchmarks measure the same way.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_BENCH_TIMING_H
#define EMBER_BENCH_TIMING_H

#include <algorithm>
#include <chrono>
#include <vector>

namespace ember {
namespace bench {

using Clock = std::chrono::steady_clock;

inline double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

/// Median latency (microseconds) of `call`, after 20 warm-up calls, over at
/// least 50 calls that together take about `budgetMs`.
template <typename Call> double medianMicros(Call call, double budgetMs) {
  for (int i = 0; i < 20; ++i)
    call();
  std::vector<double> times;
  Clock::time_point begin = Clock::now();
  while (times.size() < 50 || (millisecondsSince(begin) < budgetMs && times.size() < 100000)) {
    Clock::time_point start = Clock::now();
    call();
    times.push_back(millisecondsSince(start) * 1000.0);
  }
  return median(times);
}

} // namespace bench
} // namespace ember

#endif // EMBER_BENCH_TIMING_H
