//===- Passes.h - Ember compiler passes -------------------------*- C++ -*-===//

#ifndef EMBER_COMPILER_PASSES_H
#define EMBER_COMPILER_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

namespace ember {

#define GEN_PASS_DECL
#include "ember/Compiler/Passes.h.inc"

/// Vulkan kernels with more scalar arguments than this many 8-byte words
/// (Vulkan's guaranteed 128 bytes of push constants) read them from a
/// storage buffer after their buffers instead (ember-spirv-push-constants;
/// the runtime's KernelDescription.h assumes the same rule only for model
/// files written before the placement was recorded).
inline constexpr size_t kMaxPushConstantWords = 16;

/// What ember-spirv-push-constants records on each Vulkan kernel: an array
/// with, per original argument, a buffer's #spirv.interface_var_abi or a
/// scalar's i64 byte offset of its word; and, when the scalars are in a
/// storage buffer rather than push constants, that buffer's ABI attribute.
inline constexpr const char kVulkanPlacementAttrName[] = "ember.vulkan_placement";
inline constexpr const char kVulkanScalarBufferAttrName[] = "ember.vulkan_scalar_buffer";

/// The prefix `ember-destination-abi` gives entry-point symbols, so that a
/// function named like a libc/libm symbol (`exp`, `free`) cannot clash.
inline constexpr const char kEntryPrefix[] = "ember_entry_";

/// The suffix of the function `ember-shape-functions` adds next to each
/// entry: `forward.shapes` computes the result shapes of `forward`. Entry
/// names are identifiers, so no entry can be named like one.
inline constexpr const char kShapeFunctionSuffix[] = ".shapes";

/// The patterns of `convert-ember-to-linalg`: every ember op except the
/// composites (`ember-decompose` expands those first) to linalg, tensor,
/// arith and math ops; element-wise ops through one pattern that asks each
/// op's ElementwiseOpInterface for its scalar body. Ops on f16/bf16 must be
/// widened to f32 first (the pass does that before applying them).
void populateEmberToLinalgPatterns(mlir::RewritePatternSet &patterns);

/// Registers every Ember pass and the `ember-lower-to-llvm` pipeline.
void registerEmberPasses();

#define GEN_PASS_REGISTRATION
#include "ember/Compiler/Passes.h.inc"

} // namespace ember

#endif // EMBER_COMPILER_PASSES_H
