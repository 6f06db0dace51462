//===- ThreadPool.h - the runtime's pool for splitting loops -----*- C++ -*-===//
//
// One process-wide pool of numThreads() - 1 workers (Threads.h); the thread
// that calls parallelFor works too. Generated kernels split their outer
// parallel loop through `ember_parallel_for`, runtime code (the GEMM) through
// ember::parallelFor.
//
// A call runs inline, with no synchronisation at all, when the range is
// under two grains, when numThreads() is 1, when it comes from inside a
// running parallelFor (nested), or when another thread has the pool. Idle
// workers spin (~200 microseconds, EMBER_POOL_SPIN_US), then sleep on a
// condition variable, so other processes get the cores; a job whose last
// run (same body, same range) took less work than a sleeping worker needs
// to wake up (measured by the pool, ThreadPoolStats::wakeLatencyNanos; at
// most 50 us) leaves sleeping workers asleep, and only spinning ones help with it. A call
// allocates nothing (the workers are made, or remade when setNumThreads
// changes the count, on the first call that needs them). No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_THREADPOOL_H
#define EMBER_RUNTIME_THREADPOOL_H

#include <cstdint>

namespace ember {

/// The body of a parallel loop: runs indices [lo, hi) with `context`.
using ParallelChunkFn = void (*)(void *context, int64_t lo, int64_t hi);

/// Runs `fn` over [begin, end) in chunks of at least `grain` indices (the
/// last chunk of a split may be shorter only when the whole range is), each
/// index exactly once, and returns when every chunk is done. Chunks run
/// concurrently on the pool's workers and the calling thread.
void parallelFor(int64_t begin, int64_t end, int64_t grain, ParallelChunkFn fn,
                 void *context);

/// parallelFor with a callable `body(lo, hi)`.
template <typename Body>
void parallelFor(int64_t begin, int64_t end, int64_t grain, const Body &body) {
  parallelFor(
      begin, end, grain,
      [](void *context, int64_t lo, int64_t hi) {
        (*static_cast<const Body *>(context))(lo, hi);
      },
      const_cast<void *>(static_cast<const void *>(&body)));
}

/// Counters since process start (a forked child starts from zero), for
/// tests and benchmarks.
struct ThreadPoolStats {
  /// Jobs split across the pool (not those run inline).
  int64_t launches;
  /// Launches that woke sleeping workers, and those that left them asleep
  /// because the job's last run took less work than a worker needs to wake
  /// (wakeLatencyNanos, at most 50 us).
  int64_t wakeups, skippedWakeups;
  /// Chunks run by callers and by workers.
  int64_t callerChunks, workerChunks;
  /// Launches whose caller slept waiting for a worker's last chunk.
  int64_t callerSleeps;
  /// The pool's running average of how long a woken worker takes to reach
  /// its job (ns; 50 us until one was measured). The least work that wakes
  /// sleeping workers is this, at most 50 us.
  int64_t wakeLatencyNanos;
};
ThreadPoolStats threadPoolStats();

/// The workers the pool holds now (numThreads() - 1 once it has been used
/// with more than one thread; 0 before). For tests and diagnostics.
int poolWorkerCount();

} // namespace ember

extern "C" {
/// parallelFor for compiled code (the JIT resolves it from
/// cpuRuntimeSymbols(); AOT objects call it through their runtime slot).
void ember_parallel_for(void (*fn)(void *, int64_t, int64_t), void *context,
                        int64_t begin, int64_t end, int64_t grain);
}

#endif // EMBER_RUNTIME_THREADPOOL_H
