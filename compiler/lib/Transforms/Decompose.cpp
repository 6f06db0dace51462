//===- Decompose.cpp - expand composite ember ops --------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
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

/// transpose(a @ b) over the last two dims = b^T @ a^T: the transposes then
/// reach the GEMM as operand layouts (BLAS reads transposed operands without
/// copying), and a transposed operand that is itself a transpose folds away.
/// Gradients of x @ w produce this shape.
struct SwapTransposedMatmul : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto matmul = op.getInput().getDefiningOp<MatmulOp>();
    if (!matmul || !matmul->hasOneUse())
      return failure();
    ArrayRef<int64_t> perm = op.getPermutation();
    int64_t rank = perm.size();
    if (rank < 2)
      return failure();
    // Only a swap of the two matrix dims, batch dims in place.
    for (int64_t i = 0; i < rank - 2; ++i)
      if (perm[i] != i)
        return failure();
    if (perm[rank - 2] != rank - 1 || perm[rank - 1] != rank - 2)
      return failure();
    // Both operands must have the result's rank (a broadcast batch operand
    // would need its own permutation). Checked before anything is built: a
    // pattern that fails must leave the IR as it was.
    auto sameRank = [&](Value v) {
      return cast<RankedTensorType>(v.getType()).getRank() == rank;
    };
    if (!sameRank(matmul.getLhs()) || !sameRank(matmul.getRhs()))
      return failure();
    SmallVector<int64_t> p(perm.begin(), perm.end());
    Value bt = TransposeOp::create(rewriter, op.getLoc(), matmul.getRhs(), p);
    Value at = TransposeOp::create(rewriter, op.getLoc(), matmul.getLhs(), p);
    Value product = MatmulOp::create(rewriter, op.getLoc(), bt, at);
    if (product.getType() != op.getType())
      product = tensor::CastOp::create(rewriter, op.getLoc(), op.getType(),
                                       product);
    rewriter.replaceOp(op, product);
    return success();
  }
};

struct EmberDecomposePass
    : ember::impl::EmberDecomposeBase<EmberDecomposePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<DecomposeSoftmax, DecomposeLogSoftmax, SwapTransposedMatmul>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      getOperation().emitError("ember-decompose did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
