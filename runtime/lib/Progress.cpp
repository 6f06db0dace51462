//===- Progress.cpp - progress lines for long work on stderr --------------===//

#include "ember/Runtime/Progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace ember {
namespace {

/// EMBER_PROGRESS_AFTER: seconds of work before its line appears.
double delaySeconds() {
  static const double seconds = [] {
    const char *value = std::getenv("EMBER_PROGRESS_AFTER");
    if (!value || !*value)
      return 1.0;
    char *end = nullptr;
    double parsed = std::strtod(value, &end);
    if (*end || !(parsed >= 0)) {
      std::fprintf(stderr,
                   "ember: ignoring EMBER_PROGRESS_AFTER=%s (expected seconds, "
                   "such as 0.5)\n",
                   value);
      return 1.0;
    }
    return parsed;
  }();
  return seconds;
}

std::mutex lineMutex;
std::chrono::steady_clock::time_point lastDraw;

} // namespace

bool progressLinesOn() {
  static const bool on = [] {
    const char *value = std::getenv("EMBER_PROGRESS");
    if (value && *value)
      return value[0] != '0';
    return isatty(STDERR_FILENO) != 0;
  }();
  return on;
}

bool drawProgress(std::chrono::steady_clock::time_point start, bool shown, size_t done,
                  size_t total, const char *what, const char *unit,
                  const std::string &note) {
  if (!progressLinesOn() || total < 2)
    return false;
  auto now = std::chrono::steady_clock::now();
  double seconds = std::chrono::duration<double>(now - start).count();
  if (!shown && seconds < delaySeconds())
    return false;
  std::lock_guard<std::mutex> lock(lineMutex);
  // A redraw per item would flood a log with thousands of quick ones.
  if (shown && done < total && now - lastDraw < std::chrono::milliseconds(100))
    return true;
  lastDraw = now;
  std::fprintf(stderr, "\r[ember] %s: %zu/%zu %s%s, %.1f s", what, done, total, unit,
               note.c_str(), seconds);
  std::fflush(stderr);
  return true;
}

void endProgressLine() {
  std::lock_guard<std::mutex> lock(lineMutex);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

} // namespace ember
