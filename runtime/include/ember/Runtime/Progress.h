//===- Progress.h - progress lines for long work on stderr ------*- C++ -*-===//
//
// Long work (compiling a big graph, writing its kernels into the disk cache,
// loading a graph from it) shows one line on stderr, rewritten in place:
//   [ember] compiling a graph: 12/40 kernels (8 more compiled before), 3.1 s
// Short work, pipes and logs stay quiet: a line appears only once the work
// has run EMBER_PROGRESS_AFTER seconds (default 1) and only on a terminal,
// unless EMBER_PROGRESS says otherwise (1: always, 0: never). Redrawn at
// most every 0.1 s, and at the last item. Runtime-level code: no LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_PROGRESS_H
#define EMBER_RUNTIME_PROGRESS_H

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

namespace ember {

/// Whether progress lines may show at all (EMBER_PROGRESS, or stderr is a
/// terminal); read once.
bool progressLinesOn();

/// Draws "[ember] <what>: <done>/<total> <unit><note>, <seconds> s" for work
/// that began at `start`, when lines are on, `total` is at least 2 and the
/// work has run long enough (or `shown`: its line is already up). Returns
/// whether it drew (the caller's line is then up). Thread-safe.
bool drawProgress(std::chrono::steady_clock::time_point start, bool shown, size_t done,
                  size_t total, const char *what, const char *unit,
                  const std::string &note = {});
/// Ends a line that drawProgress drew.
void endProgressLine();

/// One piece of long work's line: `step()` per item done; the line (if it
/// was shown) ends at `finish()` or destruction.
class ProgressLine {
public:
  ProgressLine(const char *what, size_t total, const char *unit)
      : what(what), unit(unit), total(total) {}
  ~ProgressLine() { finish(); }
  void step() {
    size_t count = ++done;
    if (progressLinesOn() && drawProgress(start, shown, count, total, what, unit))
      shown = true;
  }
  void finish() {
    if (shown.exchange(false))
      endProgressLine();
  }

  ProgressLine(const ProgressLine &) = delete;
  ProgressLine &operator=(const ProgressLine &) = delete;

private:
  const char *what, *unit;
  size_t total;
  std::atomic<size_t> done{0};
  std::atomic<bool> shown{false};
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

} // namespace ember

#endif // EMBER_RUNTIME_PROGRESS_H
