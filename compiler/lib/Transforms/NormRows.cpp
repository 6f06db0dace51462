//===- NormRows.cpp - layer norm and RMS norm, row by row ------------------===//
//
// `ember-decompose` turns a normalisation into means, subtractions and
// products, each a trip through memory. Every row is contiguous and small
// enough to stay in L1, so a loop over the rows can make all of its passes
// over one row in cache: the input (and the cotangent, backward) is read
// from memory once and the result written once. Row statistics are two
// passes in cache (the mean, then the centred squares), as accurate as
// torch's and without Welford's per-element divisions; sums carry
// `reassoc` so LLVM vectorizes them along the row. The loop over rows is an
// scf.forall (RowLoops.h): rows run in parallel.
//
//===----------------------------------------------------------------------===//

#include "RowLoops.h"

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ember {
#define GEN_PASS_DEF_EMBERNORMROWS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

/// One row's statistics: the mean subtracted before scaling (zero for RMS
/// norm) and 1 / sqrt(var + eps) (RMS norm: 1 / sqrt(mean(x^2) + eps)).
struct RowStats {
  Value shift;
  Value rstd;
};

/// What a row lowering needs besides the rows: the row length, its inverse
/// and eps in the compute type.
struct RowContext {
  const rows::ElementAccess &access;
  Value n;
  Value inverseN;
  Value eps;
  bool centred;
};

/// Layer norm: the mean (one pass), then the mean of the centred squares
/// (a second pass, the row still in L1). RMS norm: the mean of the squares.
RowStats buildRowStats(OpBuilder &b, Location l, const RowContext &ctx,
                       Value x) {
  const rows::ElementAccess &access = ctx.access;
  Value zero = access.constant(b, l, 0);
  Value shift = zero;
  if (ctx.centred) {
    Value sum = rows::buildColumnLoop(
        b, l, ctx.n, {zero},
        [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
          return SmallVector<Value>{
              access.add(lb, ll, acc[0], access.load(lb, ll, x, column))};
        })[0];
    shift = arith::MulFOp::create(b, l, sum, ctx.inverseN);
  }
  Value squares = rows::buildColumnLoop(
      b, l, ctx.n, {zero},
      [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
        Value centred = access.load(lb, ll, x, column);
        if (ctx.centred)
          centred = arith::SubFOp::create(lb, ll, centred, shift);
        Value square = arith::MulFOp::create(lb, ll, centred, centred);
        return SmallVector<Value>{access.add(lb, ll, acc[0], square)};
      })[0];
  Value variance = arith::MulFOp::create(b, l, squares, ctx.inverseN);
  // Once per row: an exact 1 / sqrt, not an approximate rsqrt.
  Value rstd = arith::DivFOp::create(
      b, l, ctx.access.constant(b, l, 1),
      math::SqrtOp::create(b, l, arith::AddFOp::create(b, l, variance, ctx.eps)));
  return {shift, rstd};
}

template <typename OpTy>
RowContext makeContext(OpBuilder &b, Location loc, OpTy op, Value input,
                       const rows::ElementAccess &access, bool centred) {
  Value n = rows::innermostSize(b, loc, input);
  Value inverseN = arith::DivFOp::create(b, loc, access.constant(b, loc, 1),
                                         access.count(b, loc, n));
  Value eps = access.constant(b, loc, op.getEps().convertToDouble());
  return {access, n, inverseN, eps, centred};
}

/// Lowers layer_norm / rms_norm: the row's statistics (RowStats), then
/// out[j] = (x[j] - shift) * rstd (* weight[j]) (+ bias[j]).
template <typename OpTy>
struct LowerNormRows : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  static constexpr bool centred = std::is_same_v<OpTy, LayerNormOp>;

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    rows::ElementAccess access(type.getElementType());
    Value weight = op.getWeight(), bias = op.getBias();
    RowContext ctx =
        makeContext(rewriter, loc, op, op.getInput(), access, centred);

    auto rowBody = [&](OpBuilder &b, Location l, ValueRange operandRows,
                       Value out) -> Value {
      Value x = operandRows[0];
      RowStats stats = buildRowStats(b, l, ctx, x);
      return rows::buildColumnLoop(
          b, l, ctx.n, {out},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value value = access.load(lb, ll, x, column);
            if (centred)
              value = arith::SubFOp::create(lb, ll, value, stats.shift);
            value = arith::MulFOp::create(lb, ll, value, stats.rstd);
            if (weight)
              value = arith::MulFOp::create(
                  lb, ll, value, access.load(lb, ll, weight, column));
            if (bias)
              value = arith::AddFOp::create(lb, ll, value,
                                            access.load(lb, ll, bias, column));
            return SmallVector<Value>{
                access.store(lb, ll, value, acc[0], column)};
          })[0];
    };
    rewriter.replaceOp(op, rows::buildRowsForall(rewriter, loc,
                                                 {op.getInput()},
                                                 type.getElementType(),
                                                 rowBody));
    return success();
  }
};

