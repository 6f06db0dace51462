//===- GpuCompiler.h - compile ember programs into GPU kernels ---*- C++ -*-===//
//
// The GPU back end: an ember module goes through the same tensor-level
// passes as for the CPU, is bufferized (destination passing), and its linalg
// ops become GPU kernels (docs/devices.md, "Kernel shapes"):
// ember-gpu-kernelize builds matmuls as 16x16 threads per 64x64 output tile
// staging tiles of A and B in workgroup memory, and reductions over
// trailing dims as 256-thread blocks per part of a row that combine in a
// tree in workgroup memory, then one thread per row combining the parts.
// Every other op becomes parallel loops tiled into blocks of threads (1-D:
// 256 threads; 2-D: 16x16), one thread per output element (a column
// reduction loops over the reduced dims in its thread), mapped onto blocks
// and threads, and outlined into gpu.modules. Grids are clamped to 65535
// blocks per dim, blocks striding over the rest. Each kernel is then
// compiled for one target:
//
//   cuda:sm_XX   NVVM -> PTX (and a cubin when ptxas is found)
//   rocm:gfxNNN  ROCDL -> AMDGPU assembly -> llvm-mc -> ld.lld -> HSACO
//   level-zero   SPIR-V, OpenCL flavour (Kernel, Addresses, Int64, Float64)
//   vulkan       SPIR-V, Vulkan flavour (Shader, Int64, Float64; buffers
//                storage buffers at set 0, bindings 0, 1, ...; scalars
//                push constants)
//
// Launch metadata travels with each binary as the runtime's kernel
// description: the kernel's entry point, its block size, and its arguments
// with where the target's lowering placed them. The host side (allocations,
// grid arithmetic, launches in order) becomes a launch plan the runtime's
// launcher interprets (GpuProgram::plan), and is kept as MLIR text too.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_GPUCOMPILER_H
#define EMBER_COMPILER_GPUCOMPILER_H

#include "ember/Runtime/Backend.h"
#include "ember/Runtime/Gpu/KernelDescription.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember {

struct GpuTarget {
  /// The runtime's backend the code is for (never the CPU).
  Backend backend = Backend::Cuda;
  /// "sm_90" (cuda), "gfx942" (rocm); empty for SPIR-V targets.
  std::string chip;

  /// Parses "cuda:sm_90", "rocm:gfx942", "level-zero" or "vulkan"; false
  /// with `error` set otherwise.
  static bool parse(llvm::StringRef text, GpuTarget *target, std::string *error);
  /// The spelling parse reads.
  std::string str() const;
  /// "ptx", "hsaco" or "spirv".
  const char *binaryFormat() const;
  /// The same as the runtime's module format.
  gpu::ModuleFormat moduleFormat() const;
};

struct GpuProgram {
  GpuTarget target;
  /// Each kernel as the runtime launches it: binary, block size, parameters
  /// and, for Vulkan, where the lowering placed them (KernelDescription.h).
  std::vector<gpu::KernelDescription> kernels;
  /// CUDA, where ptxas was found: the cubin of kernels[i] for the chip;
  /// otherwise empty.
  std::vector<std::string> cubins;
  /// The host functions after outlining (gpu.launch_func in order), as text.
  std::string host;
  /// The same host functions as a launch plan the runtime executes (JSON):
  /// per public function, its instructions over integer, buffer and scalar
  /// values — index arithmetic, allocations, buffer views, launches. See
  /// runtime/gpu/include/ember/Runtime/Gpu/Program.h.
  std::string plan;
};

/// Registers what compileForGpu needs: the CPU compiler's dialects plus the
/// GPU, NVVM, ROCDL and SPIR-V dialects, translations and target models.
void registerGpuCompilerDialects(mlir::DialectRegistry &registry);

/// Adds the target-independent passes: ember -> bufferized linalg ->
/// parallel loops -> blocks/threads -> outlined gpu.modules.
void buildGpuKernelPipeline(mlir::OpPassManager &pm);

/// Compiles `module` (lowered in place) into kernels for `target`; false
/// with `error` set (diagnostics with source locations, or a tool's output).
/// Each kernel's entry point is named by a hash of its code,
/// `ember_gpu_kernel_<hash>` (equal kernels get equal names, in any
/// program): the name its launches have in the runtime's profiler spans.
/// `readKernels`, when given, sees the module after outlining and naming,
/// before the target's lowering: its gpu.modules hold the kernels as
/// `program->kernels` names them and its host functions launch them
/// (gpu.launch_func), with the source's locations (the frontend reads
/// which ops each kernel computes there).
bool compileForGpu(mlir::ModuleOp module, const GpuTarget &target,
                   GpuProgram *program, std::string *error,
                   llvm::function_ref<void(mlir::ModuleOp)> readKernels = nullptr);

/// The launch metadata of `program` as JSON: the target, the binary format
/// and each kernel's description (KernelDescription::toJson) with its
/// binary's size.
std::string gpuProgramMetadata(const GpuProgram &program);

/// A model file's artifact for a GPU target: the kernels' binaries back to
/// back (`bytes`), and the manifest entry describing them (format
/// "gpu-kernels", target, section "artifact.<target>", and in its extra
/// keys the binary format, each kernel's offset, size and parameters, and
/// the launch plan). See docs/model-format.md.
struct GpuArtifact {
  std::string target;
  std::string section;
  std::vector<uint8_t> bytes;
  /// The manifest's artifact object (JSON text).
  std::string manifestJson;
};
GpuArtifact packGpuArtifact(const GpuProgram &program);

} // namespace ember

#endif // EMBER_COMPILER_GPUCOMPILER_H
