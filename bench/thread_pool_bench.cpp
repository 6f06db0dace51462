//===- thread_pool_bench.cpp - fork/join cost of one parallel launch -------===//
//
// What one ember::parallelFor costs against running the same work inline, for
// jobs of a few microseconds to a millisecond of (spinning, cache-resident)
// work, as a compiled model's kernels launch them: back to back, and with a
// gap between launches (the glue's own work, or Python between two eager
// ops). Prints one line per case: the median microseconds per launch inline
// and through the pool, their ratio (> 1: the pool wins), and per launch
// the chunks workers ran and the wake-ups (ThreadPoolStats). The pool's
// counters (ThreadPool.h) say how the launches ran.
//
//   thread_pool_bench [THREADS]
//
//===----------------------------------------------------------------------===//

#include "Timing.h"
#include "ember/Runtime/ThreadPool.h"
#include "ember/Runtime/Threads.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace {

using namespace ember::bench;

/// Busy work of about `nanos` nanoseconds, not optimised away.
void work(int64_t nanos) {
  Clock::time_point end = Clock::now() + std::chrono::nanoseconds(nanos);
  while (Clock::now() < end) {
  }
}

/// `launches` parallel jobs of `totalNanos` of work split over 64 indices;
/// `gapNanos` of caller work between two launches.
double microsPerLaunch(bool parallel, int64_t totalNanos, int64_t gapNanos) {
  const int64_t indices = 64;
  int64_t perIndex = totalNanos / indices;
  auto body = [&](int64_t lo, int64_t hi) { work((hi - lo) * perIndex); };
  return medianMicros(
      [&] {
        if (parallel)
          ember::parallelFor(0, indices, 1, body);
        else
          body(0, indices);
        if (gapNanos)
          work(gapNanos);
      },
      300.0);
}

} // namespace

int main(int argc, char **argv) {
  if (argc > 1)
    ember::setNumThreads(std::atoi(argv[1]));
  std::printf("threads %d\n%8s %8s %10s %10s %6s %8s %8s %8s %8s\n", ember::numThreads(),
              "work_us", "gap_us", "inline_us", "pool_us", "ratio", "w.chunks", "wakes",
              "skipped", "c.sleeps");
  for (int64_t gap : {0, 20, 500})
    for (int64_t work : {0, 2, 5, 10, 20, 50, 200, 1000}) {
      double serial = microsPerLaunch(false, work * 1000, gap * 1000);
      ember::ThreadPoolStats before = ember::threadPoolStats();
      double pooled = microsPerLaunch(true, work * 1000, gap * 1000);
      ember::ThreadPoolStats after = ember::threadPoolStats();
      double launches = std::max<double>(after.launches - before.launches, 1);
      std::printf("%8lld %8lld %10.2f %10.2f %6.2f %8.2f %8.2f %8.2f %8.2f\n", (long long)work,
                  (long long)gap, serial, pooled, serial / pooled,
                  (after.workerChunks - before.workerChunks) / launches,
                  (after.wakeups - before.wakeups) / launches,
                  (after.skippedWakeups - before.skippedWakeups) / launches,
                  (after.callerSleeps - before.callerSleeps) / launches);
      std::fflush(stdout);
    }
  std::printf("measured wake-up latency: %.1f us (the least work that wakes a sleeping worker)\n",
              ember::threadPoolStats().wakeLatencyNanos / 1e3);
  return 0;
}
