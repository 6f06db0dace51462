//===- SoftmaxRows.cpp - softmax over the innermost dim, row by row --------===//
//
// `ember-decompose` turns softmax into max/sub/exp/sum/div, which streams
// the whole tensor through memory once per reduction and once more for the
// division. Over the innermost dim every row is contiguous, so a loop over
// rows can make all of its passes over one row while the row is in L1: the
// input is read from memory once and the output written once.
//
//===----------------------------------------------------------------------===//

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

/// The body of one loop over a row: gets the column index and the loop's
/// carried values, returns the values to carry on.
using RowBodyFn = llvm::function_ref<SmallVector<Value>(
    OpBuilder &, Location, Value column, ValueRange carried)>;

/// `scf.for %j = 0 to %n` carrying `inits`; returns the final values.
SmallVector<Value> buildRowLoop(OpBuilder &b, Location loc, Value n,
                                ValueRange inits, RowBodyFn body) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, zero, n, one, inits,
      [&](OpBuilder &nb, Location nl, Value column, ValueRange carried) {
        scf::YieldOp::create(nb, nl, body(nb, nl, column, carried));
      });
  return SmallVector<Value>(loop.getResults());
}

/// Lowers softmax or log_softmax over the innermost dim to a loop nest over
/// the rows (every dim but the last) whose body makes three passes over one
/// row:
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
    int64_t rank = type.getRank();
    if (op.getDim() != rank - 1)
      return rewriter.notifyMatchFailure(op, "not over the innermost dim");
    Location loc = op.getLoc();
    Type elementType = type.getElementType();
    bool isHalf = elementType.isF16() || elementType.isBF16();
    auto computeType =
        cast<FloatType>(isHalf ? rewriter.getF32Type() : elementType);
    bool storeExps = !isLog && !isHalf;

    SmallVector<Value> sizes, dynamicSizes;
    for (int64_t i = 0; i < rank; ++i) {
      Value size = type.isDynamicDim(i)
                       ? tensor::DimOp::create(rewriter, loc, input, i)
                             .getResult()
                       : arith::ConstantIndexOp::create(rewriter, loc,
                                                        type.getDimSize(i))
                             .getResult();
      sizes.push_back(size);
      if (type.isDynamicDim(i))
        dynamicSizes.push_back(size);
    }
    Value n = sizes.back();
    Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                         elementType, dynamicSizes);
    auto floatConst = [&](OpBuilder &b, Location l, double value) -> Value {
      return arith::ConstantOp::create(b, l,
                                       b.getFloatAttr(computeType, value));
    };

    auto rowBody = [&](OpBuilder &b, Location l, ValueRange rowIndex,
                       ValueRange carried) -> scf::ValueVector {
      auto position = [&](Value column) {
        SmallVector<Value> indices(rowIndex);
        indices.push_back(column);
        return indices;
      };
      auto load = [&](OpBuilder &lb, Location ll, Value tensor,
                      Value column) -> Value {
        Value element =
            tensor::ExtractOp::create(lb, ll, tensor, position(column));
        if (!isHalf)
          return element;
        return arith::ExtFOp::create(lb, ll, computeType, element);
      };
      auto store = [&](OpBuilder &lb, Location ll, Value value, Value tensor,
                       Value column) -> Value {
        if (isHalf)
          value = arith::TruncFOp::create(lb, ll, elementType, value);
        return tensor::InsertOp::create(lb, ll, value, tensor,
                                        position(column));
      };
      auto shiftedExp = [&](OpBuilder &lb, Location ll, Value column,
                            Value max) -> Value {
        Value shifted =
            arith::SubFOp::create(lb, ll, load(lb, ll, input, column), max);
        return math::ExpOp::create(lb, ll, shifted);
      };

      // maximumf propagates NaN, so a row holding NaN becomes all NaN, as
      // in torch.
      Value lowest =
          floatConst(b, l, -std::numeric_limits<double>::infinity());
      Value max = buildRowLoop(
          b, l, n, {lowest},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value x = load(lb, ll, input, column);
            return SmallVector<Value>{
                arith::MaximumFOp::create(lb, ll, acc[0], x)};
          })[0];

      SmallVector<Value> sumInits = {floatConst(b, l, 0)};
      if (storeExps)
        sumInits.push_back(carried[0]);
      SmallVector<Value> sumAndOut = buildRowLoop(
          b, l, n, sumInits,
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value e = shiftedExp(lb, ll, column, max);
            SmallVector<Value> next = {arith::AddFOp::create(
                lb, ll, acc[0], e, arith::FastMathFlags::reassoc)};
            if (storeExps)
              next.push_back(store(lb, ll, e, acc[1], column));
            return next;
          });
      Value sum = sumAndOut[0];
      Value out = storeExps ? sumAndOut[1] : carried[0];

      if (isLog) {
        Value logSum = math::LogOp::create(b, l, sum);
        return buildRowLoop(
            b, l, n, {out},
            [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
              Value shifted = arith::SubFOp::create(
                  lb, ll, load(lb, ll, input, column), max);
              Value result = arith::SubFOp::create(lb, ll, shifted, logSum);
              return SmallVector<Value>{store(lb, ll, result, acc[0], column)};
            });
      }
      // One division per row; a multiply per element is several times
      // cheaper than a divide and within an ulp of it.
      Value scale = arith::DivFOp::create(b, l, floatConst(b, l, 1), sum);
      return buildRowLoop(
          b, l, n, {out},
          [&](OpBuilder &lb, Location ll, Value column, ValueRange acc) {
            Value e = storeExps
                          ? load(lb, ll, acc[0], column)
                          : shiftedExp(lb, ll, column, max);
            Value result = arith::MulFOp::create(lb, ll, e, scale);
            return SmallVector<Value>{store(lb, ll, result, acc[0], column)};
          });
    };

    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    SmallVector<Value> lbs(rank - 1, zero), steps(rank - 1, one);
    SmallVector<Value> ubs(ArrayRef<Value>(sizes).drop_back());
    scf::LoopNest nest = scf::buildLoopNest(rewriter, loc, lbs, ubs, steps,
                                            ValueRange{init}, rowBody);
    rewriter.replaceOp(op, nest.results);
    return success();
  }
};

struct EmberSoftmaxRowsPass
    : ember::impl::EmberSoftmaxRowsBase<EmberSoftmaxRowsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerSoftmaxRows<SoftmaxOp>, LowerSoftmaxRows<LogSoftmaxOp>>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
