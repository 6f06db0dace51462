//===- AotCompiler.h - ahead-of-time CPU code for model files ---*- C++ -*-===//
//
// Compiles a module of ember functions into a shared object that the
// LLVM-free runtime can load from a .ember file (the `artifact.cpu` section):
// the CPU pipeline with position-independent code and runtime slots
// (`ember-runtime-slots`), LLVM at O3 for the chosen CPU, then ld.lld
// -shared against libc and libm only. docs/compiler.md, "Ahead of time".
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_AOTCOMPILER_H
#define EMBER_COMPILER_AOTCOMPILER_H

#include "ember/Runtime/Manifest.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ember {

struct AotOptions {
  /// "host" or an LLVM CPU name ("x86-64-v3", "skylake-avx512").
  std::string cpu = "host";
  /// LLVM features added to the CPU's ("+avx2,-avx512f").
  std::string features;
  /// LLVM optimization level (0-3).
  unsigned optLevel = 3;
  /// The linker that makes the shared object.
  std::string linker = "/usr/lib/llvm-22/bin/ld.lld";
  /// XXH64 of the program section being compiled: the artifact's ABI
  /// record names it, tying the code to its program.
  uint64_t programChecksum = 0;
  /// Each entry's weight names in argument order (the manifest's), which
  /// the ABI record keeps.
  std::map<std::string, std::vector<std::string>> entryWeights;
};

/// A shared object and its manifest record.
struct AotArtifact {
  std::vector<uint8_t> bytes;
  /// target "cpu", format "elf-shared-object", section "artifact.cpu",
  /// checksum, triple, cpu, features, entry symbols and runtime slots.
  ArtifactSpec spec;
};

/// Lowers `module` in place and compiles it into a shared object exporting
/// the packed form of each function named in `entries` (each must be a
/// public function of `module`). False with `error` set on failure.
bool compileCpuArtifact(mlir::ModuleOp module,
                        llvm::ArrayRef<std::string> entries,
                        const AotOptions &options, AotArtifact *artifact,
                        std::string *error);

/// Links the object file `objectPath` into the shared object `outputPath`
/// with `linker`; on failure `error` names the linker and holds its stderr.
bool linkSharedObject(llvm::StringRef linker, llvm::StringRef objectPath,
                      llvm::StringRef outputPath, std::string *error);

} // namespace ember

#endif // EMBER_COMPILER_AOTCOMPILER_H
