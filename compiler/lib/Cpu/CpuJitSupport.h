//===- CpuJitSupport.h - pieces shared by the CPU JIT paths -----*- C++ -*-===//
//
// compileForCpu (one module, MLIR's ExecutionEngine) and
// compileForCpuByKernel (one object per kernel) share the host target, the
// lowering and the compile-phase timer. Internal to the compiler library.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_LIB_CPUJITSUPPORT_H
#define EMBER_COMPILER_LIB_CPUJITSUPPORT_H

#include "ember/Compiler/CpuCompiler.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"

namespace mlir {
class PassManager;
} // namespace mlir
namespace llvm {
class Module;
} // namespace llvm

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

namespace ember {

/// EMBER_DEBUG=2 or EMBER_COMPILE_TIMING=1: prints how long each phase of a
/// compile took.
class CpuCompileTimer {
public:
  static bool enabled();
  /// Prints the time since the previous phase (or construction) as `name`.
  void phase(const char *name);

private:
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

/// The host (or the CPU `options` names) as a target machine builder; a
/// bad CPU name fails here with `error` set.
std::optional<llvm::orc::JITTargetMachineBuilder>
hostTargetMachineBuilder(const CpuCompileOptions &options, std::string *error);

/// Runs the CPU lowering pipeline on `module` (to the LLVM dialect); false
/// with the diagnostics in `error` on failure.
bool lowerForCpu(mlir::ModuleOp module, std::string *error,
                 bool shapeFunctions = false);

/// A progress line for a long compile: "[ember] compiling a graph: 12/40
/// kernels (8 compiled before) ..." on stderr, rewritten in place, shown
/// only once the compile has taken a second and stderr is a terminal (or
/// EMBER_PROGRESS=1 asks for it; EMBER_PROGRESS=0 never shows it), so short
/// compiles print nothing (CompileProgress.cpp). Thread-safe.
class CompileProgress {
public:
  /// `total` objects to compile; `reused` kernels found compiled before.
  CompileProgress(size_t total, size_t reused);
  /// One object compiled.
  void done();
  /// Ends the line, if one was shown.
  void finish();

private:
  size_t total, reused;
  std::atomic<size_t> finished{0};
  std::atomic<bool> shown{false};
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

/// While ember.profiler records: a span per pass of `pm`'s runs
/// (ProfileInstrumentation.cpp). Nothing otherwise.
void addProfilerInstrumentation(mlir::PassManager &pm);

/// Wraps each call in `glue` that runs one of `kernels` (directly, or a
/// parallel launch given its address) in calls to the runtime's
/// ember_profile_kernel_begin/end, named by the kernel's symbol.
void instrumentKernelCalls(llvm::Module &glue, const llvm::StringSet<> &kernels);

} // namespace ember

#endif // EMBER_COMPILER_LIB_CPUJITSUPPORT_H
