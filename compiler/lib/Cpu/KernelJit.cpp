//===- KernelJit.cpp - compile a lowered module kernel by kernel -----------===//
//
// After `ember-outline-loops`, a graph is glue (buffer set-up and calls) plus
// one function per fused loop nest. Here each kernel becomes an object file
// of its own, named by a hash of its code: a kernel compiled before (in this
// graph, another graph, or an earlier process through the caller's cache)
// costs no LLVM work, and new kernels compile in parallel. The objects are
// linked into one ORC JIT the way MLIR's ExecutionEngine links its code.
//
//===----------------------------------------------------------------------===//

#include "CpuJitSupport.h"

#include "ember/Compiler/ContentName.h"
#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Passes.h"
#include "ember/Runtime/CpuRuntime.h"
#include "ember/Runtime/Debug.h"
#include "ember/Runtime/Profiler.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Transforms/InstCombine/InstCombine.h"
#include "llvm/Transforms/Scalar/EarlyCSE.h"
#include "llvm/Transforms/Scalar/SROA.h"
#include "llvm/Transforms/Scalar/SimplifyCFG.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

using namespace mlir;

namespace ember {

namespace {

/// The attribute `ember-outline-loops` gives kernels (a string attribute
/// on the LLVM function).
constexpr const char kKernelAttribute[] = "ember-kernel";

/// The attribute naming, on each kernel's function in the lowered module,
/// the symbol the kernel is known by (its object's cache key and the name
/// of its profiler span), so that a caller can read back which of its ops
/// each kernel computes (the frontend's graph pictures, CpuGraph.cpp).
constexpr const char kKernelSymbolAttribute[] = "ember.kernel_symbol";

/// `_mlir_<name>(void **args)`: calls `function` with the values args[i]
/// point to, as MLIR's ExecutionEngine's packed wrappers do (the calling
/// convention `invokePacked` uses).
void addPackedWrapper(llvm::Module &module, llvm::Function &function) {
  llvm::LLVMContext &ctx = module.getContext();
  llvm::Type *ptr = llvm::PointerType::get(ctx, 0);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false);
  auto *wrapper = llvm::Function::Create(type, llvm::Function::ExternalLinkage,
                                         "_mlir_" + function.getName(), module);
  // Argument shuffling only: not worth optimizing (see OutlineLoops.cpp).
  wrapper->addFnAttr(llvm::Attribute::NoInline);
  wrapper->addFnAttr(llvm::Attribute::OptimizeNone);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", wrapper));
  llvm::Value *args = wrapper->getArg(0);
  llvm::SmallVector<llvm::Value *> values;
  for (auto [i, param] : llvm::enumerate(function.args())) {
    llvm::Value *slot = b.CreateConstGEP1_64(ptr, args, i);
    llvm::Value *address = b.CreateLoad(ptr, slot);
    values.push_back(b.CreateLoad(param.getType(), address));
  }
  llvm::Value *result = b.CreateCall(&function, values);
  if (!function.getReturnType()->isVoidTy()) {
    llvm::Value *slot = b.CreateConstGEP1_64(ptr, args, function.arg_size());
    b.CreateStore(result, b.CreateLoad(ptr, slot));
  }
  b.CreateRetVoid();
}

/// The symbol of a kernel: a hash of its code and of the global variables
/// (constants) it reads, so that equal kernels share one object.
std::string kernelSymbol(llvm::Module &module, llvm::Function &kernel) {
  std::string text;
  llvm::raw_string_ostream os(text);
  std::string name = kernel.getName().str();
  kernel.setName("ember_kernel");
  kernel.print(os);
  for (llvm::GlobalVariable &global : module.globals())
    if (text.find("@" + global.getName().str()) != std::string::npos)
      global.print(os);
  kernel.setName(name);
  os.flush();
  return contentName("ember_kernel_", text);
}

/// Optimizes `module` at `optLevel` and returns its machine code as an
/// object file.
bool emitObject(llvm::orc::JITTargetMachineBuilder builder, unsigned optLevel,
                llvm::Module &module, std::string *object, std::string *error) {
  if (optLevel < 2)
    builder.setCodeGenOptLevel(llvm::CodeGenOptLevel::None);
  auto machine = builder.createTargetMachine();
  if (!machine) {
    *error = "cannot create a target machine: " + llvm::toString(machine.takeError());
    return false;
  }
  // At O0 the fast instruction selector, as llc and clang pick it (a bare
  // TargetMachine would run the slow one: 0.8 s instead of 0.2 s here).
  if (optLevel < 2)
    (*machine)->setO0WantsFastISel(true);
  module.setDataLayout((*machine)->createDataLayout());
  module.setTargetTriple((*machine)->getTargetTriple());
  if (optLevel >= 2) {
    auto optimize = makeOptimizingTransformer(optLevel, /*sizeLevel=*/0, machine->get());
    if (llvm::Error err = optimize(&module)) {
      *error = "LLVM optimization failed: " + llvm::toString(std::move(err));
      return false;
    }
  } else {
    // The glue: one long block of descriptor shuffling (insertvalue /
    // extractvalue chains, allocas holding call arguments) around calls.
    // These four passes fold most of it. LLVM's whole O1 pipeline spent
    // most of its time in interprocedural passes (CalledValuePropagation,
    // IPSCCP) on a function that only calls out, and took ~3x as long for
    // an object ~20% smaller (mobilenet_v3_small's glue, 58K instructions:
    // 1.2 s of CPU against 0.4 s, FastISel included), for code that runs
    // once per call.
    llvm::LoopAnalysisManager loops;
    llvm::FunctionAnalysisManager functions;
    llvm::CGSCCAnalysisManager sccs;
    llvm::ModuleAnalysisManager modules;
    llvm::PassBuilder passes(machine->get());
    passes.registerModuleAnalyses(modules);
    passes.registerCGSCCAnalyses(sccs);
    passes.registerFunctionAnalyses(functions);
    passes.registerLoopAnalyses(loops);
    passes.crossRegisterProxies(loops, functions, sccs, modules);
    llvm::FunctionPassManager cleanup;
    cleanup.addPass(llvm::SROAPass(llvm::SROAOptions::PreserveCFG));
    cleanup.addPass(llvm::EarlyCSEPass());
    cleanup.addPass(llvm::InstCombinePass());
    cleanup.addPass(llvm::SimplifyCFGPass());
    llvm::ModulePassManager pipeline;
    pipeline.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(cleanup)));
    pipeline.run(module, modules);
  }
  llvm::SmallVector<char, 0> bytes;
  llvm::raw_svector_ostream out(bytes);
  llvm::legacy::PassManager passes;
  if ((*machine)->addPassesToEmitFile(passes, out, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    *error = "the target cannot emit object files";
    return false;
  }
  passes.run(module);
  object->assign(bytes.begin(), bytes.end());
  return true;
}

