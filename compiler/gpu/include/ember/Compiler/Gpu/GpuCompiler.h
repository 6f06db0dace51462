//===- GpuCompiler.h - ember programs to GPU kernels ------------*- C++ -*-===//
//
// The GPU back end. An ember module goes through the CPU compiler's tensor
// passes and bufferization, each linalg op becomes a kernel
// (`ember-gpu-kernelize`), kernels are outlined into gpu.modules, and each
// is compiled for one target:
//
//   cuda:sm_XX   NVVM -> PTX, plus a cubin when ptxas is found
//   rocm:gfxNNN  ROCDL -> LLVM IR -> llc -> ld.lld -shared -> HSACO
//   level-zero   SPIR-V, OpenCL flavour (Kernel, Addresses, Int64)
//   vulkan       SPIR-V, Vulkan flavour (Shader; buffers at set 0, binding
//                i; scalars in a push-constant block)
//
// Each kernel comes with its launch metadata (GpuKernelInfo), in the terms
// of the runtime's launch description (runtime/gpu/include/ember/Runtime/
// Gpu/Device.h: KernelLayout, KernelParam, ArgKind, LaunchParams): argument
// kinds in order, Vulkan bindings and push-constant offsets, block size,
// static shared memory, and the grid as a rule over the scalar arguments.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_GPU_GPUCOMPILER_H
#define EMBER_COMPILER_GPU_GPUCOMPILER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringRef.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

/// The code generation targets.
enum class TargetKind { Cuda, Rocm, LevelZero, Vulkan };

/// A target and its chip.
struct GpuTarget {
  TargetKind kind = TargetKind::Cuda;
  /// "sm_90" (cuda) or "gfx942" (rocm); empty for SPIR-V.
  std::string chip;

  /// Parses "cuda:sm_XX", "rocm:gfxNNN", "level-zero" or "vulkan"; false
  /// with `error` set otherwise.
  static bool parse(llvm::StringRef text, GpuTarget &target, std::string &error);
  /// The spelling parse reads.
  std::string str() const;
  /// The runtime backend name (Device.h backendName): "cuda", "rocm",
  /// "level_zero" or "vulkan".
  const char *backendName() const;
  /// The runtime module format (Device.h moduleFormatName) of `binary`:
  /// "ptx", "hsaco" or "spirv".
  const char *binaryFormat() const;
  /// Bit width of `index` inside kernels (32 on Vulkan, else 64).
  unsigned indexBitwidth() const { return kind == TargetKind::Vulkan ? 32 : 64; }
};

/// One kernel parameter, as the runtime's KernelParam describes it.
struct GpuKernelParam {
  /// The runtime's ArgKind spelling: "buffer", "i32", "i64", "f32", "f64".
  std::string kind;
  /// Buffers: the element type ("f32", "f16", "i64", ...).
  std::string elementType;
  /// Vulkan: the buffer's descriptor set and binding, or the scalar's byte
  /// offset in the push constants.
  uint32_t set = 0, binding = 0, offset = 0;
};

/// How the launch computes one grid extent: `constant` when `arg` < 0,
/// else min(ceildiv(scalar argument `arg`, `divisor`), `max`).
struct GridRule {
  int64_t arg = -1;
  int64_t divisor = 1;
  int64_t max = INT64_MAX;
  int64_t constant = 1;
};

/// A kernel and what launching it takes.
struct GpuKernelInfo {
  /// The entry point (gpu.func name) and its gpu.module.
  std::string name;
  std::string module;
  /// "pointwise", "rowreduce" or "matmul".
  std::string kind;
  std::array<int64_t, 3> block = {1, 1, 1};
  std::array<GridRule, 3> grid;
  /// Bytes of static workgroup memory (no dynamic shared memory is used).
  int64_t sharedMemoryBytes = 0;
  std::vector<GpuKernelParam> params;
  /// Vulkan: bytes of push constants.
  uint32_t pushConstantBytes = 0;
  /// PTX text, HSACO ELF bytes, or SPIR-V words (little-endian).
  std::string binary;
  /// cuda: the cubin for the chip when ptxas was found.
  std::string cubin;
};

/// A compiled program: its kernels and the host side.
struct GpuProgram {
  GpuTarget target;
  std::vector<GpuKernelInfo> kernels;
  /// The host functions after outlining (allocations, views, size
  /// arithmetic and `gpu.launch_func`s in order), as MLIR text.
  std::string host;
};

/// Registers the dialects, interfaces and translations compileForGpu needs.
void registerGpuCompilerDialects(mlir::DialectRegistry &registry);

/// Registers the GPU passes and the `ember-gpu-kernels` and
/// `ember-gpu-lower-to-<target>` pipelines (ember-gpu-opt).
void registerGpuPasses();

/// ember functions -> bufferized linalg -> gpu.launch kernels -> outlined
/// gpu.modules (host functions keep the launches).
void buildGpuKernelPipeline(mlir::OpPassManager &pm);

/// Outlined kernels (host dropped) -> the target's dialect: LLVM dialect
/// with a target attribute (cuda, rocm) or spirv.modules.
void buildGpuTargetPipeline(mlir::OpPassManager &pm, const GpuTarget &target);

/// Both pipelines, for `ember-gpu-opt`; the host is dropped between them.
void buildGpuLoweringPipeline(mlir::OpPassManager &pm, const GpuTarget &target);

/// Compiles the public functions of `module` (changed in place) for
/// `target`; false with `error` set (diagnostics, or a tool's output).
bool compileForGpu(mlir::ModuleOp module, const GpuTarget &target,
                   GpuProgram &program, std::string &error);

/// The launch metadata of `program` as JSON (no binaries).
std::string gpuProgramMetadataJson(const GpuProgram &program);

} // namespace gpu
} // namespace ember

#endif // EMBER_COMPILER_GPU_GPUCOMPILER_H
