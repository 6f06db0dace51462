//===- Decompose.cpp - expand composite ember ops --------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ember {
#define GEN_PASS_DEF_EMBERDECOMPOSE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

/// The shifted exponentials shared by softmax and log_softmax:
/// shifted = x - max(x), sum = sum(exp(shifted)) with keepdim along `dim`.
struct SoftmaxParts {
  Value shifted;
  Value exps;
  Value sum;
};

static SoftmaxParts buildSoftmaxParts(PatternRewriter &rewriter, Location loc,
                                      Value input, int64_t dim) {
  SmallVector<int64_t> dims = {dim};
  Value max = MaxOp::create(rewriter, loc, input, dims, /*keepdim=*/true);
  Value shifted = SubOp::create(rewriter, loc, input, max);
  Value exps = ExpOp::create(rewriter, loc, shifted);
  Value sum = SumOp::create(rewriter, loc, exps, dims, /*keepdim=*/true);
  return {shifted, exps, sum};
}

struct DecomposeSoftmax : OpRewritePattern<SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    SoftmaxParts parts =
        buildSoftmaxParts(rewriter, op.getLoc(), op.getInput(), op.getDim());
    rewriter.replaceOpWithNewOp<DivOp>(op, parts.exps, parts.sum);
    return success();
  }
};

struct DecomposeLogSoftmax : OpRewritePattern<LogSoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LogSoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    SoftmaxParts parts =
        buildSoftmaxParts(rewriter, op.getLoc(), op.getInput(), op.getDim());
    Value logSum = LogOp::create(rewriter, op.getLoc(), parts.sum);
    rewriter.replaceOpWithNewOp<SubOp>(op, parts.shifted, logSum);
    return success();
  }
};

struct EmberDecomposePass
    : ember::impl::EmberDecomposeBase<EmberDecomposePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<DecomposeSoftmax, DecomposeLogSoftmax>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
