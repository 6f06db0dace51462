//===- ember-opt.cpp - mlir-opt with the ember dialect and passes ----------===//
//
// Parses, verifies and transforms MLIR like mlir-opt, with the ember dialect,
// Ember's passes (the GPU ones too, so the gpu dialect is loaded), the
// `ember-lower-to-llvm` pipeline and the upstream passes that pipeline uses. Invalid input prints a located diagnostic and exits 1.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  ember::registerCompilerDialects(registry);
  registry.insert<mlir::gpu::GPUDialect>();
  ember::registerEmberPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Ember optimizer driver\n", registry));
}
