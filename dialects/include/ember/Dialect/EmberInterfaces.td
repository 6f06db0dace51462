//===- EmberInterfaces.td - ember op interfaces ------------*- tablegen -*-===//
//
// Interfaces that ember ops implement; the autodiff pass talks to ops only
// through them.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_DIALECT_EMBERINTERFACES_TD
#define EMBER_DIALECT_EMBERINTERFACES_TD

include "mlir/IR/OpBase.td"

def DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::ember";
  let description = [{
    An op whose vector-Jacobian product (VJP) can be written with ember ops.
    `ember-autodiff` walks a function backwards and asks each op on the path
    from the differentiated arguments to the results for its VJP.

    The rules build ember ops only (plus `tensor.dim` and `arith` ops for
    sizes known at run time), so a gradient function is itself
    differentiable: running the pass on it gives second derivatives.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds, at `builder`'s insertion point, the gradient of
        `sum(cotangents[i] * result[i])` with respect to each operand.
        `cotangents` has one value per result, of the result's type.
        Appends one value per operand to `gradients`, of exactly the
        operand's type, or a null value for an operand that is not
        differentiable (integer or bool tensors, `select`'s condition,
        `gather`'s indices, size operands). Fails, with a diagnostic at the
        op, only for a case the rule cannot express.
      }],
      "::mlir::LogicalResult", "buildVjp",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::ValueRange":$cotangents,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$gradients)>
  ];
}

/// The trait list entry an op adds to implement the interface in C++.
defvar Ember_Differentiable =
    DeclareOpInterfaceMethods<DifferentiableOpInterface>;

def ElementwiseOpInterface : OpInterface<"ElementwiseOpInterface"> {
  let cppNamespace = "::ember";
  let description = [{
    An op that computes each result element from the elements at the same
    (broadcast) position of its operands. Lowering builds one loop nest per
    op whose body is `buildScalar`; fusion merges neighbouring nests. Each
    op's scalar body sits next to its VJP (dialects/lib/EmberElementwise.cpp),
    so adding an element-wise op means one ODS definition and these two
    rules.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds the scalar result from one element of each operand (`args`, of
        the operands' element types; f16/bf16 ops are widened to f32 before
        lowering, so `args` are never half precision).
      }],
      "::mlir::Value", "buildScalar",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
           "::mlir::ValueRange":$args)>
  ];
}

defvar Ember_Elementwise = DeclareOpInterfaceMethods<ElementwiseOpInterface>;

#endif // EMBER_DIALECT_EMBERINTERFACES_TD
