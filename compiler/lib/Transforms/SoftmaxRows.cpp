//===- SoftmaxRows.cpp - softmax over the innermost dim, row by row --------===//
//
// `ember-decompose` turns softmax into max/sub/exp/sum/div, which streams
// the whole tensor through memory once per reduction and once more for the
// division. Over the innermost dim every row is contiguous, so a loop over
// rows can make all of its passes over one row while the row is in L1: the
// input is read from memory once and the output written once. The same
// holds for the backward composites (softmax_backward, log_softmax_backward).
// The loop over rows is an scf.forall (RowLoops.h): rows run in parallel.
// cross_entropy_rows and its backward (log_softmax and the pick of the
// target's column fused) are lowered the same way: the loss reads each row
// of logits once, and the gradient reads it once and writes it once.
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

#include <limits>

namespace ember {
#define GEN_PASS_DEF_EMBERSOFTMAXROWS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

/// Lowers softmax or log_softmax over the innermost dim to an scf.forall
/// over the rows (every dim but the last) whose body makes three passes
/// over one row:
///   1. m = max_j x[j]
///   2. s = sum_j exp(x[j] - m), softmax also storing each exp in out[j]
///   3. softmax: out[j] *= 1 / s; log_softmax: out[j] = (x[j] - m) - log(s)
/// Float sums carry `reassoc` so LLVM vectorizes them. f16 and bf16 compute
/// in f32; their softmax recomputes the exp in pass 3 instead of rounding it
/// to half precision before the scaling.
template <typename OpTy>
struct LowerSoftmaxRows : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  static constexpr bool isLog = std::is_same_v<OpTy, LogSoftmaxOp>;

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Value input = op.getInput();
    RankedTensorType type = op.getType();
    if (static_cast<int64_t>(op.getDim()) != type.getRank() - 1)
      return rewriter.notifyMatchFailure(op, "not over the innermost dim");
    Location loc = op.getLoc();
    rows::ElementAccess access(type.getElementType());
    bool storeExps = !isLog && !access.isHalf;
    Value n = rows::innermostSize(rewriter, loc, input);

    auto rowBody = [&](OpBuilder &b, Location l, ValueRange operandRows,
                       Value out) -> Value {
      Value x = operandRows[0];
      auto shiftedExp = [&](OpBuilder &lb, Location ll, Value column,
                            Value max) -> Value {
        Value shifted = arith::SubFOp::create(
            lb, ll, access.load(lb, ll, x, column), max);
        return math::ExpOp::create(lb, ll, shifted);
      };

      // maximumf propagates NaN, so a row holding NaN becomes all NaN, as
      // in torch.
      Value lowest =
          access.constant(b, l, -std::numeric_limits<double>::infinity());
      Value max = rows::buildColumnLoop(
          b, l, n, {lowest},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value element = access.load(lb, ll, x, column);
            return SmallVector<Value>{
                arith::MaximumFOp::create(lb, ll, acc[0], element)};
          })[0];

      SmallVector<Value> sumInits = {access.constant(b, l, 0)};
      if (storeExps)
        sumInits.push_back(out);
      SmallVector<Value> sumAndOut = rows::buildColumnLoop(
          b, l, n, sumInits,
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value e = shiftedExp(lb, ll, column, max);
            SmallVector<Value> next = {access.add(lb, ll, acc[0], e)};
            if (storeExps)
              next.push_back(access.store(lb, ll, e, acc[1], column));
            return next;
          });
      Value sum = sumAndOut[0];
      if (storeExps)
        out = sumAndOut[1];

      if (isLog) {
        Value logSum = math::LogOp::create(b, l, sum);
        return rows::buildColumnLoop(
            b, l, n, {out},
            [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
              Value shifted = arith::SubFOp::create(
                  lb, ll, access.load(lb, ll, x, column), max);
              Value result = arith::SubFOp::create(lb, ll, shifted, logSum);
              return SmallVector<Value>{
                  access.store(lb, ll, result, acc[0], column)};
            })[0];
      }
      // One division per row; a multiply per element is several times
      // cheaper than a divide and within an ulp of it.
      Value scale = arith::DivFOp::create(b, l, access.constant(b, l, 1), sum);
      return rows::buildColumnLoop(
          b, l, n, {out},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value e = storeExps ? access.load(lb, ll, acc[0], column)
                                : shiftedExp(lb, ll, column, max);
            Value result = arith::MulFOp::create(lb, ll, e, scale);
            return SmallVector<Value>{
                access.store(lb, ll, result, acc[0], column)};
          })[0];
    };

    rewriter.replaceOp(op, rows::buildRowsForall(rewriter, loc, {input},
                                                 type.getElementType(),
                                                 rowBody));
    return success();
  }
};

