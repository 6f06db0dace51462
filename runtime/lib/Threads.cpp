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

void ensureThreadsConfigured() {
  std::call_once(configured, [] {
    if (int threads = threadsFromEnvironment())
      openblas_set_num_threads(threads);
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
