//===- GpuBuffers.h - buffers as GPU kernels take them ---------*- C++ -*-===//
//
// Kernels take every buffer as a 1-D, offset-0 view of its base buffer plus
// its offset and strides in elements (SPIR-V has no dynamic multi-dim
// buffers; NVVM/ROCDL then pass one pointer per buffer). Shared by
// ember-flatten-buffers and ember-gpu-kernelize.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_LIB_GPUBUFFERS_H
#define EMBER_COMPILER_LIB_GPUBUFFERS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

namespace ember {

/// The 1-D view of a buffer and its strided metadata, made on the host.
struct FlatBuffer {
  mlir::Value flat;
  mlir::Value offset;
  llvm::SmallVector<mlir::Value> strides;
};

/// Builds the 1-D view of `buffer` (any rank and layout) at `b`'s insertion
/// point. The view covers exactly the elements up to the last one reached:
/// offset + sum((size_k - 1) * stride_k) + 1.
FlatBuffer flattenBuffer(mlir::OpBuilder &b, mlir::Location loc, mlir::Value buffer);

/// The element index `offset + sum(index_k * stride_k)` in `view.flat`.
mlir::Value flatIndex(mlir::OpBuilder &b, mlir::Location loc, const FlatBuffer &view,
                      mlir::ValueRange indices);

} // namespace ember

#endif // EMBER_COMPILER_LIB_GPUBUFFERS_H
