//===- ConversionPasses.td - ember to linalg ---------------*- tablegen -*-===//
//
// The lowering of ember ops to linalg, tensor, arith and math
// (compiler/lib/Conversion).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_CONVERSIONPASSES_TD
#define EMBER_COMPILER_CONVERSIONPASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertEmberToLinalg : Pass<"convert-ember-to-linalg", "mlir::func::FuncOp"> {
  let summary = "Lower ember ops to linalg, tensor, arith and math";
  let description = [{
    Element-wise ops and broadcasts become `linalg.generic` ops whose indexing
    maps read a static size-1 dim at index 0; reductions become
    `linalg.generic` reductions over a `linalg.fill`ed init; `matmul` becomes
    `linalg.matmul` (a leading batch of the left operand folds into M) or
    `linalg.batch_matmul`; shape ops become `tensor` ops; `scatter_add`
    becomes a sequential `scf.for` nest (duplicate indices accumulate). f16
    and bf16 values are widened to f32 around each computation and narrowed after it. Fails,
    naming the op, if any ember op is left.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::math::MathDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect"
  ];
}

#endif // EMBER_COMPILER_CONVERSIONPASSES_TD
