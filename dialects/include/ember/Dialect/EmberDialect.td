//===- EmberDialect.td - The ember tensor dialect ----------*- tablegen -*-===//
//
// The `ember` dialect: value-semantics tensor ops that Ember's eager API traces
// into, that autodiff differentiates, and that lower to linalg.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_DIALECT_EMBERDIALECT_TD
#define EMBER_DIALECT_EMBERDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def Ember_Dialect : Dialect {
  let name = "ember";
  let summary = "Tensor ops with value semantics for the Ember runtime";
  let description = [{
    Ops work on builtin ranked tensors whose dims may be dynamic. Element types
    are f32, f64, f16, bf16, i32, i64 (signed) and i1 (bool); f16 and bf16
    compute in f32 when lowered.

    Broadcasting follows NumPy: shapes align from the right and a dim of static
    size 1 stretches to the other operand's size. A dynamic dim never
    broadcasts at run time: the tracer marks size-1 dims as static 1, so a `?`
    always equals the result size. Two static sizes that differ (neither 1) are
    an error that names both shapes.
  }];
  let cppNamespace = "::ember";
  let hasConstantMaterializer = 1;
  // VJP rules read run-time sizes with tensor.dim and arith ops.
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

class Ember_Op<string mnemonic, list<Trait> traits = []>
    : Op<Ember_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Element type constraints
//===----------------------------------------------------------------------===//

def Ember_Tensor : RankedTensorOf<[F16, BF16, F32, F64, I32, I64, I1]>;
def Ember_FloatTensor : RankedTensorOf<[F16, BF16, F32, F64]>;
def Ember_NumericTensor : RankedTensorOf<[F16, BF16, F32, F64, I32, I64]>;
def Ember_BoolTensor : RankedTensorOf<[I1]>;
def Ember_IntegerOrBoolTensor : RankedTensorOf<[I32, I64, I1]>;
def Ember_IndexTensor : RankedTensorOf<[I64]>;
// Gather takes either integer width, as torch takes int32 or int64 indices.
def Ember_IndicesTensor : RankedTensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Ember_ComparePredicate : I32EnumAttr<"ComparePredicate",
    "element-wise comparison predicate", [
      I32EnumAttrCase<"eq", 0>, I32EnumAttrCase<"ne", 1>,
      I32EnumAttrCase<"lt", 2>, I32EnumAttrCase<"le", 3>,
      I32EnumAttrCase<"gt", 4>, I32EnumAttrCase<"ge", 5>]> {
  let cppNamespace = "::ember";
}

#endif // EMBER_DIALECT_EMBERDIALECT_TD
