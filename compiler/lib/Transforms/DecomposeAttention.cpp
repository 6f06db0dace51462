//===- DecomposeAttention.cpp - attention as matmul and softmax primitives ===//
//
// ember-decompose's rules for ember.attention and ember.attention_backward
// on the targets without the CPU's blocked kernel (the GPUs, and f16/bf16
// on the CPU): the L x S scores as a matmul, the softmax written out with
// the row max and sum, the backward from the recomputed weights
// P = exp(scores - logsumexp). f16 and bf16 compute in f32.
//
//===----------------------------------------------------------------------===//

#include "DecomposeAttention.h"

#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace ember;

namespace {

RankedTensorType typeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

Value toCompute(PatternRewriter &rewriter, Location loc, Value value) {
  if (!value)
    return value;
  RankedTensorType type = typeOf(value);
  if (!type.getElementType().isF16() && !type.getElementType().isBF16())
    return value;
  return ember::CastOp::create(rewriter, loc,
                               type.clone(rewriter.getF32Type()), value);
}

/// `value` as exactly `type`: its element type converted, then its shape
/// restated (inference may know a dim statically that `type` does not).
Value toType(PatternRewriter &rewriter, Location loc, Value value, Type type) {
  auto target = cast<RankedTensorType>(type);
  RankedTensorType valueType = typeOf(value);
  if (valueType.getElementType() != target.getElementType())
    value = ember::CastOp::create(
        rewriter, loc, valueType.clone(target.getElementType()), value);
  if (value.getType() != type)
    value = tensor::CastOp::create(rewriter, loc, type, value);
  return value;
}

Value scalarLike(PatternRewriter &rewriter, Location loc, Value like,
                 double value) {
  Type element = typeOf(like).getElementType();
  auto type = RankedTensorType::get({}, element);
  return ember::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(type, rewriter.getFloatAttr(element, value)));
}

Value transposeLast(PatternRewriter &rewriter, Location loc, Value value) {
  int64_t rank = typeOf(value).getRank();
  SmallVector<int64_t> perm;
  for (int64_t i = 0; i < rank - 2; ++i)
    perm.push_back(i);
  perm.append({rank - 1, rank - 2});
  return TransposeOp::create(rewriter, loc, value, perm);
}

/// `[1..., L, S]` of 0 where key j <= query i and -inf elsewhere (the
/// causal mask; binary ops broadcast its static 1s), written by a
/// linalg.generic from the positions: L and S may be dynamic.
Value buildCausalMask(PatternRewriter &rewriter, Location loc, Value scores) {
  RankedTensorType scoresType = typeOf(scores);
  int64_t rank = scoresType.getRank();
  SmallVector<int64_t> shape(rank - 2, 1);
  shape.push_back(scoresType.getDimSize(rank - 2));
  shape.push_back(scoresType.getDimSize(rank - 1));
  Type element = scoresType.getElementType();
  auto type = RankedTensorType::get(shape, element);
  SmallVector<Value> sizes;
  for (int64_t d = rank - 2; d < rank; ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(tensor::DimOp::create(rewriter, loc, scores, d));
  Value empty = tensor::EmptyOp::create(rewriter, loc, shape, element, sizes);
  AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> parallel(rank,
                                            utils::IteratorType::parallel);
  double negInf = -std::numeric_limits<double>::infinity();
  return linalg::GenericOp::create(
             rewriter, loc, TypeRange{type}, ValueRange{}, ValueRange{empty},
             ArrayRef<AffineMap>{identity}, parallel,
             [&](OpBuilder &b, Location l, ValueRange) {
               Value i = linalg::IndexOp::create(b, l, rank - 2);
               Value j = linalg::IndexOp::create(b, l, rank - 1);
               Value above =
                   arith::CmpIOp::create(b, l, arith::CmpIPredicate::ugt, j, i);
               Value masked = arith::ConstantOp::create(
                   b, l, b.getFloatAttr(element, negInf));
               Value kept =
                   arith::ConstantOp::create(b, l, b.getFloatAttr(element, 0));
               linalg::YieldOp::create(
                   b, l,
                   ValueRange{arith::SelectOp::create(b, l, above, masked,
                                                      kept)});
             })
      .getResult(0);
}

/// q @ k^T * scale (+ mask) (+ the causal mask), in the compute type.
Value buildScores(PatternRewriter &rewriter, Location loc, Value q, Value k,
                  Value mask, double scale, bool causal) {
  Value scores = MulOp::create(
      rewriter, loc, MatmulOp::create(rewriter, loc, q, transposeLast(rewriter, loc, k)),
      scalarLike(rewriter, loc, q, scale));
  if (mask)
    scores = AddOp::create(rewriter, loc, scores, mask);
  if (causal)
    scores = AddOp::create(rewriter, loc, scores,
                           buildCausalMask(rewriter, loc, scores));
  return scores;
}

/// `value` [..., L, 1] as [..., L] of `type` (or the reverse), with the
/// dynamic sizes taken from `sizesOf` (whose leading dims match).
Value reshapeTo(PatternRewriter &rewriter, Location loc, Value value,
                RankedTensorType type, Value sizesOf) {
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(tensor::DimOp::create(rewriter, loc, sizesOf, d));
  return ReshapeOp::create(rewriter, loc, type, value, sizes);
}

/// The logsumexp [..., L] as a column [..., L, 1] of `element`.
Value lseColumn(PatternRewriter &rewriter, Location loc, Value lse,
                Type element) {
  RankedTensorType type = typeOf(lse);
  SmallVector<int64_t> shape(type.getShape());
  shape.push_back(1);
  return reshapeTo(rewriter, loc, lse, RankedTensorType::get(shape, element),
                   lse);
}

struct DecomposeAttention : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value q = toCompute(rewriter, loc, op.getQuery());
    Value k = toCompute(rewriter, loc, op.getKey());
    Value v = toCompute(rewriter, loc, op.getValue());
    Value mask = toCompute(rewriter, loc, op.getMask());
    Value scores = buildScores(rewriter, loc, q, k, mask,
                               op.getScale().convertToDouble(), op.getCausal());
    int64_t last = typeOf(scores).getRank() - 1;
    SmallVector<int64_t> dims = {last};
    Value max = MaxOp::create(rewriter, loc, scores, dims, /*keepdim=*/true);
    Value exps =
        ExpOp::create(rewriter, loc, SubOp::create(rewriter, loc, scores, max));
    Value sum = SumOp::create(rewriter, loc, exps, dims, /*keepdim=*/true);
    Value weights = DivOp::create(rewriter, loc, exps, sum);
    Value out = MatmulOp::create(rewriter, loc, weights, v);
    Value lse = AddOp::create(rewriter, loc, max,
                              LogOp::create(rewriter, loc, sum));
    RankedTensorType lseType = op.getLogsumexp().getType();
    lse = reshapeTo(rewriter, loc, lse,
                    lseType.clone(typeOf(lse).getElementType()), q);
    rewriter.replaceOp(op, {toType(rewriter, loc, out, op.getResult().getType()),
                            toType(rewriter, loc, lse, lseType)});
    return success();
  }
};

