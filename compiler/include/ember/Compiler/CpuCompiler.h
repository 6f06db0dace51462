//===- CpuCompiler.h - compile ember modules for the host CPU ---*- C++ -*-===//
//
// The CPU back end: lowers a module of ember functions to the LLVM dialect,
// JIT-compiles it for the host (vectorized for its CPU features), and can write
// the same code as an object file for ahead-of-time use.
//
// Calling convention (destination passing): each public function is called
// with its input buffers followed by one caller-allocated buffer per result.
// Buffers are dense row-major; input and output buffers must not overlap.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_CPUCOMPILER_H
#define EMBER_COMPILER_CPUCOMPILER_H

#include "ember/Compiler/Diagnostics.h"
#include "ember/Runtime/PackedCall.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm::orc {
class LLJIT;
} // namespace llvm::orc

namespace mlir {
class ExecutionEngine;
} // namespace mlir

namespace ember {

/// Registers every dialect and interface the compiler needs (ember, the
/// upstream dialects it lowers through, bufferization models, LLVM IR
/// translation).
void registerCompilerDialects(mlir::DialectRegistry &registry);

/// Adds the passes that take ember functions to the LLVM dialect for the CPU:
/// decompose, ember->linalg, fusion, buffer ABI, bufferization, BLAS calls,
/// loops, math approximation, LLVM conversion.
void buildCpuLoweringPipeline(mlir::OpPassManager &pm,
                              bool shapeFunctions = false);

/// The output size (MiB) from which element-wise kernels write with
/// non-temporal stores (ember-streaming-stores): `EMBER_STREAMING_STORES_MIB`,
/// default 32 (this machine's last-level cache); 0 turns them off.
unsigned streamingStoresThresholdMiB();

/// The part every target shares: decompose, ember->linalg, fusion, the
/// destination-passing buffer ABI and bufferization. `softmaxRows` (the
/// CPU's forms) lowers last-dim softmax row by row first (single pass) and
/// splits whole-tensor reductions into parallel partials;
/// `shapeFunctions` adds `ember-shape-functions` (model loaders call the
/// `<entry>.shapes` functions to check output shapes).
void buildTensorToBufferPipeline(mlir::OpPassManager &pm, bool softmaxRows,
                                 bool shapeFunctions = false);

/// Calls a packed entry with `buffers` (inputs then outputs); the compiler's
/// callers hold their views in LLVM containers.
inline void invokePacked(PackedEntry entry,
                         llvm::ArrayRef<BufferView> buffers) {
  invokePacked(entry, buffers.data(), buffers.size());
}

struct CpuTarget;

struct CpuCompileOptions {
  /// LLVM optimization level (0-3).
  unsigned optLevel = 3;
  /// Keep the machine code so that `writeObjectFile` works.
  bool keepObject = false;
  /// Position-independent code (Reloc::PIC_): needed to link the object
  /// into a shared object.
  bool positionIndependent = false;
  /// The CPU to generate code for: "host" (this machine, with every feature
  /// it has) or an LLVM CPU name ("x86-64-v3", "skylake-avx512", ...). Code
  /// for another CPU is compiled but must not be called here.
  std::string cpu = "host";
  /// LLVM features added to the CPU's ("+avx2,-avx512f").
  std::string features;
  /// Call the runtime through `__ember_rt_<name>` pointer slots
  /// (`ember-runtime-slots`) instead of by symbol, so a shared object built
  /// from the code has no undefined Ember symbols. The JIT fills the slots.
  bool runtimeSlots = false;
  /// Compile `<entry>.shapes` next to each entry (ember-shape-functions):
  /// what model loaders call to check output shapes before a run.
  bool shapeFunctions = false;
  /// When set: called once the target and its runtime slots are known; the
  /// text it returns is embedded as the NUL-terminated data symbol
  /// `__ember_abi` (an AOT artifact's ABI record, see ArtifactAbi.h).
  std::function<std::string(const CpuTarget &)> abiRecord;
};

/// What compiled code targets, as a model's artifact records it.
struct CpuTarget {
  std::string triple;
  /// The resolved CPU name ("znver4" rather than "host").
  std::string cpu;
  /// The x86 features (LLVM's names) the code may use, among those the
  /// runtime can check on a host (cpuFeaturesToRecord()).
  std::vector<std::string> features;
  /// Runtime functions the code calls through slots (with runtimeSlots).
  std::vector<std::string> runtimeSlots;
};

/// The x86 features an artifact records when the target machine has them:
/// those `ember::hostSupportsCpuFeature` knows.
llvm::ArrayRef<const char *> cpuFeaturesToRecord();

/// JIT-compiled code for one module.
class CpuExecutable {
public:
  CpuExecutable(std::unique_ptr<mlir::ExecutionEngine> engine,
                bool keepsObject, CpuTarget target = {});
  /// Code loaded from object files (see loadCpuObjects).
  explicit CpuExecutable(std::unique_ptr<llvm::orc::LLJIT> jit);
  ~CpuExecutable();

