//===- CpuJit.cpp - JIT-compile lowered ember modules for the host ---------===//

#include "CpuJitSupport.h"

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Diagnostics.h"
#include "ember/Compiler/Passes.h"
#include "ember/Runtime/CpuRuntime.h"
#include "ember/Runtime/Debug.h"
#include "ember/Runtime/Profiler.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h"
#include "llvm/ExecutionEngine/SectionMemoryManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>

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

/// The global `ember-runtime-slots` defines for runtime function `name`.
constexpr const char kRuntimeSlotPrefix[] = "__ember_rt_";

void *runtimeAddress(llvm::StringRef name) {
  int count = 0;
  const RuntimeSymbol *table = cpuRuntimeSymbols(&count);
  for (int i = 0; i < count; ++i)
    if (name == table[i].name)
      return table[i].address;
  return nullptr;
}

/// Every runtime function compiled code calls by name (GEMMs, strided
/// copies, the host allocator for temporaries), as JIT symbols.
llvm::orc::SymbolMap runtimeSymbolMap(llvm::orc::MangleAndInterner &interner) {
  llvm::orc::SymbolMap symbols;
  int count = 0;
  const RuntimeSymbol *table = cpuRuntimeSymbols(&count);
  for (int i = 0; i < count; ++i)
    symbols[interner(table[i].name)] = {llvm::orc::ExecutorAddr::fromPtr(table[i].address),
                                        llvm::JITSymbolFlags::Exported};
  // The kernel timing hooks of graphs compiled while profiling (JIT only:
  // such glue is never written to a model file).
  symbols[interner("ember_profile_kernel_begin")] = {
      llvm::orc::ExecutorAddr::fromPtr(&ember_profile_kernel_begin),
      llvm::JITSymbolFlags::Exported};
  symbols[interner("ember_profile_kernel_end")] = {
      llvm::orc::ExecutorAddr::fromPtr(&ember_profile_kernel_end),
      llvm::JITSymbolFlags::Exported};
  return symbols;
}

/// The host, or the CPU and features `options` name, for the host's triple.
std::optional<llvm::orc::JITTargetMachineBuilder>
makeTargetMachineBuilder(const CpuCompileOptions &options, std::string *error) {
  // Target the host CPU exactly (e.g. AVX-512): without a host target
  // machine LLVM's O3 does not vectorize for this CPU.
  auto host = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!host) {
    if (error)
      *error = "cannot detect the host CPU: " + llvm::toString(host.takeError());
    return std::nullopt;
  }
  llvm::orc::JITTargetMachineBuilder builder = std::move(*host);
  if (options.cpu != "host" && !options.cpu.empty()) {
    // An unknown name would only warn on stderr and fall back to a generic
    // CPU: reject it instead.
    std::string lookupError;
    const llvm::Target *target = llvm::TargetRegistry::lookupTarget(
        builder.getTargetTriple(), lookupError);
    std::unique_ptr<llvm::MCSubtargetInfo> generic(
        target ? target->createMCSubtargetInfo(builder.getTargetTriple(), "", "")
               : nullptr);
    if (!generic || !generic->isCPUStringValid(options.cpu)) {
      if (error)
        *error = "unknown CPU '" + options.cpu + "' for " +
                 builder.getTargetTriple().str() +
                 " (LLVM's names: `llc -mcpu=help`, e.g. x86-64-v3, "
                 "skylake-avx512, znver4)";
      return std::nullopt;
    }
    builder.setCPU(options.cpu);
    builder.getFeatures() = llvm::SubtargetFeatures();
  }
  if (!options.features.empty())
    builder.getFeatures().addFeaturesVector(
        llvm::SubtargetFeatures(options.features).getFeatures());
  if (options.positionIndependent)
    builder.setRelocationModel(llvm::Reloc::PIC_);
  builder.setCodeGenOptLevel(options.optLevel >= 3
                                 ? llvm::CodeGenOptLevel::Aggressive
                                 : llvm::CodeGenOptLevel::Default);
  return builder;
}

/// The triple, CPU and recordable features of `machine`.
CpuTarget describeTarget(const llvm::TargetMachine &machine) {
  CpuTarget target;
  target.triple = machine.getTargetTriple().str();
  target.cpu = machine.getTargetCPU().str();
  const llvm::MCSubtargetInfo *subtarget = machine.getMCSubtargetInfo();
  for (const char *feature : cpuFeaturesToRecord())
    if (subtarget->checkFeatures((llvm::Twine("+") + feature).str()))
      target.features.push_back(feature);
  return target;
}

} // namespace

llvm::ArrayRef<const char *> cpuFeaturesToRecord() {
  // Keep in step with hostSupportsCpuFeature (runtime/lib): a name it does
  // not know reads as absent and would keep the artifact from ever loading.
  static const char *const features[] = {
      "sse4.2",   "avx",      "avx2",      "fma",        "f16c",
      "bmi",      "bmi2",     "avx512f",   "avx512bw",   "avx512cd",
      "avx512dq", "avx512vl", "avx512vnni", "avx512bf16",
  };
  return features;
}

