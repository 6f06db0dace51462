//===- RowLoops.h - ops over the innermost dim, one row at a time -*- C++ -*-===//
//
// What the row lowerings (ember-softmax-rows, ember-norm-rows) share: an
// `scf.forall` over the rows whose body sees one row of each operand as a
// 1-D tensor and writes one row of the result, the `scf.for` loops that make
// passes over a row while it is in L1, and element access that computes
// f16/bf16 in f32.
//
// The rows are an `scf.forall` (each row put back with
// `tensor.parallel_insert_slice`) so that after bufferization the outermost
// loop over the rows is parallel and the CPU pipeline can split it across
// threads; a row itself is a contiguous run of memory.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_LIB_TRANSFORMS_ROWLOOPS_H
#define EMBER_COMPILER_LIB_TRANSFORMS_ROWLOOPS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace ember::rows {

/// The body of one loop over a row: gets the column index and the loop's
/// carried values, returns the values to carry on.
using ColumnBodyFn = llvm::function_ref<llvm::SmallVector<mlir::Value>(
    mlir::OpBuilder &, mlir::Location, mlir::Value column,
    mlir::ValueRange carried)>;

/// `scf.for %j = 0 to %n` carrying `inits`; returns the final values.
llvm::SmallVector<mlir::Value> buildColumnLoop(mlir::OpBuilder &b,
                                               mlir::Location loc,
                                               mlir::Value n,
                                               mlir::ValueRange inits,
                                               ColumnBodyFn body);

/// Computes one row of the result: gets one row of each operand and the
/// result's row to write (1-D tensors of the innermost size), returns the
/// written row.
using RowBodyFn = llvm::function_ref<mlir::Value(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange operandRows,
    mlir::Value resultRow)>;

/// A result shaped like `operands[0]` (every operand has its shape; the
/// element type is `resultElementType`) computed row by row: an
/// `scf.forall` over every dim but the innermost, or the body alone for a
/// 1-D tensor (one row).
mlir::Value buildRowsForall(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::ValueRange operands,
                            mlir::Type resultElementType, RowBodyFn body);

/// Like RowBodyFn, also given the row's indices (every dim but the
/// innermost; none for a 1-D tensor), for operands indexed per row.
using IndexedRowBodyFn = llvm::function_ref<mlir::Value(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange rowIndices,
    mlir::ValueRange operandRows, mlir::Value resultRow)>;

/// buildRowsForall with a body that sees the row's indices.
mlir::Value buildIndexedRowsForall(mlir::OpBuilder &b, mlir::Location loc,
                                   mlir::ValueRange operands,
                                   mlir::Type resultElementType,
                                   IndexedRowBodyFn body);

/// The size of the innermost dim of `tensor`, as an index.
mlir::Value innermostSize(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value tensor);

/// Element access in a compute type: f16 and bf16 load as f32 and store
/// rounded back; other float types compute as themselves.
struct ElementAccess {
  explicit ElementAccess(mlir::Type elementType);

  mlir::Value load(mlir::OpBuilder &b, mlir::Location loc, mlir::Value tensor,
                   mlir::ValueRange indices) const;
  mlir::Value store(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value,
                    mlir::Value tensor, mlir::ValueRange indices) const;
  mlir::Value constant(mlir::OpBuilder &b, mlir::Location loc,
                       double value) const;
  /// `n` (an index) as a compute-type float.
  mlir::Value count(mlir::OpBuilder &b, mlir::Location loc,
                    mlir::Value n) const;
  /// A sum that LLVM may reassociate, hence vectorize along the row.
  mlir::Value add(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lhs,
                  mlir::Value rhs) const;

  mlir::Type elementType;
  mlir::FloatType computeType;
  bool isHalf;
};

} // namespace ember::rows

#endif // EMBER_COMPILER_LIB_TRANSFORMS_ROWLOOPS_H