/// Lowers the backward composites over the innermost dim the same way, in
/// two passes over a row of the cotangent g and the forward result y:
///   softmax:     d = sum_j g[j] * y[j];  dx[j] = y[j] * (g[j] - d)
///   log_softmax: s = sum_j g[j];         dx[j] = g[j] - exp(y[j]) * s
template <typename OpTy>
struct LowerSoftmaxBackwardRows : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  static constexpr bool isLog = std::is_same_v<OpTy, LogSoftmaxBackwardOp>;

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getType();
    if (static_cast<int64_t>(op.getDim()) != type.getRank() - 1)
      return rewriter.notifyMatchFailure(op, "not over the innermost dim");
    Location loc = op.getLoc();
    rows::ElementAccess access(type.getElementType());
    Value n = rows::innermostSize(rewriter, loc, op.getGrad());

    auto rowBody = [&](OpBuilder &b, Location l, ValueRange operandRows,
                       Value out) -> Value {
      Value g = operandRows[0], y = operandRows[1];
      Value total = rows::buildColumnLoop(
          b, l, n, {access.constant(b, l, 0)},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value term = access.load(lb, ll, g, column);
            if (!isLog)
              term = arith::MulFOp::create(lb, ll, term,
                                           access.load(lb, ll, y, column));
            return SmallVector<Value>{access.add(lb, ll, acc[0], term)};
          })[0];
      return rows::buildColumnLoop(
          b, l, n, {out},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value gj = access.load(lb, ll, g, column);
            Value yj = access.load(lb, ll, y, column);
            Value result;
            if (isLog)
              result = arith::SubFOp::create(
                  lb, ll, gj,
                  arith::MulFOp::create(lb, ll, math::ExpOp::create(lb, ll, yj),
                                        total));
            else
              result = arith::MulFOp::create(
                  lb, ll, yj, arith::SubFOp::create(lb, ll, gj, total));
            return SmallVector<Value>{
                access.store(lb, ll, result, acc[0], column)};
          })[0];
    };

    rewriter.replaceOp(
        op, rows::buildRowsForall(rewriter, loc, {op.getGrad(), op.getOutput()},
                                  type.getElementType(), rowBody));
    return success();
  }
};

/// The parts of a cross-entropy row shared by the forward and backward
/// lowerings: the row's max and sum(exp(x - max)) (two loops over the row
/// while it is in L1; the sum `reassoc` so it vectorizes), and whether the
/// row's target is a class (in [0, C) and not `ignore_index`).
struct CrossEntropyRow {
  Value max;
  Value sum;
  Value valid;
  /// The target as an index: the class for a valid row, else 0 (forward,
  /// a safe column to read) or -1 (backward, a column no loop reaches).
  Value column;
};

static Value loadTarget(OpBuilder &b, Location loc, Value target, Value row) {
  return tensor::ExtractOp::create(b, loc, target, row);
}

static CrossEntropyRow
buildCrossEntropyRow(OpBuilder &b, Location l, const rows::ElementAccess &access,
                     Value x, Value n, Value target, int64_t ignoreIndex,
                     int64_t invalidColumn) {
  Value lowest =
      access.constant(b, l, -std::numeric_limits<double>::infinity());
  Value max = rows::buildColumnLoop(
      b, l, n, {lowest},
      [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
        return SmallVector<Value>{arith::MaximumFOp::create(
            lb, ll, acc[0], access.load(lb, ll, x, column))};
      })[0];
  Value sum = rows::buildColumnLoop(
      b, l, n, {access.constant(b, l, 0)},
      [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
        Value shifted = arith::SubFOp::create(
            lb, ll, access.load(lb, ll, x, column), max);
        return SmallVector<Value>{
            access.add(lb, ll, acc[0], math::ExpOp::create(lb, ll, shifted))};
      })[0];
  Type i64 = b.getI64Type();
  Value classes = arith::IndexCastOp::create(b, l, i64, n);
  Value zero = arith::ConstantIntOp::create(b, l, i64, 0);
  Value ignored = arith::ConstantIntOp::create(b, l, i64, ignoreIndex);
  Value valid = arith::AndIOp::create(
      b, l,
      arith::AndIOp::create(
          b, l,
          arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, target, zero),
          arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, target,
                                classes)),
      arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, target, ignored));
  Value fallback = arith::ConstantIntOp::create(b, l, i64, invalidColumn);
  Value column = arith::IndexCastOp::create(
      b, l, b.getIndexType(),
      arith::SelectOp::create(b, l, valid, target, fallback));
  return {max, sum, valid, column};
}

