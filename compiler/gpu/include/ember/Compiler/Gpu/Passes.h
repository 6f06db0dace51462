//===- Passes.h - Ember GPU code generation passes --------------*- C++ -*-===//

#ifndef EMBER_COMPILER_GPU_PASSES_H
#define EMBER_COMPILER_GPU_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace ember {
namespace gpu {

#define GEN_PASS_DECL
#include "ember/Compiler/Gpu/Passes.h.inc"

/// The block size of point-wise and row-reduction kernels.
inline constexpr int64_t kBlockSize = 256;
/// The side of a matmul output tile (a block is kTile x kTile threads).
inline constexpr int64_t kTile = 16;
/// The most blocks a launch asks for along x (Vulkan's minimum limit);
/// kernels stride over the rest.
inline constexpr int64_t kMaxGrid = 65535;

#define GEN_PASS_REGISTRATION
#include "ember/Compiler/Gpu/Passes.h.inc"

} // namespace gpu
} // namespace ember

#endif // EMBER_COMPILER_GPU_PASSES_H
