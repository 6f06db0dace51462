//===- ApproximateMath.cpp - vectorizable f32 math -------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
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
};

} // namespace
