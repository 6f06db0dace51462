//===- ProgramLoaderFuzz.cpp - libFuzzer target for a model's program ------===//
//
// Feeds arbitrary bytes to the JIT path's reader of a model's `program`
// section, as ember::Model does when it has no native code to run:
// parseModelProgram (the bytecode check, MLIR's bytecode reader, the
// verifier) in a fresh context with every dialect the compiler registers,
// then checkModelEntries against the manifests of the seed models, then
// printing the module. The section's bytes are the whole input: the file
// around them is checksummed, so mutating a whole .ember would rarely reach
// the program. A clean error is fine; a crash, a sanitizer report, an abort
// (LLVM ERROR) or a hang is a bug.
//
// EMBER_FUZZ_COMPILE=1 also JIT-compiles every program that passes the
// checks (slow: use it for a separate run); EMBER_FUZZ_VERBOSE=1 prints why
// each input was refused (to replay a corpus).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/ModelProgram.h"
#include "ember/Runtime/Manifest.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace ember;

namespace {

/// The manifests of the seed programs (test/fuzz/corpus/program/), so that
/// a mutated program is also checked against the entries it came with.
const char *const kManifests[] = {
#include "ProgramFuzzManifests.inc"
};

struct Setup {
  mlir::DialectRegistry registry;
  std::vector<Manifest> manifests;
  bool compile = false;
  bool verbose = false;

  Setup() {
    registerCompilerDialects(registry);
    for (const char *text : kManifests)
      manifests.push_back(parseManifest(text, UINT64_MAX));
    const char *flag = std::getenv("EMBER_FUZZ_COMPILE");
    compile = flag && std::string(flag) == "1";
    flag = std::getenv("EMBER_FUZZ_VERBOSE");
    verbose = flag && std::string(flag) == "1";
  }
};

const Setup &setup() {
  static const Setup instance;
  return instance;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const Setup &s = setup();
  // A context per program, as ModelJit.cpp makes one per model.
  mlir::MLIRContext context(s.registry, mlir::MLIRContext::Threading::DISABLED);
  std::string error;
  mlir::OwningOpRef<mlir::ModuleOp> module = parseModelProgram(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), &context,
      &error);
  if (!module) {
    if (error.empty())
      __builtin_trap(); // a failure must say why
    if (s.verbose)
      llvm::errs() << "refused: " << error << "\n";
    return 0;
  }
  if (mlir::failed(mlir::verify(*module)))
    __builtin_trap(); // parseModelProgram returned a module that does not verify
  const Manifest *fits = nullptr;
  for (const Manifest &manifest : s.manifests)
    if (mlir::succeeded(checkModelEntries(*module, manifest, &error)))
      fits = &manifest;
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  if (s.verbose)
    llvm::errs() << "parsed; " << (fits ? "fits a seed manifest" : "fits no seed manifest: " + error) << "\n";
  if (fits && s.compile)
    (void)compileForCpu(*module, CpuCompileOptions(), &error);
  return 0;
}
