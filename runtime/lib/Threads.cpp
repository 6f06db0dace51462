//===- Threads.cpp - the process-wide CPU thread count ---------------------===//

#include "ember/Runtime/Threads.h"

#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

namespace ember {
namespace {

/// EMBER_NUM_THREADS as a positive count; 0 when unset or malformed (which
/// is reported once: a typo must not silently change nothing).
int threadsFromEnvironment() {
  const char *text = std::getenv("EMBER_NUM_THREADS");
  if (!text || !*text)
    return 0;
  char *end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1 || value > 4096) {
    std::fprintf(stderr,
                 "ember: ignoring EMBER_NUM_THREADS=%s (expected a whole number "
                 "of threads, at least 1)\n",
                 text);
    return 0;
  }
  return static_cast<int>(value);
}

std::once_flag configured;

} // namespace

// OpenBLAS's own entry that stops its worker threads (exported by its
// pthread builds; weak: absent from other BLAS libraries).
extern "C" __attribute__((weak)) int blas_thread_shutdown_(void);

void ensureThreadsConfigured() {
  std::call_once(configured, [] {
    if (int threads = threadsFromEnvironment())
      openblas_set_num_threads(threads);
    // OpenBLAS starts its workers when it loads, and each spins in
    // sched_yield for ~0.1 s before it sleeps. Ember's f32 products run on
    // its own pool, so in a process that starts work at once (a C++ app)
    // that spinner held a core beside the pool's worker: mobilenet_v3_small
    // at batch 1 ran ~3.2 ms a call instead of ~2.0 for its first 25 calls.
    // OpenBLAS starts them again on its next threaded call (f64 products).
    if (blas_thread_shutdown_)
      blas_thread_shutdown_();
  });
}

int numThreads() {
  ensureThreadsConfigured();
  int threads = openblas_get_num_threads();
  return threads < 1 ? 1 : threads;
}

void setNumThreads(int threads) {
  if (threads < 1)
    throw std::invalid_argument("set_num_threads expects a positive integer");
  ensureThreadsConfigured();
  openblas_set_num_threads(threads);
}

} // namespace ember
