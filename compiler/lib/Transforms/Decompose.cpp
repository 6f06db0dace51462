//===- Decompose.cpp - expand composite ember ops --------------------------===//

#include "DecomposeAttention.h"

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
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

/// The row quantities shared by cross_entropy_rows and its backward, with
/// the logits already in the compute type: per row (kept as (N, 1)) the
/// max-shifted exponentials and their sum, whether the target counts, and
/// the (N, C) one-hot of the target. The one-hot compares the target with
/// the row 0..C-1 (buildClassIds), so an out-of-range target hits no class
/// and needs no clamping.
struct CrossEntropyParts {
  SoftmaxParts softmax;
  Value valid;
  Value onehot;
};

/// The (1, C) row 0, 1, ..., C-1 of `element` for the class dim of the
/// (N, C) `logits`: a constant when C is static, else a linalg.generic
/// writing each position's index.
static Value buildClassIds(PatternRewriter &rewriter, Location loc,
                           Value logits, Type element) {
  int64_t classes = cast<RankedTensorType>(logits.getType()).getDimSize(1);
  auto type = RankedTensorType::get({1, classes}, element);
  if (!ShapedType::isDynamic(classes)) {
    SmallVector<APInt> ids;
    for (int64_t c = 0; c < classes; ++c)
      ids.push_back(APInt(element.getIntOrFloatBitWidth(), c));
    return ember::ConstantOp::create(rewriter, loc,
                                     DenseElementsAttr::get(type, ids));
  }
  Value size = tensor::DimOp::create(rewriter, loc, logits, 1);
  Value empty =
      tensor::EmptyOp::create(rewriter, loc, type.getShape(), element, size);
  AffineMap identity = rewriter.getMultiDimIdentityMap(2);
  SmallVector<utils::IteratorType> parallel(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             rewriter, loc, TypeRange{type}, ValueRange{}, ValueRange{empty},
             ArrayRef<AffineMap>{identity}, parallel,
             [&](OpBuilder &b, Location l, ValueRange) {
               Value index = linalg::IndexOp::create(b, l, 1);
               linalg::YieldOp::create(
                   b, l,
                   ValueRange{arith::IndexCastOp::create(b, l, element,
                                                         index)});
             })
      .getResult(0);
}

/// `value` (N,) as an (N, 1) column.
static Value asColumn(PatternRewriter &rewriter, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<Value> sizes;
  if (type.isDynamicDim(0))
    sizes.push_back(tensor::DimOp::create(rewriter, loc, value, 0));
  auto columnType =
      RankedTensorType::get({type.getDimSize(0), 1}, type.getElementType());
  return ReshapeOp::create(rewriter, loc, columnType, value, sizes);
}

static CrossEntropyParts
buildCrossEntropyParts(PatternRewriter &rewriter, Location loc, Value logits,
                       Value target, int64_t ignoreIndex) {
  auto logitsType = cast<RankedTensorType>(logits.getType());
  auto targetType = cast<RankedTensorType>(target.getType());
  int64_t classes = logitsType.getDimSize(1);
  Type indexElement = targetType.getElementType();
  auto column = [&](int64_t value) {
    auto type = RankedTensorType::get({}, indexElement);
    return ember::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(type,
                               rewriter.getIntegerAttr(indexElement, value)));
  };
  Value t = asColumn(rewriter, loc, target);

  Value classIds = buildClassIds(rewriter, loc, logits, indexElement);
  Value onehot =
      CompareOp::create(rewriter, loc, ComparePredicate::eq, t, classIds);

  // The upper bound: C itself, or (C dynamic) one past the last class id.
  Value upper;
  if (ShapedType::isDynamic(classes))
    upper = MaxOp::create(rewriter, loc, classIds, SmallVector<int64_t>{0, 1},
                          /*keepdim=*/false);
  else
    upper = column(classes);
  Value inRange = AndOp::create(
      rewriter, loc,
      CompareOp::create(rewriter, loc, ComparePredicate::ge, t, column(0)),
      CompareOp::create(rewriter, loc,
                        ShapedType::isDynamic(classes) ? ComparePredicate::le
                                                       : ComparePredicate::lt,
                        t, upper));
  Value valid = AndOp::create(
      rewriter, loc, inRange,
      CompareOp::create(rewriter, loc, ComparePredicate::ne, t,
                        column(ignoreIndex)));
  return CrossEntropyParts{buildSoftmaxParts(rewriter, loc, logits, 1), valid,
                           onehot};
}

/// loss = log(sum(exp(x - max))) - (x[t] - max), 0 where t is not valid.
struct DecomposeCrossEntropyRows : OpRewritePattern<CrossEntropyRowsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CrossEntropyRowsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toComputeType(rewriter, loc, op.getLogits());
    CrossEntropyParts parts = buildCrossEntropyParts(
        rewriter, loc, x, op.getTarget(), op.getIgnoreIndex());
    Value zero = scalarLike(rewriter, loc, x, 0.0);
    SmallVector<int64_t> dims = {1};
    Value picked = SumOp::create(
        rewriter, loc,
        SelectOp::create(rewriter, loc, parts.onehot, parts.softmax.shifted,
                         zero),
        dims, /*keepdim=*/true);
    Value loss = SubOp::create(
        rewriter, loc, LogOp::create(rewriter, loc, parts.softmax.sum),
        picked);
    loss = SelectOp::create(rewriter, loc, parts.valid, loss, zero);
    // (N, 1) -> (N,): a sum over the unit dim keeps every dim static or not.
    loss = SumOp::create(rewriter, loc, loss, dims, /*keepdim=*/false);
    rewriter.replaceOp(op, toType(rewriter, loc, loss, op.getType()));
    return success();
  }
};

/// dx = g * softmax(x) - onehot(t) * g, g masked to 0 where t is not valid.
struct DecomposeCrossEntropyRowsBackward
    : OpRewritePattern<CrossEntropyRowsBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CrossEntropyRowsBackwardOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toComputeType(rewriter, loc, op.getLogits());
    CrossEntropyParts parts = buildCrossEntropyParts(
        rewriter, loc, x, op.getTarget(), op.getIgnoreIndex());
    Value zero = scalarLike(rewriter, loc, x, 0.0);
    Value gColumn =
        asColumn(rewriter, loc, toComputeType(rewriter, loc, op.getGrad()));
    gColumn = SelectOp::create(rewriter, loc, parts.valid, gColumn, zero);
    Value probabilities =
        DivOp::create(rewriter, loc, parts.softmax.exps, parts.softmax.sum);
    Value dx = SubOp::create(
        rewriter, loc, MulOp::create(rewriter, loc, gColumn, probabilities),
        SelectOp::create(rewriter, loc, parts.onehot, gColumn, zero));
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
                 DecomposeCrossEntropyRows, DecomposeCrossEntropyRowsBackward,
                 SwapTransposedMatmul>(&getContext());
    populateAttentionDecompositionPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      getOperation().emitError("ember-decompose did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