CpuExecutable::CpuExecutable(std::unique_ptr<ExecutionEngine> engine,
                             bool keepsObject, CpuTarget target)
    : engine(std::move(engine)), keepsObject(keepsObject),
      compiledFor(std::move(target)) {}

CpuExecutable::CpuExecutable(std::unique_ptr<llvm::orc::LLJIT> jit)
    : loaded(std::move(jit)), keepsObject(false) {}

CpuExecutable::~CpuExecutable() = default;

PackedEntry CpuExecutable::lookup(llvm::StringRef name,
                                  std::string *error) const {
  // The packed wrapper MLIR's ExecutionEngine generates for each entry.
  std::string packed = (llvm::Twine("_mlir_ciface_") + kEntryPrefix + name).str();
  llvm::Expected<PackedEntry> entry = PackedEntry(nullptr);
  if (loaded) {
    auto address = loaded->lookup("_mlir_" + packed);
    if (address)
      entry = address->toPtr<PackedEntry>();
    else
      entry = address.takeError();
  } else {
    entry = engine->lookupPacked(packed);
  }
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

std::unique_ptr<CpuExecutable> loadCpuObjects(llvm::ArrayRef<llvm::StringRef> objects,
                                              llvm::ArrayRef<std::string> entries,
                                              std::string *error) {
  initializeNativeTarget();
  auto host = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!host) {
    *error = "cannot detect the host CPU: " + llvm::toString(host.takeError());
    return nullptr;
  }
  // Linked the way MLIR's ExecutionEngine links the code it compiles
  // (RuntimeDyld with section memory), so the same objects load.
  auto jit =
      llvm::orc::LLJITBuilder()
          .setJITTargetMachineBuilder(std::move(*host))
          .setObjectLinkingLayerCreator([](llvm::orc::ExecutionSession &session)
                                            -> llvm::Expected<std::unique_ptr<
                                                llvm::orc::ObjectLayer>> {
            return std::make_unique<llvm::orc::RTDyldObjectLinkingLayer>(
                session, [](const llvm::MemoryBuffer &) {
                  return std::make_unique<llvm::SectionMemoryManager>();
                });
          })
          .create();
  if (!jit) {
    *error = "cannot create a JIT: " + llvm::toString(jit.takeError());
    return nullptr;
  }
  llvm::orc::JITDylib &library = (*jit)->getMainJITDylib();
  llvm::orc::MangleAndInterner interner((*jit)->getExecutionSession(),
                                        (*jit)->getDataLayout());
  llvm::orc::SymbolMap symbols = runtimeSymbolMap(interner);
  // libm and libc functions the code calls (expf, memcpy, ...) come from
  // this process, as they do for freshly compiled code.
  if (llvm::Error err = library.define(llvm::orc::absoluteSymbols(symbols))) {
    *error = "cannot define the runtime symbols: " + llvm::toString(std::move(err));
    return nullptr;
  }
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process) {
    *error = "cannot search this process's symbols: " +
             llvm::toString(process.takeError());
    return nullptr;
  }
  library.addGenerator(std::move(*process));
  for (llvm::StringRef bytes : objects) {
    auto buffer = llvm::MemoryBuffer::getMemBufferCopy(bytes, "ember-object");
    if (llvm::Error err = (*jit)->addObjectFile(std::move(buffer))) {
      *error = "not a loadable object: " + llvm::toString(std::move(err));
      return nullptr;
    }
  }
  if (llvm::Error err = (*jit)->initialize(library)) {
    *error = "cannot initialize the object: " + llvm::toString(std::move(err));
    return nullptr;
  }
  auto executable = std::make_unique<CpuExecutable>(std::move(*jit));
  for (const std::string &name : entries)
    if (!executable->lookup(name, error))
      return nullptr;
  return executable;
}

const std::string &hostCodeFingerprint() {
  static const std::string fingerprint = [] {
    std::string text = "llvm " LLVM_VERSION_STRING ";";
    text += llvm::sys::getProcessTriple() + ";";
    text += llvm::sys::getHostCPUName().str() + ";";
    std::vector<std::string> features;
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      features.push_back((feature.second ? "+" : "-") + feature.first().str());
    llvm::sort(features);
    for (const std::string &feature : features)
      text += feature + ",";
    // A knob that changes the generated code.
    text += ";streaming-stores " + std::to_string(streamingStoresThresholdMiB());
    return text;
  }();
  return fingerprint;
}

bool CpuCompileTimer::enabled() { return debugEnabled(DebugTopic::CompilePhases); }

void CpuCompileTimer::phase(const char *name) {
  bool print = enabled(), profiling = profiler::enabled();
  if (!print && !profiling)
    return;
  auto now = std::chrono::steady_clock::now();
  double ms = std::chrono::duration<double, std::milli>(now - start).count();
  if (print)
    fprintf(stderr, "[ember] %s: %.1f ms\n", name, ms);
  if (profiling)
    profiler::recordSpan(profiler::Category::Compile, name,
                         profiler::nowNs() - static_cast<uint64_t>(ms * 1e6));
  start = now;
}

std::optional<llvm::orc::JITTargetMachineBuilder>
hostTargetMachineBuilder(const CpuCompileOptions &options, std::string *error) {
  initializeNativeTarget();
  return makeTargetMachineBuilder(options, error);
}

