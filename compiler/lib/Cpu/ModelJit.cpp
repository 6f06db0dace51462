//===- ModelJit.cpp - JIT-compile a model's portable program ---------------===//
//
// Linking this file (//compiler:model_jit, alwayslink) lets ember::Model run
// a .ember file that has no native code for the host: at static-init time it
// registers a ProgramCompiler that parses the program section, checks it
// against the manifest, and compiles it with the CPU JIT. The runtime itself
// stays free of LLVM; only apps that want the fallback pay for it.
//
// The program compiles kernel by kernel (compileForCpuByKernel), as eager
// graphs do: the glue (a model's long straight-line host code) at O1 with
// the fast instruction selector, each fused loop nest at O3 as an object of
// its own, in parallel, and only when no cache knows it (whole-module O3
// code generation was most of resnet18's ~96 s load). A program whose code
// is alive in this process (loaded twice) is not compiled again.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/ModelProgram.h"
#include "ember/Compiler/Passes.h"
#include "ember/Runtime/Model.h"
#include "ember/Runtime/Progress.h"
#include "mlir/IR/MLIRContext.h"

#include <map>
#include <mutex>
#include <unordered_map>

using namespace mlir;

namespace ember {
namespace {

/// A JIT-compiled program with every entry resolved at load time.
class JitExecutable final : public Executable {
public:
  JitExecutable(std::shared_ptr<CpuExecutable> compiled,
                std::map<std::string, PackedEntry> entries)
      : compiled(std::move(compiled)), entries(std::move(entries)) {}

  PackedEntry entry(const std::string &name) const override { return find(name); }
  PackedEntry shapeEntry(const std::string &name) const override {
    return find(name + kShapeFunctionSuffix);
  }
  std::string kind() const override { return "jit"; }

private:
  PackedEntry find(const std::string &name) const {
    auto it = entries.find(name);
    if (it == entries.end())
      throw ModelError("no entry named '" + name + "' in the compiled program");
    return it->second;
  }

  std::shared_ptr<CpuExecutable> compiled;
  std::map<std::string, PackedEntry> entries;
};

/// Compiled programs still in use, by their program section and manifest: a
/// model loaded again while a copy is alive (or the program an
/// ExportedProgram saved, loaded by ember.load_model) shares its code and
/// compiles nothing. Weak: code lives only as long as a model holds it.
struct LiveExecutables {
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<CpuExecutable>> byProgram;

  std::shared_ptr<CpuExecutable> find(const std::string &program) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = byProgram.find(program);
    return it == byProgram.end() ? nullptr : it->second.lock();
  }
  void keep(const std::string &program, const std::shared_ptr<CpuExecutable> &code) {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto it = byProgram.begin(); it != byProgram.end();)
      it = it->second.expired() ? byProgram.erase(it) : std::next(it);
    byProgram[program] = code;
  }
};

LiveExecutables &liveExecutables() {
  static auto *live = new LiveExecutables;
  return *live;
}

/// Looks up every entry (and its shape function) of `manifest` in `code`.
std::map<std::string, PackedEntry> resolveEntries(const ModelFile &file,
                                                  const Manifest &manifest,
                                                  const CpuExecutable &code) {
  std::string error;
  std::map<std::string, PackedEntry> entries;
  for (const EntrySpec &spec : manifest.entries)
    for (const std::string &name : {spec.name, spec.name + kShapeFunctionSuffix}) {
      PackedEntry entry = code.lookup(name, &error);
      if (!entry)
        throw ModelError(file.label() + ": " + error);
      entries[name] = entry;
    }
  return entries;
}

/// Kernels of the models compiled in this process, when no cache is
/// installed (setModelKernelCache): a C++ app loading a model twice, or
/// several models with common blocks, compiles each kernel once.
CpuKernelCache processKernelCache() {
  struct Objects {
    std::mutex mutex;
    std::unordered_map<std::string, std::string> bySymbol;
  };
  static auto *objects = new Objects;
  CpuKernelCache cache;
  cache.find = [](const std::string &symbol) -> std::optional<std::string> {
    std::lock_guard<std::mutex> lock(objects->mutex);
    auto it = objects->bySymbol.find(symbol);
    if (it == objects->bySymbol.end())
      return std::nullopt;
    return it->second;
  };
  cache.store = [](const std::string &symbol, const std::string &object) {
    std::lock_guard<std::mutex> lock(objects->mutex);
    objects->bySymbol.emplace(symbol, object);
  };
  return cache;
}

/// The MLIR side reports errors as strings (it is built without exceptions
/// in mind); they become ModelErrors here, at the runtime's boundary.
std::unique_ptr<Executable> compileProgram(const ModelFile &file,
                                           const Manifest &manifest) {
  // The key: the program and the manifest it was checked against.
  const SectionView *section = file.find("program");
  std::string program =
      section ? file.manifestText() + '\0' +
                    std::string(reinterpret_cast<const char *>(section->data), section->size)
              : std::string();
  if (section)
    if (std::shared_ptr<CpuExecutable> live = liveExecutables().find(program))
      return std::make_unique<JitExecutable>(live, resolveEntries(file, manifest, *live));

  // One context per model: the compiled code does not refer to it, and the
  // MLIR pipeline is sequential, so no thread pool (LLVM's code generation
  // runs on threads of its own).
  DialectRegistry registry;
  registerCompilerDialects(registry);
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  std::string error;
  OwningOpRef<ModuleOp> module =
      loadModelProgram(file, manifest, &context, &error);
  if (!module)
    throw ModelError(file.label() + ": " + error);
  const CpuKernelCache &installed = modelKernelCache();
  CpuKernelCache cache = installed.find ? installed : processKernelCache();
  // New kernels are kept after the compile, all together, so that a long
  // write (the disk cache's fsync per entry) shows its own progress line.
  std::vector<std::pair<std::string, std::string>> fresh;
  CpuKernelCache deferred{cache.find,
                          [&fresh](const std::string &symbol, const std::string &object) {
                            fresh.emplace_back(symbol, object);
                          }};
  CpuKernelObjects parts;
  std::shared_ptr<CpuExecutable> compiled =
      compileForCpuByKernel(*module, deferred, &parts, &error, /*shapeFunctions=*/true);
  if (!compiled)
    throw ModelError(file.label() + ": cannot compile the program: " + error);
  if (cache.store && !fresh.empty()) {
    ProgressLine progress("writing model kernels to the kernel cache", fresh.size(),
                          "kernels");
    for (const auto &[symbol, object] : fresh) {
      cache.store(symbol, object);
      progress.step();
    }
  }
  std::map<std::string, PackedEntry> entries = resolveEntries(file, manifest, *compiled);
  if (section)
    liveExecutables().keep(program, compiled);
  return std::make_unique<JitExecutable>(std::move(compiled), std::move(entries));
}

[[maybe_unused]] const bool registered =
    (registerProgramCompiler(&compileProgram), true);

} // namespace
} // namespace ember
