//===- CpuGraph.cpp - compile and load lazy graphs for the CPU --*- C++ -*-===//
//
// A graph's CPU code: the emitted function compiled kernel by kernel by the
// CPU JIT, each kernel's object kept by symbol for every graph of the
// process (and in the disk cache), so that a graph compiled before loads
// from its parts.
//
//===----------------------------------------------------------------------===//

#include "GraphEmitter.h"

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Frontend/Error.h"
#include "ember/Runtime/CustomOpRegistry.h"
#include "ember/Runtime/ProcessGroups.h"
#include "ember/Runtime/Progress.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

#include <mutex>
#include <unordered_map>
#include <unordered_set>

using namespace mlir;

namespace ember {
namespace {

class CpuGraph : public CompiledGraph {
public:
  CpuGraph(std::unique_ptr<CpuExecutable> executable, PackedEntry entry)
      : executable(std::move(executable)), packed(entry) {}

  void run(llvm::ArrayRef<GraphBuffer> buffers) const override {
    SmallVector<BufferView, 8> views;
    for (const GraphBuffer &buffer : buffers)
      views.push_back({buffer.data, buffer.shape, buffer.rank});
    invokePacked(packed, views.data(), views.size());
    // A custom op's kernel or shape function cannot unwind through
    // compiled code: it records its error, raised here.
    std::string error = takeCustomCallError();
    if (!error.empty())
      runtimeError(error);
    // A collective in the program failed (compiled code cannot throw):
    // raise its message here.
    if (dist::collectiveErrorPending())
      runtimeError(dist::takeCollectiveError());
  }

private:
  std::unique_ptr<CpuExecutable> executable;
  PackedEntry packed;
};

/// Kernel objects by symbol, for every graph of the process. Bounded: past
/// the limit it starts over (the disk cache still has them).
/// Shared by all threads' compiles and loads: each method takes `mutex`.
struct KernelObjects {
  std::mutex mutex;
  std::unordered_map<std::string, std::string> bySymbol;
  size_t bytes = 0;
  uint64_t compiled = 0, reused = 0;

  std::optional<std::string> find(const std::string &symbol, const KernelDisk *disk) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = bySymbol.find(symbol);
      if (it != bySymbol.end()) {
        ++reused;
        return it->second;
      }
    }
    if (disk && disk->find)
      if (std::optional<std::string> object = disk->find(symbol)) {
        std::lock_guard<std::mutex> lock(mutex);
        ++reused;
        keep(symbol, *object);
        return object;
      }
    return std::nullopt;
  }
  void store(const std::string &symbol, const std::string &object) {
    std::lock_guard<std::mutex> lock(mutex);
    ++compiled;
    keep(symbol, object);
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex);
    bySymbol.clear();
    bytes = 0;
  }
  void counts(uint64_t *compiledCount, uint64_t *reusedCount) {
    std::lock_guard<std::mutex> lock(mutex);
    *compiledCount = compiled;
    *reusedCount = reused;
  }

private:
  /// Callers hold `mutex`.
  void keep(const std::string &symbol, const std::string &object) {
    constexpr size_t kLimit = size_t(256) << 20;
    if (bytes + object.size() > kLimit) {
      bySymbol.clear();
      bytes = 0;
    }
    if (bySymbol.emplace(symbol, object).second)
      bytes += object.size();
  }
};

KernelObjects &kernelObjects() {
  static auto *objects = new KernelObjects;
  return *objects;
}

} // namespace

void clearKernelObjects() { kernelObjects().clear(); }

CpuKernelCache sharedKernelCache(const KernelDisk *disk) {
  CpuKernelCache cache;
  cache.find = [disk](const std::string &symbol) {
    return kernelObjects().find(symbol, disk);
  };
  cache.store = [disk](const std::string &symbol, const std::string &object) {
    kernelObjects().store(symbol, object);
    if (disk && disk->store)
      disk->store(symbol, object);
  };
  return cache;
}

void kernelCounts(uint64_t *compiled, uint64_t *reused) {
  kernelObjects().counts(compiled, reused);
}

