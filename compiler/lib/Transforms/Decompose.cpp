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

/// f16 and bf16 composites compute in f32, as their CPU row lowerings do.
static Value toComputeType(PatternRewriter &rewriter, Location loc,
                           Value value) {
  if (!value)
    return value;
  auto type = cast<RankedTensorType>(value.getType());
  if (!type.getElementType().isF16() && !type.getElementType().isBF16())
    return value;
  return ember::CastOp::create(rewriter, loc, type.clone(rewriter.getF32Type()),
                        value);
}

static Value toType(PatternRewriter &rewriter, Location loc, Value value,
                    Type type) {
  return value.getType() == type ? value
                                 : ember::CastOp::create(rewriter, loc, type, value);
}

/// A 0-d constant of `like`'s element type (binary ops broadcast it).
static Value scalarLike(PatternRewriter &rewriter, Location loc, Value like,
                        double value) {
  Type element = cast<RankedTensorType>(like.getType()).getElementType();
  auto type = RankedTensorType::get({}, element);
  return ember::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(type, rewriter.getFloatAttr(element, value)));
}

struct DecomposeSoftmaxBackward : OpRewritePattern<SoftmaxBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SoftmaxBackwardOp op,
                                PatternRewriter &rewriter) const override {
    // y * (g - sum(g * y)) along dim.
    Location loc = op.getLoc();
    Value g = toComputeType(rewriter, loc, op.getGrad());
    Value y = toComputeType(rewriter, loc, op.getOutput());
    SmallVector<int64_t> dims = {static_cast<int64_t>(op.getDim())};
    Value dot = SumOp::create(rewriter, loc, MulOp::create(rewriter, loc, g, y),
                              dims, /*keepdim=*/true);
    Value dx = MulOp::create(rewriter, loc, y,
                             SubOp::create(rewriter, loc, g, dot));
    rewriter.replaceOp(op, toType(rewriter, loc, dx, op.getType()));
    return success();
  }
};

struct DecomposeLogSoftmaxBackward : OpRewritePattern<LogSoftmaxBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LogSoftmaxBackwardOp op,
                                PatternRewriter &rewriter) const override {
    // g - exp(y) * sum(g) along dim.
    Location loc = op.getLoc();
    Value g = toComputeType(rewriter, loc, op.getGrad());
    Value y = toComputeType(rewriter, loc, op.getOutput());
    SmallVector<int64_t> dims = {static_cast<int64_t>(op.getDim())};
    Value total = SumOp::create(rewriter, loc, g, dims, /*keepdim=*/true);
    Value dx = SubOp::create(
        rewriter, loc, g,
        MulOp::create(rewriter, loc, ExpOp::create(rewriter, loc, y), total));
    rewriter.replaceOp(op, toType(rewriter, loc, dx, op.getType()));
    return success();
  }
};

/// The normalized rows of `x` (already in the compute type) over the
/// innermost dim, and 1 / sqrt(var + eps) (layer norm, centred) or
/// 1 / sqrt(mean(x^2) + eps) (RMS norm) with the reduced dim kept.
struct NormParts {
  Value xhat;
  Value rstd;
};

static NormParts buildNormParts(PatternRewriter &rewriter, Location loc,
                                Value x, double eps, bool centred) {
  SmallVector<int64_t> dims = {
      cast<RankedTensorType>(x.getType()).getRank() - 1};
  Value centredX = x;
  if (centred)
    centredX = SubOp::create(
        rewriter, loc, x,
        MeanOp::create(rewriter, loc, x, dims, /*keepdim=*/true));
  Value square = MulOp::create(rewriter, loc, centredX, centredX);
  Value moment = MeanOp::create(rewriter, loc, square, dims, /*keepdim=*/true);
  Value rstd = RsqrtOp::create(
      rewriter, loc,
      AddOp::create(rewriter, loc, moment, scalarLike(rewriter, loc, x, eps)));
  return {MulOp::create(rewriter, loc, centredX, rstd), rstd};
}

template <typename OpTy, bool centred>
struct DecomposeNorm : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toComputeType(rewriter, loc, op.getInput());
    Value y = buildNormParts(rewriter, loc, x, op.getEps().convertToDouble(),
                             centred)
                  .xhat;
    if (Value weight = toComputeType(rewriter, loc, op.getWeight()))
      y = MulOp::create(rewriter, loc, y, weight);
    if (Value bias = toComputeType(rewriter, loc, op.getBias()))
      y = AddOp::create(rewriter, loc, y, bias);
    rewriter.replaceOp(op, toType(rewriter, loc, y, op.getType()));
    return success();
  }
};

/// dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = g * weight;
/// RMS norm without the mean(gw) term.
template <typename OpTy, bool centred>
struct DecomposeNormBackward : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toComputeType(rewriter, loc, op.getInput());
    Value g = toComputeType(rewriter, loc, op.getGrad());
    NormParts parts = buildNormParts(rewriter, loc, x,
                                     op.getEps().convertToDouble(), centred);
    if (Value weight = toComputeType(rewriter, loc, op.getWeight()))
      g = MulOp::create(rewriter, loc, g, weight);
    SmallVector<int64_t> dims = {
        cast<RankedTensorType>(x.getType()).getRank() - 1};
    Value projection = MeanOp::create(
        rewriter, loc, MulOp::create(rewriter, loc, g, parts.xhat), dims,
        /*keepdim=*/true);
    Value inner = SubOp::create(
        rewriter, loc, g,
        MulOp::create(rewriter, loc, parts.xhat, projection));
    if (centred)
      inner = SubOp::create(
          rewriter, loc, inner,
          MeanOp::create(rewriter, loc, g, dims, /*keepdim=*/true));
    Value dx = MulOp::create(rewriter, loc, parts.rstd, inner);
    rewriter.replaceOp(op, toType(rewriter, loc, dx, op.getType()));
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
    patterns.add<DecomposeSoftmax, DecomposeLogSoftmax, DecomposeSoftmaxBackward,
                 DecomposeLogSoftmaxBackward,
                 DecomposeNorm<LayerNormOp, /*centred=*/true>,
                 DecomposeNorm<RmsNormOp, /*centred=*/false>,
                 DecomposeNormBackward<LayerNormBackwardOp, /*centred=*/true>,
                 DecomposeNormBackward<RmsNormBackwardOp, /*centred=*/false>,
                 SwapTransposedMatmul>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      getOperation().emitError("ember-decompose did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