struct DecomposeAttentionBackward : OpRewritePattern<AttentionBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionBackwardOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value g = toCompute(rewriter, loc, op.getGrad());
    Value q = toCompute(rewriter, loc, op.getQuery());
    Value k = toCompute(rewriter, loc, op.getKey());
    Value v = toCompute(rewriter, loc, op.getValue());
    Value out = toCompute(rewriter, loc, op.getOutput());
    Value lse = toCompute(rewriter, loc, op.getLogsumexp());
    Value mask = toCompute(rewriter, loc, op.getMask());
    double scale = op.getScale().convertToDouble();
    Value scores = buildScores(rewriter, loc, q, k, mask, scale, op.getCausal());
    Type element = typeOf(scores).getElementType();
    Value p = ExpOp::create(
        rewriter, loc,
        SubOp::create(rewriter, loc, scores,
                      lseColumn(rewriter, loc, lse, element)));
    int64_t last = typeOf(scores).getRank() - 1;
    SmallVector<int64_t> dims = {last};
    Value dv = MatmulOp::create(rewriter, loc, transposeLast(rewriter, loc, p), g);
    Value dp = MatmulOp::create(rewriter, loc, g, transposeLast(rewriter, loc, v));
    Value rowDot = SumOp::create(rewriter, loc, MulOp::create(rewriter, loc, g, out),
                                 dims, /*keepdim=*/true);
    Value ds = MulOp::create(rewriter, loc, p,
                             SubOp::create(rewriter, loc, dp, rowDot));
    Value scaleValue = scalarLike(rewriter, loc, ds, scale);
    Value dq = MulOp::create(rewriter, loc, MatmulOp::create(rewriter, loc, ds, k),
                             scaleValue);
    Value dk = MulOp::create(
        rewriter, loc,
        MatmulOp::create(rewriter, loc, transposeLast(rewriter, loc, ds), q),
        scaleValue);
    rewriter.replaceOp(
        op, {toType(rewriter, loc, dq, op.getGradQuery().getType()),
             toType(rewriter, loc, dk, op.getGradKey().getType()),
             toType(rewriter, loc, dv, op.getGradValue().getType())});
    return success();
  }
};

} // namespace

void ember::populateAttentionDecompositionPatterns(RewritePatternSet &patterns) {
  patterns.add<DecomposeAttention, DecomposeAttentionBackward>(
      patterns.getContext());
}