namespace {

/// What compileForCpuByKernel names each kernel's function with in the
/// lowered module (kKernelSymbolAttribute in compiler/lib/Cpu/KernelJit.cpp).
constexpr const char kKernelSymbolAttribute[] = "ember.kernel_symbol";

/// Which nodes each kernel of the lowered `module` computes: the kernels
/// are the functions compileForCpuByKernel named, called from the glue
/// through a symbol reference (a kernel equal to another is kept once and
/// called from both places).
KernelNodes cpuKernelNodesOf(ModuleOp module) {
  llvm::StringMap<llvm::StringRef> symbolOfFunction;
  for (Operation &op : module.getBody()->getOperations())
    if (auto symbol = op.getAttrOfType<StringAttr>(kKernelSymbolAttribute))
      symbolOfFunction[SymbolTable::getSymbolName(&op).getValue()] = symbol.getValue();
  return kernelNodesOf(
      module,
      [&](Operation *op) -> std::optional<llvm::StringRef> {
        auto symbol = op->getAttrOfType<StringAttr>(kKernelSymbolAttribute);
        if (!symbol || op->getParentOp() != module.getOperation())
          return std::nullopt;
        return symbol.getValue();
      },
      [&](Operation *op) -> std::optional<llvm::StringRef> {
        for (NamedAttribute attribute : op->getAttrs())
          if (auto ref = dyn_cast<FlatSymbolRefAttr>(attribute.getValue())) {
            auto it = symbolOfFunction.find(ref.getValue());
            if (it != symbolOfFunction.end())
              return it->second;
          }
        return std::nullopt;
      });
}

} // namespace

std::unique_ptr<CompiledGraph> compileGraph(const GraphPlan &plan, std::string *error,
                                            const KernelDisk *disk,
                                            GraphObjects *objects) {
  std::lock_guard<std::mutex> lock(contextMutex());
  MLIRContext &ctx = compilerContext();
  DiagnosticCollector collector(&ctx);
  const std::string &diagnostics = collector.text();
  bool tagNodes = objects && objects->recordKernelNodes;
  OwningOpRef<ModuleOp> module = emitGraphForCompile(&ctx, plan, collector, error,
                                                   /*reshapeGroups=*/true, tagNodes);
  if (!module)
    return nullptr;

  // New kernels go to the disk after the compile, all together, so that a
  // long write (an fsync per entry) shows its own progress line.
  CpuKernelCache cache = sharedKernelCache(disk);
  std::unordered_set<std::string> toDisk;
  if (disk && disk->store)
    cache.store = [&toDisk](const std::string &symbol, const std::string &object) {
      kernelObjects().store(symbol, object);
      toDisk.insert(symbol);
    };
  CpuKernelObjects parts;
  std::unique_ptr<CpuExecutable> executable =
      compileForCpuByKernel(*module, cache, &parts, error);
  if (!executable) {
    if (error->empty() || !diagnostics.empty())
      *error += diagnostics;
    return nullptr;
  }
  if (!toDisk.empty()) {
    ProgressLine progress("writing kernels to the disk cache", toDisk.size(), "kernels");
    for (auto &[symbol, object] : parts.kernels)
      if (toDisk.erase(symbol)) {
        disk->store(symbol, object);
        progress.step();
      }
  }
  PackedEntry entry = executable->lookup(kGraphName, error);
  if (!entry)
    return nullptr;
  if (tagNodes)
    objects->kernelNodes = cpuKernelNodesOf(*module);
  if (objects) {
    objects->entry = std::move(parts.entryObject);
    objects->kernels.clear();
    for (auto &[symbol, object] : parts.kernels)
      objects->kernels.push_back(symbol);
  }
  return std::make_unique<CpuGraph>(std::move(executable), entry);
}

std::unique_ptr<CompiledGraph> loadCompiledGraph(const GraphObjects &objects,
                                                 const KernelDisk *disk,
                                                 std::string *error) {
  std::vector<std::string> kernels;
  ProgressLine progress("loading a graph from the disk cache", objects.kernels.size(),
                        "kernels");
  for (const std::string &symbol : objects.kernels) {
    std::optional<std::string> object = kernelObjects().find(symbol, disk);
    if (!object) {
      *error = "kernel " + symbol + " is not in the cache";
      return nullptr;
    }
    kernels.push_back(std::move(*object));
    progress.step();
  }
  progress.finish();
  std::vector<llvm::StringRef> parts{objects.entry};
  for (const std::string &object : kernels)
    parts.push_back(object);
  std::unique_ptr<CpuExecutable> executable =
      loadCpuObjects(parts, {std::string(kGraphName)}, error);
  if (!executable)
    return nullptr;
  PackedEntry entry = executable->lookup(kGraphName, error);
  if (!entry)
    return nullptr;
  return std::make_unique<CpuGraph>(std::move(executable), entry);
}

const std::string &cpuCodeFingerprint() { return hostCodeFingerprint(); }

} // namespace ember