/// Lowers cross_entropy_rows ((N, C) logits -> (N,) losses) to an
/// scf.forall over the rows, each making two passes over its row of logits
/// (max, then sum of exp) and writing one loss:
///   loss = log(s) - (x[t] - m), 0 for a row without a valid class.
struct LowerCrossEntropyRows : OpRewritePattern<CrossEntropyRowsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CrossEntropyRowsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value logits = op.getLogits(), target = op.getTarget();
    RankedTensorType type = op.getType();
    rows::ElementAccess access(type.getElementType());
    Value n = rows::innermostSize(rewriter, loc, logits);
    int64_t ignoreIndex = op.getIgnoreIndex();

    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, logits);
    Value init = tensor::EmptyOp::create(rewriter, loc,
                                         ArrayRef<OpFoldResult>{sizes[0]},
                                         type.getElementType());
    auto forall = scf::ForallOp::create(rewriter, loc,
                                        ArrayRef<OpFoldResult>{sizes[0]},
                                        ValueRange{init}, std::nullopt);
    OpBuilder::InsertionGuard guard(rewriter);
    OpBuilder &b = rewriter;
    b.setInsertionPointToStart(forall.getBody());
    Value i = forall.getInductionVars()[0];
    OpFoldResult one = b.getIndexAttr(1), zeroAttr = b.getIndexAttr(0);
    auto rowType = RankedTensorType::get(
        {cast<RankedTensorType>(logits.getType()).getShape().back()},
        access.elementType);
    Value x = tensor::ExtractSliceOp::create(
        b, loc, rowType, logits, ArrayRef<OpFoldResult>{i, zeroAttr},
        ArrayRef<OpFoldResult>{one, sizes[1]},
        ArrayRef<OpFoldResult>{one, one});
    CrossEntropyRow row =
        buildCrossEntropyRow(b, loc, access, x, n, loadTarget(b, loc, target, i),
                             ignoreIndex, /*invalidColumn=*/0);
    Value picked = arith::SubFOp::create(
        b, loc, access.load(b, loc, x, row.column), row.max);
    Value loss = arith::SubFOp::create(
        b, loc, math::LogOp::create(b, loc, row.sum), picked);
    loss = arith::SelectOp::create(b, loc, row.valid, loss,
                                   access.constant(b, loc, 0));
    Value shared = forall.getRegionIterArgs().front();
    auto slotType = RankedTensorType::get({1}, access.elementType);
    Value slot = tensor::ExtractSliceOp::create(
        b, loc, slotType, shared, ArrayRef<OpFoldResult>{i},
        ArrayRef<OpFoldResult>{one}, ArrayRef<OpFoldResult>{one});
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    slot = access.store(b, loc, loss, slot, c0);
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(
        b, loc, slot, shared, ArrayRef<OpFoldResult>{i},
        ArrayRef<OpFoldResult>{one}, ArrayRef<OpFoldResult>{one});
    rewriter.replaceOp(op, forall.getResult(0));
    return success();
  }
};

/// Lowers cross_entropy_rows_backward row by row: the forward's two passes
/// (max, sum), then dx[j] = g' * (exp(x[j] - m) / s - (j == t)), g' the
/// row's cotangent or 0 for a row without a valid class. The row stays in
/// L1 across the passes: logits read from memory once, dx written once.
struct LowerCrossEntropyRowsBackward
    : OpRewritePattern<CrossEntropyRowsBackwardOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CrossEntropyRowsBackwardOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    rows::ElementAccess access(type.getElementType());
    Value n = rows::innermostSize(rewriter, loc, op.getLogits());
    Value grad = op.getGrad(), target = op.getTarget();
    int64_t ignoreIndex = op.getIgnoreIndex();

    auto rowBody = [&](OpBuilder &b, Location l, ValueRange rowIndices,
                       ValueRange operandRows, Value out) -> Value {
      Value x = operandRows[0];
      Value i = rowIndices[0];
      CrossEntropyRow row =
          buildCrossEntropyRow(b, l, access, x, n, loadTarget(b, l, target, i),
                               ignoreIndex, /*invalidColumn=*/-1);
      Value g = arith::SelectOp::create(b, l, row.valid,
                                        access.load(b, l, grad, i),
                                        access.constant(b, l, 0));
      Value scale = arith::DivFOp::create(b, l, access.constant(b, l, 1),
                                          row.sum);
      Value zero = access.constant(b, l, 0), one = access.constant(b, l, 1);
      return rows::buildColumnLoop(
          b, l, n, {out},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value shifted = arith::SubFOp::create(
                lb, ll, access.load(lb, ll, x, column), row.max);
            Value p = arith::MulFOp::create(
                lb, ll, math::ExpOp::create(lb, ll, shifted), scale);
            Value isTarget = arith::CmpIOp::create(
                lb, ll, arith::CmpIPredicate::eq, column, row.column);
            Value hot = arith::SelectOp::create(lb, ll, isTarget, one, zero);
            Value result = arith::MulFOp::create(
                lb, ll, g, arith::SubFOp::create(lb, ll, p, hot));
            return SmallVector<Value>{
                access.store(lb, ll, result, acc[0], column)};
          })[0];
    };

    rewriter.replaceOp(op, rows::buildIndexedRowsForall(
                               rewriter, loc, {op.getLogits()},
                               type.getElementType(), rowBody));
    return success();
  }
};

struct EmberSoftmaxRowsPass
    : ember::impl::EmberSoftmaxRowsBase<EmberSoftmaxRowsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerSoftmaxRows<SoftmaxOp>, LowerSoftmaxRows<LogSoftmaxOp>,
                 LowerSoftmaxBackwardRows<SoftmaxBackwardOp>,
                 LowerSoftmaxBackwardRows<LogSoftmaxBackwardOp>,
                 LowerCrossEntropyRows, LowerCrossEntropyRowsBackward>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