/// Lowers layer_norm_backward / rms_norm_backward. With gw = g * weight and
/// xhat = (x - shift) * rstd, dx = rstd * (gw - mean(gw) - xhat *
/// mean(gw * xhat)) (RMS norm without mean(gw)). The row's statistics are
/// recomputed (RowStats); one more pass sums gw and gw * (x - shift)
/// (mean(gw * xhat) = rstd * mean(gw * (x - shift))); the last writes dx.
template <typename OpTy>
struct LowerNormBackwardRows : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  static constexpr bool centred = std::is_same_v<OpTy, LayerNormBackwardOp>;

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    rows::ElementAccess access(type.getElementType());
    Value weight = op.getWeight();
    RowContext ctx =
        makeContext(rewriter, loc, op, op.getInput(), access, centred);

    auto rowBody = [&](OpBuilder &b, Location l, ValueRange operandRows,
                       Value out) -> Value {
      Value g = operandRows[0], x = operandRows[1];
      RowStats stats = buildRowStats(b, l, ctx, x);
      auto scaledGrad = [&](OpBuilder &lb, Location ll, Value column) {
        Value gw = access.load(lb, ll, g, column);
        if (weight)
          gw = arith::MulFOp::create(lb, ll, gw,
                                     access.load(lb, ll, weight, column));
        return gw;
      };
      auto centredInput = [&](OpBuilder &lb, Location ll, Value column) {
        Value value = access.load(lb, ll, x, column);
        if (centred)
          value = arith::SubFOp::create(lb, ll, value, stats.shift);
        return value;
      };
      Value zero = access.constant(b, l, 0);
      SmallVector<Value> sums = rows::buildColumnLoop(
          b, l, ctx.n, {zero, zero},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value gw = scaledGrad(lb, ll, column);
            Value product = arith::MulFOp::create(
                lb, ll, gw, centredInput(lb, ll, column));
            return SmallVector<Value>{access.add(lb, ll, acc[0], gw),
                                      access.add(lb, ll, acc[1], product)};
          });
      // dx = rstd * gw - rstd * mean(gw) - (x - shift) * rstd^3 *
      //      mean(gw * (x - shift)), with the per-row factors hoisted.
      Value meanGw = arith::MulFOp::create(b, l, sums[0], ctx.inverseN);
      Value meanProduct = arith::MulFOp::create(b, l, sums[1], ctx.inverseN);
      Value rstd = stats.rstd;
      Value rstdCubed = arith::MulFOp::create(
          b, l, rstd, arith::MulFOp::create(b, l, rstd, rstd));
      Value projection = arith::MulFOp::create(b, l, rstdCubed, meanProduct);
      Value offset = arith::MulFOp::create(b, l, rstd, meanGw);
      return rows::buildColumnLoop(
          b, l, ctx.n, {out},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value dx = arith::MulFOp::create(lb, ll, rstd,
                                             scaledGrad(lb, ll, column));
            dx = arith::SubFOp::create(
                lb, ll, dx,
                arith::MulFOp::create(lb, ll, centredInput(lb, ll, column),
                                      projection));
            if (centred)
              dx = arith::SubFOp::create(lb, ll, dx, offset);
            return SmallVector<Value>{access.store(lb, ll, dx, acc[0], column)};
          })[0];
    };
    rewriter.replaceOp(
        op, rows::buildRowsForall(rewriter, loc, {op.getGrad(), op.getInput()},
                                  type.getElementType(), rowBody));
    return success();
  }
};

struct EmberNormRowsPass : ember::impl::EmberNormRowsBase<EmberNormRowsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerNormRows<LayerNormOp>, LowerNormRows<RmsNormOp>,
                 LowerNormBackwardRows<LayerNormBackwardOp>,
                 LowerNormBackwardRows<RmsNormBackwardOp>>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
