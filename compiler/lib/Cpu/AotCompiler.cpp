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
#include "ember/Runtime/ArtifactAbi.h"
#include "ember/Runtime/ModelFile.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

using namespace mlir;

namespace ember {

namespace {

/// The runtime's name for an MLIR element type.
bool toElementType(Type type, ElementType *result) {
  if (type.isInteger(1))
    *result = ElementType::Bool;
  else if (type.isInteger(32))
    *result = ElementType::Int32;
  else if (type.isInteger(64))
    *result = ElementType::Int64;
  else if (type.isF16())
    *result = ElementType::Float16;
  else if (type.isBF16())
    *result = ElementType::BFloat16;
  else if (type.isF32())
    *result = ElementType::Float32;
  else if (type.isF64())
    *result = ElementType::Float64;
  else
    return false;
  return true;
}

bool toAbiTensor(Type type, AbiTensor *tensor, std::string *error) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked || !toElementType(ranked.getElementType(), &tensor->dtype)) {
    *error = "an entry takes or returns a value that is not a ranked tensor "
             "of a supported dtype";
    return false;
  }
  for (int64_t dim : ranked.getShape())
    tensor->shape.push_back(ShapedType::isDynamic(dim) ? -1 : dim);
  return true;
}

/// The ABI record of `entries` (read from the program, before lowering).
bool describeAbi(ModuleOp module, llvm::ArrayRef<std::string> entries,
                 const AotOptions &options, ArtifactAbi *abi, std::string *error) {
  abi->program = checksumHex(options.programChecksum);
  for (const std::string &name : entries) {
    auto func = module.lookupSymbol<func::FuncOp>(name);
    if (!func) {
      *error = "the program has no function '" + name + "'";
      return false;
    }
    AbiEntry entry;
    entry.name = name;
    entry.symbol = packedEntrySymbol(name);
    entry.shapeSymbol = packedShapeSymbol(name);
    if (auto weights = options.entryWeights.find(name);
        weights != options.entryWeights.end())
      entry.weights = weights->second;
    for (Type type : func.getFunctionType().getInputs())
      if (!toAbiTensor(type, &entry.arguments.emplace_back(), error))
        return false;
    for (Type type : func.getFunctionType().getResults())
      if (!toAbiTensor(type, &entry.outputs.emplace_back(), error))
        return false;
    abi->entries.push_back(std::move(entry));
  }
  return true;
}

} // namespace

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
  // Only libc and libm: the runtime's functions come through slots. The
  // loader needs DT_HASH (ElfImage.cpp counts symbols with it).
  llvm::SmallVector<llvm::StringRef> args = {
      linker, "-shared", "--hash-style=both", "-z", "noexecstack", "-z", "now",
      "-o", outputPath, objectPath,
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
  ArtifactAbi abi;
  if (!describeAbi(module, entries, options, &abi, error))
    return false;
  CpuCompileOptions compileOptions;
  compileOptions.optLevel = options.optLevel;
  compileOptions.keepObject = true;
  compileOptions.positionIndependent = true;
  compileOptions.runtimeSlots = true;
  compileOptions.cpu = options.cpu;
  compileOptions.features = options.features;
  compileOptions.shapeFunctions = true;
  // The runtime functions the code calls are known once it is lowered.
  compileOptions.abiRecord = [&abi](const CpuTarget &target) {
    abi.runtimeSlots = target.runtimeSlots;
    return abi.serialize();
  };
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
