//===- AotCompiler.cpp - shared objects for the runtime's native path ------===//
//
// The JIT already produces exactly the code we want to ship: the same
// pipeline, LLVM's O3 for the chosen CPU, and MLIR's packed wrappers
// (`_mlir__mlir_ciface_ember_entry_<name>`, made by the ExecutionEngine). So
// the AOT path compiles through compileForCpu with a PIC target machine and
// runtime slots, keeps the object the JIT linked, and hands it to ld.lld.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/AotCompiler.h"
#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Passes.h"
#include "ember/Runtime/ModelFile.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

using namespace mlir;

namespace ember {

std::string packedEntrySymbol(llvm::StringRef entry) {
  return (llvm::Twine("_mlir__mlir_ciface_") + kEntryPrefix + entry).str();
}

bool linkSharedObject(llvm::StringRef linker, llvm::StringRef objectPath,
                      llvm::StringRef outputPath, std::string *error) {
  llvm::SmallString<128> stderrPath;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
          "ember-link", "txt", stderrPath)) {
    *error = "cannot create a temporary file: " + ec.message();
    return false;
  }
  auto removeStderr =
      llvm::make_scope_exit([&] { llvm::sys::fs::remove(stderrPath); });
  // Only libc and libm: the runtime's functions come through slots.
  llvm::SmallVector<llvm::StringRef> args = {
      linker, "-shared", "-o", outputPath, objectPath,
      "-L/lib/x86_64-linux-gnu", "-L/usr/lib/x86_64-linux-gnu", "-lm", "-lc"};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, stderrPath.str(),
                                               stderrPath.str()};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(linker, args, std::nullopt, redirects,
                                         /*SecondsToWait=*/0,
                                         /*MemoryLimit=*/0, &message);
  if (status == 0)
    return true;
  std::string output;
  if (auto buffer = llvm::MemoryBuffer::getFile(stderrPath))
    output = (*buffer)->getBuffer().trim().str();
  *error = "the linker " + linker.str() +
           (status < 0 ? " could not run (" + message + ")"
                       : " failed (exit " + std::to_string(status) + ")") +
           (output.empty() ? std::string() : ":\n" + output);
  return false;
}

bool compileCpuArtifact(ModuleOp module, llvm::ArrayRef<std::string> entries,
                        const AotOptions &options, AotArtifact *artifact,
                        std::string *error) {
  CpuCompileOptions compileOptions;
  compileOptions.optLevel = options.optLevel;
  compileOptions.keepObject = true;
  compileOptions.positionIndependent = true;
  compileOptions.runtimeSlots = true;
  compileOptions.cpu = options.cpu;
  compileOptions.features = options.features;
  std::unique_ptr<CpuExecutable> compiled =
      compileForCpu(module, compileOptions, error);
  if (!compiled)
    return false;
  for (const std::string &entry : entries)
    if (!compiled->lookup(entry, error))
      return false;

  llvm::SmallString<128> folder;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("ember-aot", folder)) {
    *error = "cannot create a temporary folder: " + ec.message();
    return false;
  }
  auto removeFolder =
      llvm::make_scope_exit([&] { llvm::sys::fs::remove_directories(folder); });
  llvm::SmallString<128> objectPath(folder), libraryPath(folder);
  llvm::sys::path::append(objectPath, "model.o");
  llvm::sys::path::append(libraryPath, "model.so");
  if (!compiled->writeObjectFile(objectPath, error) ||
      !linkSharedObject(options.linker, objectPath, libraryPath, error))
    return false;
  auto library = llvm::MemoryBuffer::getFile(libraryPath);
  if (!library) {
    *error = "cannot read the linked shared object: " +
             library.getError().message();
    return false;
  }
  llvm::StringRef bytes = (*library)->getBuffer();
  artifact->bytes.assign(bytes.begin(), bytes.end());

  const CpuTarget &target = compiled->target();
  ArtifactSpec &spec = artifact->spec;
  spec = ArtifactSpec();
  spec.target = "cpu";
  spec.format = "elf-shared-object";
  spec.section = "artifact.cpu";
  spec.checksum =
      checksumHex(xxhash64(artifact->bytes.data(), artifact->bytes.size()));
  spec.triple = target.triple;
  spec.cpu = target.cpu;
  spec.features = target.features;
  for (const std::string &entry : entries)
    spec.entrySymbols[entry] = packedEntrySymbol(entry);
  spec.runtimeSlots = target.runtimeSlots;
  return true;
}

} // namespace ember
