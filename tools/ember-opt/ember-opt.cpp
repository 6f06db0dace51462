//===- ember-opt.cpp - mlir-opt with the ember dialect and passes ----------===//
//
// Parses, verifies and transforms MLIR like mlir-opt, with the ember dialect,
// every Ember pass, the `ember-lower-to-llvm` pipeline and the upstream
// passes that pipeline uses. For the GPU passes the gpu dialect is loaded,
// and the NVVM, ROCDL and SPIR-V dialects whose attributes (targets, ABIs,
// storage classes) their inputs and outputs carry. Invalid input prints a
// located diagnostic and exits 1.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/LLVMIR/ROCDLDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  ember::registerCompilerDialects(registry);
  registry.insert<mlir::gpu::GPUDialect, mlir::NVVM::NVVMDialect, mlir::ROCDL::ROCDLDialect,
                  mlir::spirv::SPIRVDialect>();
  ember::registerEmberPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Ember optimizer driver\n", registry));
}