CpuKernelCache &modelKernelCacheSlot() {
  static CpuKernelCache cache;
  return cache;
}

} // namespace

void setModelKernelCache(CpuKernelCache cache) { modelKernelCacheSlot() = std::move(cache); }

const CpuKernelCache &modelKernelCache() { return modelKernelCacheSlot(); }

std::unique_ptr<CpuExecutable> compileForCpuByKernel(ModuleOp module,
                                                     const CpuKernelCache &cache,
                                                     CpuKernelObjects *objects,
                                                     std::string *error,
                                                     bool shapeFunctions) {
  CpuCompileTimer timer;
  llvm::SmallVector<std::string> entryNames;
  for (auto func : module.getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal())
      entryNames.push_back(func.getSymName().str());
  std::optional<llvm::orc::JITTargetMachineBuilder> builder =
      hostTargetMachineBuilder(CpuCompileOptions{}, error);
  if (!builder || !lowerForCpu(module, error, shapeFunctions))
    return nullptr;
  timer.phase("MLIR lowering");

  auto context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(module, *context);
  if (!llvmModule) {
    *error = "cannot translate the lowered module to LLVM IR";
    return nullptr;
  }
  for (llvm::Function &function : llvm::make_early_inc_range(*llvmModule))
    if (!function.isDeclaration() && function.getName().starts_with("_mlir_ciface_"))
      addPackedWrapper(*llvmModule, function);

  // Kernels get their content's name and external linkage (the glue calls
  // them across objects).
  std::vector<std::string> symbols;
  llvm::StringSet<> kernelNames;
  for (llvm::Function &function : *llvmModule) {
    if (function.isDeclaration() || !function.hasFnAttribute(kKernelAttribute))
      continue;
    std::string symbol = kernelSymbol(*llvmModule, function);
    // The lowered module keeps the name each kernel is known by (symbol,
    // profiler span), so callers can tell which of their ops went where.
    if (Operation *lowered = SymbolTable::lookupSymbolIn(module, function.getName()))
      lowered->setAttr(kKernelSymbolAttribute, StringAttr::get(module.getContext(), symbol));
    function.setName(symbol);
    function.setLinkage(llvm::GlobalValue::ExternalLinkage);
    function.setVisibility(llvm::GlobalValue::DefaultVisibility);
    symbols.push_back(function.getName().str()); // unique even if hashes met
    kernelNames.insert(symbols.back());
  }
  timer.phase("translation to LLVM IR");

  // What must compile: the glue, and each kernel no cache knows.
  struct Job {
    std::string symbol; // empty: the glue
    llvm::orc::ThreadSafeModule module;
    std::string object;
  };
  std::vector<Job> jobs;
  objects->kernels.clear();
  // The glue (the functions left after outlining) is optimized lightly
  // below rather than not at all.
  for (llvm::Function &function : *llvmModule)
    if (!function.isDeclaration() && !kernelNames.contains(function.getName()) &&
        !function.getName().starts_with("_mlir_"))
      function.removeFnAttr(llvm::Attribute::OptimizeNone);
  llvm::orc::ThreadSafeModule whole(std::move(llvmModule), std::move(context));
  // The glue first: it is the largest part.
  jobs.push_back({"",
                  llvm::orc::cloneToNewContext(whole,
                                               [&](const llvm::GlobalValue &value) {
                                                 return !kernelNames.contains(value.getName());
                                               }),
                  {}});
  for (const std::string &symbol : symbols) {
    std::optional<std::string> known = cache.find ? cache.find(symbol) : std::nullopt;
    objects->kernels.push_back({symbol, known ? *known : std::string()});
    if (known) {
      if (debugEnabled(DebugTopic::KernelReuse))
        fprintf(stderr, "[ember]   %s: compiled before\n", symbol.c_str());
      continue;
    }
    jobs.push_back({symbol,
                    llvm::orc::cloneToNewContext(whole,
                                                 [&](const llvm::GlobalValue &value) {
                                                   return value.getName() == symbol ||
                                                          llvm::isa<llvm::GlobalVariable>(value);
                                                 }),
                    {}});
  }
  // While a profiler records kernels, the glue times each kernel it runs.
  if (profiler::kernelsEnabled())
    jobs.front().module.withModuleDo(
        [&](llvm::Module &glue) { instrumentKernelCalls(glue, kernelNames); });
  // Private globals are copied into every kernel that reads them.
  for (Job &job : jobs)
    job.module.withModuleDo([&](llvm::Module &m) {
      for (llvm::GlobalVariable &global : m.globals())
        if (!global.isDeclaration() && !job.symbol.empty())
          global.setLinkage(llvm::GlobalValue::InternalLinkage);
    });

  // Compile on every hardware thread (two here), the glue first.
  CompileProgress progress(jobs.size(), objects->kernels.size() + 1 - jobs.size());
  std::atomic<size_t> next{0};
  std::vector<std::string> errors(jobs.size());
  auto work = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++)
      jobs[i].module.withModuleDo([&](llvm::Module &m) {
        auto start = std::chrono::steady_clock::now();
        // Kernels get LLVM's best; the glue (set-up and calls, run once per
        // graph) is cleaned up by a few passes and generated fast (FastISel:
        // a transformer step's glue took 0.4 s at O1 against 0.7-1.3 s at O3
        // with optnone, which still runs the slow instruction selector).
        emitObject(*builder, jobs[i].symbol.empty() ? 1 : 3, m, &jobs[i].object,
                   &errors[i]);
        progress.done();
        if (debugEnabled(DebugTopic::CompileDetails))
          fprintf(stderr, "[ember]   %s: %.1f ms\n",
                  jobs[i].symbol.empty() ? "glue" : jobs[i].symbol.c_str(),
                  std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count());
      });
  };
  unsigned threads = std::min<unsigned>(llvm::hardware_concurrency().compute_thread_count(),
                                        static_cast<unsigned>(jobs.size()));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &thread : pool)
    thread.join();
  progress.finish();
  for (const std::string &message : errors)
    if (!message.empty()) {
      *error = message;
      return nullptr;
    }
  timer.phase("LLVM optimization and code generation");

  for (Job &job : jobs) {
    if (job.symbol.empty()) {
      objects->entryObject = std::move(job.object);
      continue;
    }
    for (auto &[symbol, object] : objects->kernels)
      if (symbol == job.symbol)
        object = job.object;
    if (cache.store)
      cache.store(job.symbol, job.object);
  }
  std::vector<llvm::StringRef> parts{objects->entryObject};
  for (auto &[symbol, object] : objects->kernels)
    parts.push_back(object);
  auto executable = loadCpuObjects(parts, entryNames, error);
  timer.phase("linking");
  return executable;
}

} // namespace ember
