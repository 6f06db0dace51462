//===- EpilogueMatch.h - what an element-wise op does to a product -*- C++ -*-===//
//
// Shared by the passes that fold the element-wise op reading a runtime
// call's result into the call (ember-fuse-matmul-epilogue,
// ember-fuse-conv-epilogue; defined in FuseMatmulEpilogue.cpp): the
// recognizer of the generic's body and the memory checks that make moving
// the call down to the generic safe.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_CPU_EPILOGUEMATCH_H
#define EMBER_COMPILER_CPU_EPILOGUEMATCH_H

#include "ember/Runtime/GemmEpilogue.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace ember {
namespace epilogue {

/// What a generic's body does to C: which inputs are added where.
struct Epilogue {
  int activation = EMBER_GEMM_ACT_NONE;
  int biasInput = -1, residualInput = -1;
  /// act(C + bias + residual) rather than act(C + bias) + residual.
  bool residualFirst = false;
};

/// The body's yielded value as act(C + bias) + residual or act(C + bias +
/// residual) (each part optional, any association), C being block argument
/// `cInput`, bias and residual other inputs' arguments; act one of
/// ember_gemm_activation's as Ember's ops lower them.
std::optional<Epilogue> matchBody(mlir::linalg::GenericOp generic,
                                  unsigned cInput);

/// matchBody for `result`, a value computed in the generic's body (not
/// necessarily the yielded one).
std::optional<Epilogue> matchEpilogueValue(mlir::linalg::GenericOp generic,
                                           unsigned cInput,
                                           mlir::Value result);

/// An epilogue with its addends' operands (null when absent).
struct MatchedEpilogue {
  Epilogue epilogue;
  mlir::OpOperand *bias = nullptr, *residual = nullptr;
};

/// matchBody for the generic's one input that is `c` (read through an
/// identity map; the init's block argument unused), with the addends'
/// operands, each an f32 memref; nullopt when `c` is read otherwise, an
/// addend is of another type or the body is no epilogue.
std::optional<MatchedEpilogue> matchEpilogueOf(mlir::linalg::GenericOp generic,
                                               mlir::Value c);

/// `value` without the memref.cast that made it (the runtime calls take
/// dynamic shapes; the memory is the cast's source).
mlir::Value stripCast(mlir::Value value);

/// Whether two memrefs may share memory (distinct allocations and distinct
/// function arguments do not).
bool mayOverlap(mlir::Value a, mlir::Value b);

/// True when no op strictly between `from` and `to` (same block) may write
/// a buffer overlapping one of `values`.
bool unwrittenBetween(mlir::Operation *from, mlir::Operation *to,
                      llvm::ArrayRef<mlir::Value> values);

/// True when each result of `map` is a distinct dim or the constant 0: the
/// operand is read as a broadcast of the iteration space.
bool isBroadcastMap(mlir::AffineMap map);

} // namespace epilogue
} // namespace ember

#endif // EMBER_COMPILER_CPU_EPILOGUEMATCH_H
