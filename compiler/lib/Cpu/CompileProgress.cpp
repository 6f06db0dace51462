//===- CompileProgress.cpp - a progress line for long CPU compiles --------===//
//
// A graph of hundreds of kernels takes seconds to compile the first time
// (and fills the disk cache as it goes); a person watching should see it
// move. Short compiles, pipes and logs stay quiet: the line appears only
// after a second, on a terminal, unless EMBER_PROGRESS says otherwise.
//
//===----------------------------------------------------------------------===//

#include "CpuJitSupport.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace ember {
namespace {

/// EMBER_PROGRESS: 1 always, 0 never, unset: when stderr is a terminal.
int progressSetting() {
  static const int setting = [] {
    const char *value = std::getenv("EMBER_PROGRESS");
    if (value && *value)
      return value[0] == '0' ? 0 : 1;
    return isatty(STDERR_FILENO) ? 2 : 0;
  }();
  return setting;
}

std::mutex &lineMutex() {
  static std::mutex mutex;
  return mutex;
}

} // namespace

CompileProgress::CompileProgress(size_t total, size_t reused)
    : total(total), reused(reused) {}

void CompileProgress::done() {
  size_t count = ++finished;
  if (!progressSetting() || total < 2)
    return;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (seconds < 1.0 && !shown)
    return;
  std::lock_guard<std::mutex> lock(lineMutex());
  shown = true;
  fprintf(stderr, "\r[ember] compiling a graph: %zu/%zu kernels", count, total);
  if (reused)
    fprintf(stderr, " (%zu more compiled before)", reused);
  fprintf(stderr, ", %.1f s", seconds);
  fflush(stderr);
}

void CompileProgress::finish() {
  if (!shown)
    return;
  std::lock_guard<std::mutex> lock(lineMutex());
  fprintf(stderr, "\n");
}

} // namespace ember
