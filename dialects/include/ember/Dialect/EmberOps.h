//===- EmberOps.h - ember dialect operations --------------------*- C++ -*-===//

#ifndef EMBER_DIALECT_EMBEROPS_H
#define EMBER_DIALECT_EMBEROPS_H

#include "ember/Dialect/EmberDialect.h"
#include "ember/Dialect/EmberInterfaces.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "ember/Dialect/EmberEnums.h.inc"

namespace ember {
/// The result type of a broadcasting binary op (both operands of one element
/// type); shared by every op of the `Ember_BinaryOp` class.
mlir::LogicalResult
inferBinaryResultType(std::optional<mlir::Location> loc, llvm::StringRef opName,
                      mlir::Value lhs, mlir::Value rhs,
                      llvm::SmallVectorImpl<mlir::Type> &results);
} // namespace ember

#define GET_OP_CLASSES
#include "ember/Dialect/EmberOps.h.inc"

#endif // EMBER_DIALECT_EMBEROPS_H
