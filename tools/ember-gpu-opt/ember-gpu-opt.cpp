//===- ember-gpu-opt.cpp - ember-opt with the GPU back end's passes --------===//
//
// mlir-opt over the ember dialect with the GPU passes and pipelines:
// `--ember-gpu-kernels` (ember -> outlined kernels with host launches) and
// `--ember-gpu-lower-to-{cuda,rocm,level_zero,vulkan}` (kernels lowered to
// NVVM/ROCDL LLVM dialect or spirv.modules, host dropped). The lit tests in
// test/lit/Gpu check each step with it.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Gpu/GpuCompiler.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  ember::gpu::registerGpuCompilerDialects(registry);
  ember::gpu::registerGpuPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "Ember GPU optimizer driver\n", registry));
}
