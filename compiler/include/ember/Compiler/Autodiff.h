//===- Autodiff.h - reverse-mode differentiation of ember functions -*- C++ -*-//
//
// Builds vector-Jacobian product (VJP) functions from ember functions, using
// each op's DifferentiableOpInterface. The `ember-autodiff` pass and the eager
// frontend both call `buildVjpFunction`.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_AUTODIFF_H
#define EMBER_COMPILER_AUTODIFF_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"

#include <string>

namespace ember {

struct VjpOptions {
  /// Recompute, right before each VJP rule, the forward ops it reads instead
  /// of reusing the forward pass's values: less memory held from the forward
  /// to the backward, more compute (a chain of n ops costs O(n^2)). CSE would
  /// merge the copies back, so this mode runs only canonicalization.
  bool recompute = false;
  /// Run canonicalization (and CSE unless `recompute`) on the new function.
  bool simplify = true;
  /// The new function's name; empty means `<name>_vjp`.
  std::string name;
};

/// Builds, beside `func` in its symbol table, a public function
///   `<name>_vjp(args..., cotangents...) -> (results..., gradients...)`
/// taking `func`'s arguments plus one cotangent per result (of the result's
/// type) and returning `func`'s results followed by the gradient of
/// `sum_i cotangent_i * result_i` with respect to each argument in `wrt`, in
/// that order. An argument in `wrt` that does not reach the results gets
/// zeros. Integer and bool values carry no gradient.
///
/// `func` must have one block. Fails, with a diagnostic at the op's location,
/// when an op between the `wrt` arguments and the results has no
/// DifferentiableOpInterface, when a `wrt` index is out of range or names a
/// non-float-tensor argument, or when the name is taken.
mlir::FailureOr<mlir::func::FuncOp>
buildVjpFunction(mlir::func::FuncOp func, llvm::ArrayRef<unsigned> wrt,
                 const VjpOptions &options = {});

/// The indices of `func`'s floating-point tensor arguments (the default
/// `wrt`).
llvm::SmallVector<unsigned> floatTensorArguments(mlir::func::FuncOp func);

} // namespace ember

#endif // EMBER_COMPILER_AUTODIFF_H
