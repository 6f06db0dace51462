//===- GpuGraph.cpp - compile and run lazy graphs on a GPU ------*- C++ -*-===//
//
// A graph for a GPU: the emitted function compiled for the device's target
// (kernels and a launch plan) and run by the runtime's gpu::Program. For a
// picture, the compile also reports which nodes each kernel computes.
//
//===----------------------------------------------------------------------===//

#include "GraphEmitter.h"

#include "ember/Compiler/GpuCompiler.h"
#include "ember/Frontend/Error.h"
#include "ember/Runtime/Gpu/Program.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <mutex>

using namespace mlir;

namespace ember {

namespace {

/// A graph compiled for a GPU: the kernels and launch plan on the device.
class GpuGraph : public CompiledGraph {
public:
  GpuGraph(gpu::Device &device, std::unique_ptr<gpu::Program> program, size_t sizesArg)
      : device(device), program(std::move(program)), sizesArg(sizesArg) {}

  void run(llvm::ArrayRef<GraphBuffer> buffers) const override {
    std::vector<gpu::ProgramBuffer> args;
    gpu::DeviceBuffer sizes;
    gpu::Stream &stream = device.defaultStream();
    try {
      for (size_t i = 0; i < buffers.size(); ++i) {
        const GraphBuffer &buffer = buffers[i];
        gpu::ProgramBuffer arg;
        arg.shape.assign(buffer.shape, buffer.shape + buffer.rank);
        if (i == sizesArg) {
          // The size vector: read by the plan on the host, and by kernels
          // (run-time scalars) on the device.
          size_t bytes = std::max<size_t>(1, buffer.shape[0]) * 8;
          sizes = device.allocate(bytes);
          if (buffer.shape[0])
            device.copyToDevice(sizes, 0, buffer.data, buffer.shape[0] * 8, stream);
          arg.buffer = sizes;
          arg.elementBytes = 8;
          arg.host = buffer.data;
        } else {
          arg.buffer = {buffer.owner->deviceHandle, std::max<size_t>(1, buffer.owner->deviceBytes)};
          arg.elementBytes = buffer.elementBytes;
        }
        args.push_back(std::move(arg));
      }
      program->run("ember_entry_graph", args, stream);
    } catch (const gpu::DeviceError &error) {
      if (sizes)
        device.free(sizes);
      runtimeError(error.what());
    }
    if (sizes)
      device.free(sizes);
  }

private:
  gpu::Device &device;
  std::unique_ptr<gpu::Program> program;
  size_t sizesArg;
};

} // namespace

std::unique_ptr<CompiledGraph> compileGraphForGpu(const GraphPlan &plan, Backend kind,
                                                  std::string *error,
                                                  KernelNodes *kernelNodes) {
  std::lock_guard<std::mutex> lock(contextMutex());
  MLIRContext &ctx = compilerContext();
  DiagnosticCollector collector(&ctx);
  OwningOpRef<ModuleOp> module =
      emitGraphForCompile(&ctx, plan, collector, error, /*reshapeGroups=*/false,
                          /*tagNodes=*/kernelNodes != nullptr);
  if (!module)
    return nullptr;
  // The chip: for CUDA the GPU's own architecture unless EMBER_CUDA_ARCH says
  // otherwise (PTX for a newer architecture does not load on an older GPU).
  std::string chip = backendInfo(kind).defaultChip;
  if (kind == Backend::Cuda) {
    const char *arch = getenv("EMBER_CUDA_ARCH");
    std::string deviceArch = gpuDevice(kind).info().arch;
    if (arch && *arch)
      chip = std::string("sm_") + arch;
    else if (!deviceArch.empty())
      chip = deviceArch;
  } else if (kind == Backend::Rocm) {
    const char *arch = getenv("EMBER_ROCM_ARCH");
    if (arch && *arch)
      chip = arch;
  }
  std::string targetName = backendTargetPrefix(kind) + chip;
  GpuTarget target;
  GpuProgram program;
  if (!GpuTarget::parse(targetName, &target, error) ||
      !compileForGpu(*module, target, &program, error, [&](ModuleOp outlined) {
        if (kernelNodes)
          *kernelNodes = kernelNodesOf(
              outlined,
              [](Operation *op) -> std::optional<llvm::StringRef> {
                auto func = dyn_cast<mlir::gpu::GPUFuncOp>(op);
                if (!func || !func.isKernel())
                  return std::nullopt;
                return func.getName();
              },
              [](Operation *op) -> std::optional<llvm::StringRef> {
                if (auto launch = dyn_cast<mlir::gpu::LaunchFuncOp>(op))
                  return launch.getKernelName().getValue();
                return std::nullopt;
              });
      }))
    return nullptr;
  gpu::Device &device = gpuDevice(kind);
  try {
    // The compiler's kernel descriptions are the runtime's: no conversion.
    auto loaded =
        std::make_unique<gpu::Program>(device, std::move(program.kernels), program.plan);
    return std::make_unique<GpuGraph>(device, std::move(loaded), plan.inputs.size());
  } catch (const gpu::DeviceError &deviceError) {
    *error = deviceError.what();
    return nullptr;
  }
}

} // namespace ember
