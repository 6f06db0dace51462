//===- ApproximateMath.cpp - vectorizable f32 math -------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ember {
#define GEN_PASS_DEF_EMBERAPPROXIMATEMATH
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberApproximateMathPass
    : ember::impl::EmberApproximateMathBase<EmberApproximateMathPass> {
  void runOnOperation() override {
    propagateNaNs();
    RewritePatternSet patterns(&getContext());
    // The approximations match f32 only; f64 ops stay for libm.
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) {
          // `name` is the full op name, e.g. "math.exp".
          if (!name.consume_front("math."))
            return false;
          return name == "exp" || name == "expm1" || name == "log" ||
                 name == "log1p" || name == "log2" || name == "tanh" ||
                 name == "erf" || name == "erfc" || name == "atan" ||
                 name == "atan2" ||
                 name == "asin" || name == "acos" || name == "sin" ||
                 name == "cos" || name == "cbrt";
        });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }

  /// The approximations turn a NaN into an integer (fptosi) on their way:
  /// fine on the hardware, but LLVM folds fptosi of a constant NaN to poison
  /// and the result to garbage. Each approximated result is selected back to
  /// NaN where an operand is NaN, explicitly.
  void propagateNaNs() {
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<math::ExpOp, math::ExpM1Op, math::LogOp, math::Log1pOp,
              math::Log2Op, math::TanhOp, math::ErfOp, math::ErfcOp,
              math::AtanOp, math::Atan2Op, math::AsinOp, math::AcosOp,
              math::SinOp, math::CosOp, math::CbrtOp>(op) &&
          op->getNumResults() == 1 &&
          getElementTypeOrSelf(op->getResult(0).getType()).isF32())
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      OpBuilder b(op->getContext());
      b.setInsertionPointAfter(op);
      Location loc = op->getLoc();
      Value result = op->getResult(0);
      Value lhs = op->getOperand(0);
      Value rhs = op->getNumOperands() > 1 ? op->getOperand(1) : lhs;
      Value nan = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, lhs, rhs);
      Value either = op->getNumOperands() > 1
                         ? arith::AddFOp::create(b, loc, lhs, rhs).getResult()
                         : lhs;
      Value select = arith::SelectOp::create(b, loc, nan, either, result);
      result.replaceAllUsesExcept(select, select.getDefiningOp());
    }
  }
};

} // namespace
