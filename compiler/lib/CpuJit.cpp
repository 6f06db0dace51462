//===- CpuJit.cpp - JIT-compile lowered ember modules for the host ---------===//

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Passes.h"
#include "ember/Runtime/CpuRuntime.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>

using namespace mlir;

namespace ember {

namespace {

void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

} // namespace

std::string formatLocation(Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto file = loc->findInstanceOf<FileLineColLoc>()) {
    os << file.getFilename().getValue() << ":" << file.getLine();
    if (file.getColumn())
      os << ":" << file.getColumn();
  } else {
    os << loc;
  }
  return text;
}

namespace {

/// Collects diagnostics as "file:line: message" lines.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext *context)
      : handler(context, [this](Diagnostic &diag) {
          llvm::raw_string_ostream os(text);
          os << formatLocation(diag.getLocation()) << ": " << diag
             << "\n";
          for (Diagnostic &note : diag.getNotes())
            os << formatLocation(note.getLocation()) << ": note: "
               << note << "\n";
          return success();
        }) {}
  std::string take() { return std::move(text); }

private:
  std::string text;
  ScopedDiagnosticHandler handler;
};

} // namespace

CpuExecutable::CpuExecutable(std::unique_ptr<ExecutionEngine> engine,
                             bool keepsObject)
    : engine(std::move(engine)), keepsObject(keepsObject) {}

CpuExecutable::~CpuExecutable() = default;

PackedEntry CpuExecutable::lookup(llvm::StringRef name,
                                  std::string *error) const {
  auto entry = engine->lookupPacked(
      (llvm::Twine("_mlir_ciface_") + kEntryPrefix + name).str());
  if (!entry) {
    std::string reason = llvm::toString(entry.takeError());
    if (error)
      *error = "no public function named '" + name.str() +
               "' in the compiled module (" + reason + ")";
    return nullptr;
  }
  return *entry;
}

bool CpuExecutable::invoke(llvm::StringRef name,
                           llvm::ArrayRef<BufferView> buffers,
                           std::string *error) const {
  PackedEntry entry = lookup(name, error);
  if (!entry)
    return false;
  invokePacked(entry, buffers);
  return true;
}

bool CpuExecutable::writeObjectFile(llvm::StringRef path,
                                    std::string *error) const {
  if (!keepsObject) {
    if (error)
      *error = "the module was compiled without keepObject; recompile with "
               "CpuCompileOptions::keepObject = true to write an object file";
    return false;
  }
  // dumpToObjectFile reports failures only on stderr: check the result.
  llvm::sys::fs::remove(path);
  engine->dumpToObjectFile(path);
  if (!llvm::sys::fs::exists(path)) {
    if (error)
      *error = "cannot write the object file '" + path.str() + "'";
    return false;
  }
  return true;
}

std::unique_ptr<CpuExecutable> compileForCpu(ModuleOp module,
                                             const CpuCompileOptions &options,
                                             std::string *error) {
  initializeNativeTarget();
  MLIRContext *context = module.getContext();
  DiagnosticCollector diagnostics(context);

  // Public functions become entry points; remember them to resolve each one
  // below, so a missing symbol fails here rather than at the first call.
  llvm::SmallVector<std::string> entryNames;
  for (auto func : module.getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal())
      entryNames.push_back(func.getSymName().str());

  PassManager pm(context);
  buildCpuLoweringPipeline(pm);
  if (failed(pm.run(module))) {
    if (error)
      *error = diagnostics.take();
    return nullptr;
  }

  // Target the host CPU exactly (e.g. AVX-512): without a host target
  // machine LLVM's O3 does not vectorize for this CPU.
  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder) {
    if (error)
      *error = "cannot detect the host CPU: " + llvm::toString(builder.takeError());
    return nullptr;
  }
  builder->setCodeGenOptLevel(options.optLevel >= 3
                                  ? llvm::CodeGenOptLevel::Aggressive
                                  : llvm::CodeGenOptLevel::Default);
  auto targetMachine = builder->createTargetMachine();
  if (!targetMachine) {
    if (error)
      *error = "cannot create a target machine: " +
               llvm::toString(targetMachine.takeError());
    return nullptr;
  }
  auto transformer = makeOptimizingTransformer(options.optLevel, /*sizeLevel=*/0,
                                               targetMachine->get());
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel = options.optLevel >= 3
                                         ? llvm::CodeGenOptLevel::Aggressive
                                         : llvm::CodeGenOptLevel::Default;
  engineOptions.enableObjectDump = options.keepObject;
  engineOptions.enableGDBNotificationListener = false;
  engineOptions.enablePerfNotificationListener = false;
  auto engine =
      ExecutionEngine::create(module, engineOptions, std::move(*targetMachine));
  if (!engine) {
    std::string message = diagnostics.take();
    if (error)
      *error = message + llvm::toString(engine.takeError());
    return nullptr;
  }
  // Generated code calls the runtime (GEMMs, strided copies, the host
  // allocator for its temporaries) by name.
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    int count = 0;
    const RuntimeSymbol *table = cpuRuntimeSymbols(&count);
    for (int i = 0; i < count; ++i)
      symbols[interner(table[i].name)] = {
          llvm::orc::ExecutorAddr::fromPtr(table[i].address),
          llvm::JITSymbolFlags::Exported};
    return symbols;
  });
  (*engine)->initialize();
  auto executable = std::make_unique<CpuExecutable>(std::move(*engine),
                                                    options.keepObject);
  for (const std::string &name : entryNames)
    if (!executable->lookup(name, error))
      return nullptr;
  return executable;
}

} // namespace ember
