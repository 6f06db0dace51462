//===- CompileProgress.cpp - a progress line for long CPU compiles --------===//
//
// A graph of hundreds of kernels takes seconds to compile the first time;
// a person watching should see it move. The line, its knobs and its
// quiet-when-short rule are the runtime's (ember/Runtime/Progress.h), shared
// with the disk cache's lines.
//
//===----------------------------------------------------------------------===//

#include "CpuJitSupport.h"

#include "ember/Runtime/Progress.h"

namespace ember {

CompileProgress::CompileProgress(size_t total, size_t reused)
    : total(total), reused(reused) {}

void CompileProgress::done() {
  size_t count = ++finished;
  if (!progressLinesOn())
    return;
  std::string note =
      reused ? " (" + std::to_string(reused) + " more compiled before)" : std::string();
  if (drawProgress(start, shown, count, total, "compiling a graph", "kernels", note))
    shown = true;
}

void CompileProgress::finish() {
  if (shown.exchange(false))
    endProgressLine();
}

} // namespace ember