bool lowerForCpu(ModuleOp module, std::string *error, bool shapeFunctions) {
  MLIRContext *context = module.getContext();
  DiagnosticCollector diagnostics(context, {/*remarks=*/true, /*notes=*/true});
  PassManager pm(context);
  // EMBER_DEBUG=3 and EMBER_COMPILE_TIMING=1 also print MLIR's pass times.
  if (debugEnabled(DebugTopic::CompileDetails))
    pm.enableTiming();
  addProfilerInstrumentation(pm);
  buildCpuLoweringPipeline(pm, shapeFunctions);
  if (succeeded(pm.run(module)))
    return true;
  if (error)
    *error = diagnostics.take();
  return false;
}

/// `__ember_abi`: a constant, exported, NUL-terminated copy of `record`
/// that a loader reads from the object without running it.
static void defineAbiRecord(ModuleOp module, llvm::StringRef record) {
  OpBuilder b(module.getBodyRegion());
  std::string text = record.str();
  text.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(IntegerType::get(module.getContext(), 8),
                                       text.size());
  LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/true,
                         LLVM::Linkage::External, "__ember_abi",
                         b.getStringAttr(text));
}

std::unique_ptr<CpuExecutable> compileForCpu(ModuleOp module,
                                             const CpuCompileOptions &options,
                                             std::string *error) {
  initializeNativeTarget();
  MLIRContext *context = module.getContext();
  DiagnosticCollector diagnostics(context, {/*remarks=*/true, /*notes=*/true});

  // Public functions become entry points; remember them to resolve each one
  // below, so a missing symbol fails here rather than at the first call.
  llvm::SmallVector<std::string> entryNames;
  for (auto func : module.getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal()) {
      entryNames.push_back(func.getSymName().str());
      if (options.shapeFunctions)
        entryNames.push_back(func.getSymName().str() + kShapeFunctionSuffix);
    }

  // A bad CPU name fails before the (slower) lowering.
  auto builder = hostTargetMachineBuilder(options, error);
  if (!builder)
    return nullptr;
  CpuCompileTimer timer;
  auto phase = [&](const char *name) { timer.phase(name); };
  if (!lowerForCpu(module, error, options.shapeFunctions))
    return nullptr;

  auto targetMachine = builder->createTargetMachine();
  if (!targetMachine) {
    if (error)
      *error = "cannot create a target machine: " +
               llvm::toString(targetMachine.takeError());
    return nullptr;
  }
  CpuTarget target = describeTarget(**targetMachine);
  if (options.runtimeSlots) {
    // After the lowering, so every runtime call exists as an llvm.call.
    PassManager slots(context);
    slots.addPass(createEmberRuntimeSlots());
    if (failed(slots.run(module))) {
      if (error)
        *error = diagnostics.take();
      return nullptr;
    }
    for (auto global : module.getOps<LLVM::GlobalOp>())
      if (global.getSymName().starts_with(kRuntimeSlotPrefix))
        target.runtimeSlots.push_back(
            global.getSymName().drop_front(strlen(kRuntimeSlotPrefix)).str());
  }
  if (options.abiRecord)
    defineAbiRecord(module, options.abiRecord(target));
  phase("MLIR lowering");
  auto optimize = makeOptimizingTransformer(options.optLevel, /*sizeLevel=*/0,
                                            targetMachine->get());
  auto transformer = [&, optimize](llvm::Module *llvmModule) -> llvm::Error {
    phase("translation to LLVM IR");
    // The ExecutionEngine's packed wrappers (`_mlir_*`) unpack hundreds of
    // arguments in one basic block: glue, like an entry whose loop nests
    // were outlined, and seconds of instruction selection when optimized.
    for (llvm::Function &function : *llvmModule)
      if (!function.isDeclaration() && function.getName().starts_with("_mlir_")) {
        function.addFnAttr(llvm::Attribute::NoInline);
        function.addFnAttr(llvm::Attribute::OptimizeNone);
      }
    llvm::Error result = optimize(llvmModule);
    phase("LLVM IR optimization");

    return result;
  };
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
  (*engine)->registerSymbols(
      [](llvm::orc::MangleAndInterner interner) { return runtimeSymbolMap(interner); });
  (*engine)->initialize();
  phase("LLVM code generation and linking");
  // In-process the slots hold the same addresses the JIT resolves by name,
  // so code compiled for a shared object also runs here.
  for (const std::string &name : target.runtimeSlots) {
    auto slot = (*engine)->lookup(kRuntimeSlotPrefix + name);
    if (!slot) {
      if (error)
        *error = "no runtime slot for '" + name +
                 "': " + llvm::toString(slot.takeError());
      return nullptr;
    }
    *static_cast<void **>(*slot) = runtimeAddress(name);
  }
  auto executable = std::make_unique<CpuExecutable>(
      std::move(*engine), options.keepObject, std::move(target));
  for (const std::string &name : entryNames)
    if (!executable->lookup(name, error))
      return nullptr;
  phase("entry lookup");
  return executable;
}

} // namespace ember
