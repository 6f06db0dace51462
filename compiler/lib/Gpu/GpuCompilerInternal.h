//===- GpuCompilerInternal.h - the parts compileForGpu drives - -*- C++ -*-===//
//
// compileForGpu (GpuPipeline.cpp) runs the target-independent kernel
// pipeline, describes the kernels (GpuArtifact.cpp), writes the host
// functions as a launch plan (LaunchPlanWriter.cpp), then lowers and
// serializes the kernels for one target: NvvmTarget.cpp, RocdlTarget.cpp or
// SpirvTarget.cpp. Each target's lowering is a textual pipeline, spelled as
// mlir-opt would take it ("builtin.module(...)").
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_LIB_GPU_GPUCOMPILERINTERNAL_H
#define EMBER_COMPILER_LIB_GPU_GPUCOMPILERINTERNAL_H

#include "ember/Compiler/GpuCompiler.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <map>
#include <string>
#include <vector>

namespace ember {

/// Names each outlined kernel function by a hash of its gpu.module's code,
/// `ember_gpu_kernel_<hash>`, and points its launches at the new name
/// (GpuArtifact.cpp). The gpu.modules keep their (unique) names.
void nameKernelsByContent(mlir::ModuleOp module);

/// The kernels of the outlined module as the runtime describes them for
/// `target` (GpuArtifact.cpp), without binaries and, for Vulkan, without
/// the placement (recordVulkanPlacement adds it).
std::vector<gpu::KernelDescription> describeKernels(mlir::ModuleOp module,
                                                    const GpuTarget &target);

/// Writes the host functions as a launch plan (see GpuProgram::plan); false
/// with `error` set when one holds an op the launcher cannot run.
bool writeLaunchPlan(mlir::ModuleOp module, std::string *plan, std::string *error);

/// cuda:sm_XX: the NVVM lowering to PTX.
std::string nvvmLoweringPipeline(const GpuTarget &target);
/// PTX -> cubin with ptxas, when ptxas is installed; false otherwise.
bool assembleCubin(const std::string &ptx, const std::string &chip, std::string *cubin);

/// rocm:gfxNNN: the ROCDL lowering to AMDGPU assembly.
std::string rocdlLoweringPipeline(const GpuTarget &target);
/// AMDGPU assembly -> relocatable object (llvm-mc) -> HSACO (ld.lld).
bool assembleHsaco(const std::string &assembly, const std::string &chip,
                   std::string *hsaco, std::string *error);

/// vulkan and level-zero: sets the module's SPIR-V target environment and
/// drops the host functions (the lowering changes kernel signatures, so the
/// plan must already be written); returns the lowering to spirv.modules.
std::string prepareSpirvLowering(mlir::ModuleOp module, const GpuTarget &target);
/// vulkan, after the lowering: each kernel's placement (buffer bindings,
/// scalar words and scalar buffer) as ember-spirv-push-constants recorded it
/// on the kernel; false with `error` set when a kernel has none.
bool recordVulkanPlacement(mlir::ModuleOp module, std::vector<gpu::KernelDescription> *kernels,
                           std::string *error);
/// Serializes each lowered spirv.module into `binaries`, by the name of the
/// gpu.module it came from; false with `error` set (`diagnostics`: what the
/// serializer reported).
bool serializeSpirvModules(mlir::ModuleOp module, std::map<std::string, std::string> *binaries,
                           const std::string &diagnostics, std::string *error);

/// Runs `program` with `args`; its stdout+stderr in `output`.
bool runTool(llvm::StringRef program, llvm::ArrayRef<llvm::StringRef> args,
             std::string *output);
/// The file's bytes; empty when it cannot be read.
std::string readFile(llvm::StringRef path);

} // namespace ember

#endif // EMBER_COMPILER_LIB_GPU_GPUCOMPILERINTERNAL_H