  /// The entry for public function `name`, or null with `error` set.
  PackedEntry lookup(llvm::StringRef name, std::string *error) const;

  /// Calls `name` with inputs then outputs; false with `error` set when the
  /// function does not exist.
  bool invoke(llvm::StringRef name, llvm::ArrayRef<BufferView> buffers,
              std::string *error) const;

  /// Writes the compiled code as an ELF object; false with `error` set when
  /// compiled without `keepObject` or when the file cannot be written.
  bool writeObjectFile(llvm::StringRef path, std::string *error) const;

  /// The triple, CPU and features the code was compiled for.
  const CpuTarget &target() const { return compiledFor; }

private:
  std::unique_ptr<mlir::ExecutionEngine> engine;
  std::unique_ptr<llvm::orc::LLJIT> loaded;
  bool keepsObject;
  CpuTarget compiledFor;
};

/// Lowers `module` in place and JIT-compiles it. On failure returns null and
/// sets `error` to the diagnostics, each with its source location.
std::unique_ptr<CpuExecutable> compileForCpu(mlir::ModuleOp module,
                                             const CpuCompileOptions &options,
                                             std::string *error);

/// Links object files (each made by this build for this CPU, without
/// runtime slots: `compileForCpuByKernel`'s parts, or what
/// `CpuExecutable::writeObjectFile` wrote) into one fresh JIT, resolving
/// their runtime calls, and checks that every entry in `entries` exists.
/// Null with `error` set when a part is not a loadable object. Used by the
/// compile cache: loading costs milliseconds, compiling tens to hundreds.
std::unique_ptr<CpuExecutable> loadCpuObjects(llvm::ArrayRef<llvm::StringRef> objects,
                                              llvm::ArrayRef<std::string> entries,
                                              std::string *error);

/// A module's machine code as separately compiled parts: one object per
/// kernel (a loop nest `ember-outline-loops` moved out, named by a hash of
/// its code: `ember_kernel_<hex>`) and one for the glue that calls them.
struct CpuKernelObjects {
  std::string entryObject;
  /// (kernel symbol, object), in link order.
  std::vector<std::pair<std::string, std::string>> kernels;
};

/// Where compiled kernels are kept between compiles: `find` returns the
/// object of a kernel symbol when known, `store` keeps a new one. Either may
/// be empty.
struct CpuKernelCache {
  std::function<std::optional<std::string>(const std::string &symbol)> find;
  std::function<void(const std::string &symbol, const std::string &object)> store;
};

/// The kernel cache the model JIT (ember::Model without native code)
/// compiles through. Empty by default (then the model JIT keeps kernels in
/// memory for the process); the eager frontend installs its own in-memory
/// and on-disk cache, so that a model and eager graphs share kernels and a
/// model whose kernels were seen costs no LLVM work.
void setModelKernelCache(CpuKernelCache cache);
const CpuKernelCache &modelKernelCache();

/// Lowers `module` for the host like compileForCpu, then compiles the glue
/// and every kernel `cache` does not know as objects of their own, new
/// kernels in parallel on every hardware thread, and links them. `objects`
/// receives every part (for a cache on disk). `shapeFunctions` as in
/// CpuCompileOptions. Null with `error` set on failure.
std::unique_ptr<CpuExecutable> compileForCpuByKernel(mlir::ModuleOp module,
                                                     const CpuKernelCache &cache,
                                                     CpuKernelObjects *objects,
                                                     std::string *error,
                                                     bool shapeFunctions = false);

/// What the code compileForCpu makes for "host" depends on besides the
/// module: the LLVM version and the host CPU with its features. Cached code
/// is reused only under the same fingerprint.
const std::string &hostCodeFingerprint();

} // namespace ember

#endif // EMBER_COMPILER_CPUCOMPILER_H
