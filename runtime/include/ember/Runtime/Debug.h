//===- Debug.h - EMBER_DEBUG and the diagnostic-output switches -*- C++ -*-===//
//
// Every diagnostic print of Ember (compile logs, timings, IR dumps) asks
// here whether it is on, so the environment is read in one place, once.
// `EMBER_DEBUG=N` climbs a ladder (like tinygrad's DEBUG), each level adding
// to the one below:
//   1  one line per graph compile and per graph loaded from the disk cache
//   2  + one line per compile-cache hit, and the phases of each CPU compile
//   3  + one line per CPU kernel: its code generation time, or that it was
//      compiled before; MLIR's per-pass timing report
//   4  + IR: each traced graph before it compiles, each GPU module after
//      the target lowering
// The older knobs stay as finer switches, each turning on its topics at
// any level (docs/knobs.md). Runtime-level code: no LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_DEBUG_H
#define EMBER_RUNTIME_DEBUG_H

namespace ember {

/// What a diagnostic print is about; each is on from one EMBER_DEBUG level,
/// or by its own knob.
enum class DebugTopic {
  /// Level 1, EMBER_LOG_COMPILES: graph compiles and disk-cache loads.
  Compiles,
  /// Level 2: graphs found compiled in memory.
  CacheHits,
  /// Level 2, EMBER_COMPILE_TIMING: the phases of a CPU compile.
  CompilePhases,
  /// Level 3, EMBER_COMPILE_TIMING: each kernel's code generation time and
  /// MLIR's per-pass timing report.
  CompileDetails,
  /// Level 3: the kernels a CPU compile found compiled before.
  KernelReuse,
  /// Level 4, EMBER_DUMP_GRAPHS: each traced graph before it compiles.
  Graphs,
  /// Level 4, EMBER_DUMP_GPU: each GPU module after the target lowering.
  GpuModules,
};

/// The highest EMBER_DEBUG level.
constexpr int kMaxDebugLevel = 4;

/// EMBER_DEBUG: 0 when unset; levels past 4 act as 4; a value that is not
/// a whole number is ignored with a warning.
int debugLevel();

/// Whether prints about `topic` are on (by EMBER_DEBUG or its own knob).
bool debugEnabled(DebugTopic topic);

} // namespace ember

#endif // EMBER_RUNTIME_DEBUG_H
