//===- EmberToLinalg.cpp - lower ember ops to linalg/tensor/arith/math -----===//
//
// Element-wise ops and broadcasts become linalg.generic; reductions become
// linalg.generic reductions; matmul becomes linalg.matmul/batch_matmul; shape
// ops become tensor ops. Half-precision ops are first rewritten at the ember
// level to compute in f32, so every lowering below sees f32/f64/i32/i64/i1.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "ember/Dialect/Shapes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <limits>

namespace ember {
#define GEN_PASS_DEF_CONVERTEMBERTOLINALG
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

using ScalarFn =
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange args)>;

RankedTensorType tensorTypeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

bool isHalf(Type type) { return type.isF16() || type.isBF16(); }

Value indexConst(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value scalarConst(OpBuilder &b, Location loc, Type type, double value) {
  if (auto floatType = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(floatType, value));
  return arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(type, static_cast<int64_t>(value)));
}

/// The size of dim `dim` of `value` as an OpFoldResult (static when known).
OpFoldResult dimSize(OpBuilder &b, Location loc, Value value, int64_t dim) {
  int64_t size = tensorTypeOf(value).getDimSize(dim);
  if (!ShapedType::isDynamic(size))
    return b.getIndexAttr(size);
  return tensor::DimOp::create(b, loc, value, dim).getResult();
}

Value dimValue(OpBuilder &b, Location loc, Value value, int64_t dim) {
  return getValueOrCreateConstantIndexOp(b, loc, dimSize(b, loc, value, dim));
}

/// The indexing map that reads `inputType` inside a loop nest over
/// `resultType`: dims align from the right, a static 1 reads index 0.
AffineMap broadcastMap(RankedTensorType inputType, RankedTensorType resultType,
                       MLIRContext *ctx) {
  int64_t rank = resultType.getRank();
  int64_t lead = rank - inputType.getRank();
  SmallVector<AffineExpr> exprs;
  for (int64_t j = 0; j < inputType.getRank(); ++j) {
    bool stretched = inputType.getDimSize(j) == 1 &&
                     resultType.getDimSize(lead + j) != 1;
    exprs.push_back(stretched ? getAffineConstantExpr(0, ctx)
                              : getAffineDimExpr(lead + j, ctx));
  }
  return AffineMap::get(rank, 0, exprs, ctx);
}

/// Dynamic result sizes of a broadcast: a dynamic result dim always has an
/// operand whose aligned dim is dynamic (a `?` never broadcasts), so read it.
SmallVector<Value> broadcastDynamicSizes(OpBuilder &b, Location loc,
                                         RankedTensorType resultType,
                                         ValueRange inputs) {
  SmallVector<Value> sizes;
  int64_t rank = resultType.getRank();
  for (int64_t i = 0; i < rank; ++i) {
    if (!resultType.isDynamicDim(i))
      continue;
    Value size;
    for (Value input : inputs) {
      RankedTensorType type = tensorTypeOf(input);
      int64_t j = i - (rank - type.getRank());
      if (j >= 0 && type.isDynamicDim(j)) {
        size = tensor::DimOp::create(b, loc, input, j);
        break;
      }
    }
    assert(size && "dynamic result dim without a dynamic operand dim");
    sizes.push_back(size);
  }
  return sizes;
}

/// A parallel linalg.generic over `resultType` applying `fn` to the
/// broadcast elements of `inputs`.
Value buildElementwise(OpBuilder &b, Location loc, RankedTensorType resultType,
                       ValueRange inputs, ScalarFn fn,
                       ArrayRef<Value> dynamicSizes = {}) {
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value input : inputs)
    maps.push_back(broadcastMap(tensorTypeOf(input), resultType, ctx));
  maps.push_back(AffineMap::getMultiDimIdentityMap(resultType.getRank(), ctx));
  SmallVector<Value> sizes(dynamicSizes);
  if (sizes.empty())
    sizes = broadcastDynamicSizes(b, loc, resultType, inputs);
  Value init = tensor::EmptyOp::create(b, loc, resultType.getShape(),
                                       resultType.getElementType(), sizes);
  SmallVector<utils::IteratorType> iterators(resultType.getRank(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{resultType}, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value result = fn(nb, nl, args.drop_back());
        linalg::YieldOp::create(nb, nl, result);
      });
  return generic.getResult(0);
}

//===----------------------------------------------------------------------===//
// Half precision: compute in f32
//===----------------------------------------------------------------------===//

/// Ops that compute on element values (as opposed to moving them).
bool computesOnValues(Operation *op) {
  if (isa<ElementwiseOpInterface>(op))
    return !isa<CastOp, SelectOp>(op);
  return isa<ScatterAddOp, SumOp, MeanOp, MaxOp, MinOp, ArgmaxOp, ArgminOp,
             MatmulOp>(op);
}

/// Rewrites each computing op on f16/bf16 into cast -> f32 op -> cast, so
/// accumulations happen in f32. Fusion later folds the casts into loops.
void widenHalfPrecision(func::FuncOp func) {
  SmallVector<Operation *> worklist;
  func.walk([&](Operation *op) {
    if (!computesOnValues(op))
      return;
    auto hasHalf = [](Type t) {
      return isHalf(cast<RankedTensorType>(t).getElementType());
    };
    if (llvm::any_of(op->getOperandTypes(), hasHalf) ||
        llvm::any_of(op->getResultTypes(), hasHalf))
      worklist.push_back(op);
  });
  for (Operation *op : worklist) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    auto widen = [&](Type t) {
      auto type = cast<RankedTensorType>(t);
      return isHalf(type.getElementType()) ? type.clone(b.getF32Type()) : type;
    };
    SmallVector<Value> wideOperands;
    for (Value operand : op->getOperands()) {
      Type wideType = widen(operand.getType());
      wideOperands.push_back(wideType == operand.getType()
                                 ? operand
                                 : CastOp::create(b, loc, wideType, operand));
    }
    Operation *wide = b.clone(*op);
    wide->setOperands(wideOperands);
    for (auto [oldResult, newResult] :
         llvm::zip(op->getResults(), wide->getResults())) {
      Type narrowType = oldResult.getType();
      newResult.setType(widen(narrowType));
      Value replacement = newResult;
      if (newResult.getType() != narrowType)
        replacement = CastOp::create(b, loc, narrowType, newResult);
      oldResult.replaceAllUsesWith(replacement);
    }
    op->erase();
  }
}

//===----------------------------------------------------------------------===//
// Element-wise patterns
//===----------------------------------------------------------------------===//

/// One linalg.generic over the result shape for every element-wise op, its
/// body the op's scalar computation.
struct LowerElementwise : OpInterfaceRewritePattern<ElementwiseOpInterface> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;
  LogicalResult matchAndRewrite(ElementwiseOpInterface op,
                                PatternRewriter &rewriter) const override {
    Value result = buildElementwise(
        rewriter, op->getLoc(), cast<RankedTensorType>(op->getResult(0).getType()),
        op->getOperands(), [&](OpBuilder &b, Location loc, ValueRange args) {
          return op.buildScalar(b, loc, args);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerConstant : OpRewritePattern<ConstantOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConstantOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, cast<TypedAttr>(op.getValue()));
    return success();
  }
};

struct LowerBroadcastTo : OpRewritePattern<BroadcastToOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BroadcastToOp op,
                                PatternRewriter &rewriter) const override {
    SmallVector<Value> sizes(op.getSizes());
    Value result = buildElementwise(
        rewriter, op.getLoc(), op.getType(), {op.getInput()},
        [](OpBuilder &, Location, ValueRange args) { return args[0]; }, sizes);
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

/// Inserts the unit dims that `keepdim` keeps, expanding `reduced` to `type`.
Value expandKeptDims(OpBuilder &b, Location loc, Value reduced, Value input,
                     ArrayRef<int64_t> dims, RankedTensorType type) {
  llvm::SmallDenseSet<int64_t> reducedDims(dims.begin(), dims.end());
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices pending;
  SmallVector<OpFoldResult> outputShape;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (reducedDims.contains(i)) {
      outputShape.push_back(b.getIndexAttr(1));
      if (groups.empty())
        pending.push_back(i);
      else
        groups.back().push_back(i);
      continue;
    }
    outputShape.push_back(dimSize(b, loc, input, i));
    pending.push_back(i);
    groups.push_back(pending);
    pending.clear();
  }
  return tensor::ExpandShapeOp::create(b, loc, type, reduced, groups,
                                       outputShape);
}

/// The loop structure of a reduction of `input` over `dims`: iterator kinds,
/// the map from loops to the (non-keepdim) result, and a way to make result
/// tensors filled with a neutral element.
struct ReductionLayout {
  SmallVector<utils::IteratorType> iterators;
  AffineMap inputMap, outputMap;
  SmallVector<int64_t> shape;
  SmallVector<Value> dynamicSizes;

  ReductionLayout(OpBuilder &b, Location loc, Value input,
                  ArrayRef<int64_t> dims) {
    MLIRContext *ctx = b.getContext();
    RankedTensorType inputType = tensorTypeOf(input);
    llvm::SmallDenseSet<int64_t> reducedDims(dims.begin(), dims.end());
    SmallVector<AffineExpr> outExprs;
    for (int64_t i = 0; i < inputType.getRank(); ++i) {
      if (reducedDims.contains(i)) {
        iterators.push_back(utils::IteratorType::reduction);
        continue;
      }
      iterators.push_back(utils::IteratorType::parallel);
      shape.push_back(inputType.getDimSize(i));
      if (inputType.isDynamicDim(i))
        dynamicSizes.push_back(tensor::DimOp::create(b, loc, input, i));
      outExprs.push_back(getAffineDimExpr(i, ctx));
    }
    inputMap = AffineMap::getMultiDimIdentityMap(inputType.getRank(), ctx);
    outputMap = AffineMap::get(inputType.getRank(), 0, outExprs, ctx);
  }

  /// A result-shaped tensor filled with `value`.
  Value filled(OpBuilder &b, Location loc, Value value) const {
    Value empty = tensor::EmptyOp::create(b, loc, shape, value.getType(),
                                          dynamicSizes);
    return linalg::FillOp::create(b, loc, ValueRange{value}, ValueRange{empty})
        .getResult(0);
  }
};

/// A linalg.generic reduction of `input` over `dims` (no kept dims) that
/// combines with `combine(element, accumulator)` from `initValue`.
Value buildReduction(OpBuilder &b, Location loc, Value input,
                     ArrayRef<int64_t> dims, Value initValue,
                     ScalarFn combine) {
  ReductionLayout layout(b, loc, input, dims);
  Value init = layout.filled(b, loc, initValue);
  SmallVector<AffineMap> maps = {layout.inputMap, layout.outputMap};
  SmallVector<utils::IteratorType> iterators = layout.iterators;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{input}, ValueRange{init},
      maps, iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl, combine(nb, nl, args));
      });
  return generic.getResult(0);
}

/// The neutral element of a max (lowest) or min (highest) reduction.
Value extremeValue(OpBuilder &b, Location loc, Type type, bool lowest) {
  if (auto floatType = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(
        b, loc,
        b.getFloatAttr(floatType, lowest
                                      ? -std::numeric_limits<double>::infinity()
                                      : std::numeric_limits<double>::infinity()));
  unsigned width = type.getIntOrFloatBitWidth();
  APInt value = lowest ? APInt::getSignedMinValue(width)
                       : APInt::getSignedMaxValue(width);
  return arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, value));
}

template <typename OpTy>
struct LowerReduce : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    Type type = op.getType().getElementType();
    bool isFloat = isa<FloatType>(type);
    ArrayRef<int64_t> dims = op.getDims();
    Value init;
    if constexpr (std::is_same_v<OpTy, MaxOp>)
      init = extremeValue(rewriter, loc, type, /*lowest=*/true);
    else if constexpr (std::is_same_v<OpTy, MinOp>)
      init = extremeValue(rewriter, loc, type, /*lowest=*/false);
    else
      init = scalarConst(rewriter, loc, type, 0);
    Value reduced = buildReduction(
        rewriter, loc, input, dims, init,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value x = args[0], acc = args[1];
          if constexpr (std::is_same_v<OpTy, MaxOp>)
            return isFloat ? arith::MaximumFOp::create(b, l, x, acc).getResult()
                           : arith::MaxSIOp::create(b, l, x, acc).getResult();
          if constexpr (std::is_same_v<OpTy, MinOp>)
            return isFloat ? arith::MinimumFOp::create(b, l, x, acc).getResult()
                           : arith::MinSIOp::create(b, l, x, acc).getResult();
          // `reassoc` lets LLVM split the sum into vector partial sums:
          // without it the adds form one serial chain (one add per fadd
          // latency), ~9x slower over a contiguous dim. The sum's rounding
          // then differs from left-to-right order as torch's does.
          return isFloat ? arith::AddFOp::create(b, l, x, acc,
                                                 arith::FastMathFlags::reassoc)
                               .getResult()
                         : arith::AddIOp::create(b, l, x, acc).getResult();
        });
    if constexpr (std::is_same_v<OpTy, MeanOp>) {
      // Divide by the number of reduced elements, known only at run time.
      Value count = indexConst(rewriter, loc, 1);
      for (int64_t dim : dims)
        count = arith::MulIOp::create(rewriter, loc, count,
                                      dimValue(rewriter, loc, input, dim));
      Value countInt = arith::IndexCastOp::create(
          rewriter, loc, rewriter.getI64Type(), count);
      Value countFloat = arith::SIToFPOp::create(rewriter, loc, type, countInt);
      auto reducedType = tensorTypeOf(reduced);
      reduced = buildElementwise(
          rewriter, loc, reducedType, {reduced},
          [&](OpBuilder &b, Location l, ValueRange args) {
            return arith::DivFOp::create(b, l, args[0], countFloat).getResult();
          });
    }
    if (op.getKeepdim())
      reduced = expandKeptDims(rewriter, loc, reduced, input, dims, op.getType());
    rewriter.replaceOp(op, reduced);
    return success();
  }
};

/// argmax and argmin: one reduction carrying the best value and its index.
template <typename OpTy>
struct LowerArgReduce : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  static constexpr bool isMin = std::is_same_v<OpTy, ArgminOp>;

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    RankedTensorType inputType = tensorTypeOf(input);
    Type type = inputType.getElementType();
    int64_t dim = op.getDim();
    if (dim == inputType.getRank() - 1) {
      Value result = lowerContiguous(rewriter, loc, input, dim);
      if (op.getKeepdim())
        result =
            expandKeptDims(rewriter, loc, result, input, {dim}, op.getType());
      rewriter.replaceOp(op, result);
      return success();
    }
    ReductionLayout layout(rewriter, loc, input, {dim});
    Value bestInit = layout.filled(
        rewriter, loc, extremeValue(rewriter, loc, type, /*lowest=*/!isMin));
    Value indexInit = layout.filled(
        rewriter, loc, scalarConst(rewriter, loc, rewriter.getI64Type(), 0));
    SmallVector<AffineMap> maps = {layout.inputMap, layout.outputMap,
                                   layout.outputMap};
    SmallVector<utils::IteratorType> iterators = layout.iterators;
    bool isFloat = isa<FloatType>(type);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{bestInit.getType(), indexInit.getType()},
        ValueRange{input}, ValueRange{bestInit, indexInit}, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = args[0], best = args[1], bestIndex = args[2];
          // A strict comparison keeps the first extreme; NaN counts as the
          // extreme, like torch.argmax and torch.argmin.
          Value take;
          if (isFloat) {
            Value better = arith::CmpFOp::create(
                b, l,
                isMin ? arith::CmpFPredicate::OLT : arith::CmpFPredicate::OGT,
                x, best);
            Value xNan =
                arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, x, x);
            Value bestOrdered = arith::CmpFOp::create(
                b, l, arith::CmpFPredicate::ORD, best, best);
            Value newNan = arith::AndIOp::create(b, l, xNan, bestOrdered);
            take = arith::OrIOp::create(b, l, better, newNan);
          } else {
            take = arith::CmpIOp::create(
                b, l,
                isMin ? arith::CmpIPredicate::slt : arith::CmpIPredicate::sgt,
                x, best);
          }
          Value index = arith::IndexCastOp::create(
              b, l, b.getI64Type(), linalg::IndexOp::create(b, l, dim));
          linalg::YieldOp::create(
              b, l,
              ValueRange{arith::SelectOp::create(b, l, take, x, best),
                         arith::SelectOp::create(b, l, take, index, bestIndex)});
        });
    Value result = generic.getResult(1);
    if (op.getKeepdim())
      result = expandKeptDims(rewriter, loc, result, input, {dim}, op.getType());
    rewriter.replaceOp(op, result);
    return success();
  }

  /// Over the innermost dim the single (value, index) reduction is a loop
  /// LLVM cannot vectorize (the pair forms one serial select chain), ~100x
  /// slower than a max. Two reductions that each vectorize instead: the
  /// extreme itself (`maximumf`/`minimumf` propagate NaN, so a row with a
  /// NaN reduces to NaN), then the smallest index whose element equals it.
  /// A NaN element matches too: it only exists when the extreme is NaN, and
  /// then the first NaN is the answer, as in torch.
  Value lowerContiguous(PatternRewriter &rewriter, Location loc, Value input,
                        int64_t dim) const {
    Type type = tensorTypeOf(input).getElementType();
    bool isFloat = isa<FloatType>(type);
    Value extreme = buildReduction(
        rewriter, loc, input, {dim},
        extremeValue(rewriter, loc, type, /*lowest=*/!isMin),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          if (isFloat)
            return isMin
                       ? arith::MinimumFOp::create(b, l, args[0], args[1])
                             .getResult()
                       : arith::MaximumFOp::create(b, l, args[0], args[1])
                             .getResult();
          return isMin
                     ? arith::MinSIOp::create(b, l, args[0], args[1])
                           .getResult()
                     : arith::MaxSIOp::create(b, l, args[0], args[1])
                           .getResult();
        });
    ReductionLayout layout(rewriter, loc, input, {dim});
    Type i64 = rewriter.getI64Type();
    Value noMatch = extremeValue(rewriter, loc, i64, /*lowest=*/false);
    Value indexInit = layout.filled(rewriter, loc, noMatch);
    SmallVector<AffineMap> maps = {layout.inputMap, layout.outputMap,
                                   layout.outputMap};
    SmallVector<utils::IteratorType> iterators = layout.iterators;
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{indexInit.getType()},
        ValueRange{input, extreme}, ValueRange{indexInit}, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = args[0], best = args[1], acc = args[2];
          Value match;
          if (isFloat) {
            Value equal = arith::CmpFOp::create(
                b, l, arith::CmpFPredicate::OEQ, x, best);
            Value xNan =
                arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, x, x);
            match = arith::OrIOp::create(b, l, equal, xNan);
          } else {
            match =
                arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, x, best);
          }
          Value index = arith::IndexCastOp::create(
              b, l, i64, linalg::IndexOp::create(b, l, dim));
          Value candidate = arith::SelectOp::create(b, l, match, index, noMatch);
          linalg::YieldOp::create(
              b, l, arith::MinSIOp::create(b, l, candidate, acc).getResult());
        });
    return generic.getResult(0);
  }
};

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

Value zeroFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> shape,
                 Type elementType) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, elementType);
  Value zero = scalarConst(b, loc, elementType, 0);
  return linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{empty})
      .getResult(0);
}

/// Collapses the leading `count` dims of `value` into one.
Value collapseLeading(OpBuilder &b, Location loc, Value value, int64_t count) {
  int64_t rank = tensorTypeOf(value).getRank();
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices first;
  for (int64_t i = 0; i < count; ++i)
    first.push_back(i);
  groups.push_back(first);
  for (int64_t i = count; i < rank; ++i)
    groups.push_back({i});
  return tensor::CollapseShapeOp::create(b, loc, value, groups);
}

/// Reshapes a tensor to `type` whose dims are `sizes` (row-major order).
/// Matmul uses it instead of tensor.expand_shape when a group has several
/// dynamic dims: MLIR 22's expand-strided-metadata crashes on such
/// memref.expand_shape ops.
Value reshapeTo(OpBuilder &b, Location loc, Value value, RankedTensorType type,
                ArrayRef<OpFoldResult> sizes) {
  SmallVector<Value> dims;
  for (OpFoldResult size : sizes)
    dims.push_back(getValueOrCreateConstantIndexOp(b, loc, size));
  // A rank-0 result takes an empty shape tensor (from_elements needs one
  // element at least).
  Value shape =
      dims.empty()
          ? arith::ConstantOp::create(
                b, loc,
                DenseElementsAttr::get(
                    RankedTensorType::get({0}, b.getIndexType()),
                    ArrayRef<Attribute>{}))
                .getResult()
          : tensor::FromElementsOp::create(b, loc, dims).getResult();
  return tensor::ReshapeOp::create(b, loc, type, value, shape);
}

struct LowerMatmul : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value lhs = op.getLhs(), rhs = op.getRhs();
    RankedTensorType lhsType = tensorTypeOf(lhs), rhsType = tensorTypeOf(rhs);
    RankedTensorType resultType = op.getType();
    Type elementType = resultType.getElementType();
    int64_t rank = resultType.getRank();
    int64_t lhsBatch = lhsType.getRank() - 2;

    if (rhsType.getRank() == 2) {
      // [B..., M, K] x [K, N]: fold the batch into M and use one GEMM.
      Value lhs2d = lhsBatch > 0 ? collapseLeading(rewriter, loc, lhs,
                                                   lhsBatch + 1)
                                 : lhs;
      OpFoldResult rows = dimSize(rewriter, loc, lhs2d, 0);
      OpFoldResult cols = dimSize(rewriter, loc, rhs, 1);
      Value init = zeroFilled(rewriter, loc, {rows, cols}, elementType);
      Value product = linalg::MatmulOp::create(rewriter, loc,
                                               TypeRange{init.getType()},
                                               ValueRange{lhs2d, rhs},
                                               ValueRange{init})
                          .getResult(0);
      if (lhsBatch > 0) {
        SmallVector<OpFoldResult> shape;
        for (int64_t i = 0; i < rank - 1; ++i)
          shape.push_back(dimSize(rewriter, loc, lhs, i));
        shape.push_back(cols);
        product = reshapeTo(rewriter, loc, product, resultType, shape);
      }
      rewriter.replaceOp(op, product);
      return success();
    }

    // General case: broadcast both operands to the full batch shape, collapse
    // the batch to one dim and use batch_matmul.
    SmallVector<int64_t> batchShape(resultType.getShape().drop_back(2));
    auto materialize = [&](Value operand) -> Value {
      RankedTensorType type = tensorTypeOf(operand);
      SmallVector<int64_t> shape(batchShape);
      shape.push_back(type.getDimSize(type.getRank() - 2));
      shape.push_back(type.getDimSize(type.getRank() - 1));
      auto fullType = RankedTensorType::get(shape, elementType);
      if (fullType == type)
        return operand;
      SmallVector<Value> sizes;
      for (int64_t i = 0; i < rank; ++i) {
        if (!fullType.isDynamicDim(i))
          continue;
        if (i >= rank - 2) {
          sizes.push_back(tensor::DimOp::create(rewriter, loc, operand,
                                                i - rank + type.getRank()));
          continue;
        }
        // A dynamic batch dim comes from whichever operand has it dynamic.
        Value source = lhs;
        int64_t j = i - (rank - lhsType.getRank());
        if (j < 0 || !lhsType.isDynamicDim(j)) {
          source = rhs;
          j = i - (rank - rhsType.getRank());
        }
        sizes.push_back(tensor::DimOp::create(rewriter, loc, source, j));
      }
      return buildElementwise(
          rewriter, loc, fullType, {operand},
          [](OpBuilder &, Location, ValueRange args) { return args[0]; },
          sizes);
    };
    Value lhsFull = materialize(lhs), rhsFull = materialize(rhs);
    int64_t batchRank = rank - 2;
    Value lhs3d = batchRank == 1 ? lhsFull
                                 : collapseLeading(rewriter, loc, lhsFull,
                                                   batchRank);
    Value rhs3d = batchRank == 1 ? rhsFull
                                 : collapseLeading(rewriter, loc, rhsFull,
                                                   batchRank);
    Value init = zeroFilled(rewriter, loc,
                            {dimSize(rewriter, loc, lhs3d, 0),
                             dimSize(rewriter, loc, lhs3d, 1),
                             dimSize(rewriter, loc, rhs3d, 2)},
                            elementType);
    Value product = linalg::BatchMatmulOp::create(rewriter, loc,
                                                  TypeRange{init.getType()},
                                                  ValueRange{lhs3d, rhs3d},
                                                  ValueRange{init})
                        .getResult(0);
    if (batchRank > 1) {
      SmallVector<OpFoldResult> shape;
      for (int64_t i = 0; i < rank - 2; ++i)
        shape.push_back(dimSize(rewriter, loc, lhsFull, i));
      shape.push_back(dimSize(rewriter, loc, lhsFull, rank - 2));
      shape.push_back(dimSize(rewriter, loc, rhsFull, rank - 1));
      product = reshapeTo(rewriter, loc, product, resultType, shape);
    }
    rewriter.replaceOp(op, product);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

/// A reshape whose dim groups are known as a collapse of each group's input
/// dims followed by an expansion into its result dims: both are views of
/// the input's buffer, so a strided input (a slice) is read in place, where
/// tensor.reshape needs a dense buffer and bufferization would copy into
/// one. A collapse of dims whose strides do not allow it still copies.
Value collapseThenExpand(OpBuilder &b, Location loc, Value input,
                         RankedTensorType type, ArrayRef<int64_t> groups,
                         ArrayRef<OpFoldResult> sizes) {
  SmallVector<ReassociationIndices> collapse, expand;
  int64_t inputDim = 0, resultDim = 0;
  for (size_t i = 0; i < groups.size(); i += 2) {
    ReassociationIndices &in = collapse.emplace_back();
    for (int64_t d = 0; d < groups[i]; ++d)
      in.push_back(inputDim++);
    ReassociationIndices &out = expand.emplace_back();
    for (int64_t d = 0; d < groups[i + 1]; ++d)
      out.push_back(resultDim++);
  }
  auto isTrivial = [](ArrayRef<ReassociationIndices> reassociation) {
    return llvm::all_of(reassociation, [](const ReassociationIndices &group) {
      return group.size() == 1;
    });
  };
  Value value = input;
  if (!isTrivial(collapse))
    value = tensor::CollapseShapeOp::create(b, loc, value, collapse);
  if (!isTrivial(expand))
    value = tensor::ExpandShapeOp::create(b, loc, type, value, expand, sizes);
  if (value.getType() != type)
    value = tensor::CastOp::create(b, loc, type, value);
  return value;
}

/// Whether each group is static on both sides or on neither, as the types
/// of tensor.collapse_shape and tensor.expand_shape must be (the tracer's
/// types are; a type refined after tracing may not be).
bool groupsFitTypes(RankedTensorType input, RankedTensorType type,
                    ArrayRef<int64_t> groups) {
  int64_t inputDim = 0, resultDim = 0;
  for (size_t i = 0; i < groups.size(); i += 2) {
    bool inputStatic = !ShapedType::isDynamicShape(
        input.getShape().slice(inputDim, groups[i]));
    bool resultStatic = !ShapedType::isDynamicShape(
        type.getShape().slice(resultDim, groups[i + 1]));
    if (inputStatic != resultStatic)
      return false;
    inputDim += groups[i];
    resultDim += groups[i + 1];
  }
  return true;
}

struct LowerReshape : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getType();
    SmallVector<OpFoldResult> sizes;
    auto dynamicSizes = op.getSizes().begin();
    for (int64_t i = 0; i < type.getRank(); ++i)
      sizes.push_back(type.isDynamicDim(i)
                          ? OpFoldResult(*dynamicSizes++)
                          : rewriter.getIndexAttr(type.getDimSize(i)));
    std::optional<ArrayRef<int64_t>> groups = op.getGroups();
    Value result =
        groups && groupsFitTypes(tensorTypeOf(op.getInput()), type, *groups)
            ? collapseThenExpand(rewriter, op.getLoc(), op.getInput(), type,
                                 *groups, sizes)
            : reshapeTo(rewriter, op.getLoc(), op.getInput(), type, sizes);
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerTranspose : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    ArrayRef<int64_t> perm = op.getPermutation();
    RankedTensorType type = op.getType();
    int64_t rank = type.getRank();
    // Result dim i reads input dim perm[i]: input dim perm[i] <- loop dim i.
    SmallVector<AffineExpr> exprs(rank);
    for (int64_t i = 0; i < rank; ++i)
      exprs[perm[i]] = getAffineDimExpr(i, ctx);
    SmallVector<Value> sizes;
    for (int64_t i = 0; i < rank; ++i)
      if (type.isDynamicDim(i))
        sizes.push_back(
            tensor::DimOp::create(rewriter, loc, op.getInput(), perm[i]));
    Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                         type.getElementType(), sizes);
    SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, exprs, ctx),
                                   AffineMap::getMultiDimIdentityMap(rank, ctx)};
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange{op.getInput()},
        ValueRange{init}, maps, iterators,
        [](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, args[0]);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// Python slice bounds at run time: clamp(start), count. `start` and `stop`
/// are index values (constants or run-time values).
std::pair<Value, Value> sliceBounds(OpBuilder &b, Location loc, Value size,
                                    OpFoldResult start, OpFoldResult stop,
                                    int64_t step) {
  Value zero = indexConst(b, loc, 0);
  auto normalize = [&](OpFoldResult bound) -> Value {
    if (auto attr = dyn_cast<Attribute>(bound)) {
      int64_t index = cast<IntegerAttr>(attr).getInt();
      // Indices beyond the index type's range saturate to the dim size.
      if (index >= std::numeric_limits<int32_t>::max())
        return size;
      Value raw = indexConst(b, loc, index);
      Value shifted =
          index < 0 ? arith::AddIOp::create(b, loc, raw, size).getResult() : raw;
      Value low = arith::MaxSIOp::create(b, loc, shifted, zero);
      return arith::MinSIOp::create(b, loc, low, size);
    }
    Value raw = cast<Value>(bound);
    Value negative =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, raw, zero);
    Value shifted = arith::SelectOp::create(
        b, loc, negative, arith::AddIOp::create(b, loc, raw, size), raw);
    Value low = arith::MaxSIOp::create(b, loc, shifted, zero);
    return arith::MinSIOp::create(b, loc, low, size);
  };
  Value begin = normalize(start);
  Value end = normalize(stop);
  Value span = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, end, begin), zero);
  Value count =
      arith::CeilDivSIOp::create(b, loc, span, indexConst(b, loc, step));
  return {begin, count};
}

/// The offsets, sizes and strides of the window that `ember.slice` reads
/// from `input`: constants where the dim and bounds are static, computed at
/// run time elsewhere.
struct SliceWindow {
  SmallVector<OpFoldResult> offsets, sizes, strides;

  SliceWindow(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> start,
              ArrayRef<int64_t> stop, ArrayRef<int64_t> step,
              ValueRange dynamicStart, ValueRange dynamicStop) {
    RankedTensorType inputType = tensorTypeOf(input);
    SmallVector<OpFoldResult> starts =
        getMixedValues(start, dynamicStart, b.getContext());
    SmallVector<OpFoldResult> stops =
        getMixedValues(stop, dynamicStop, b.getContext());
    for (int64_t i = 0; i < inputType.getRank(); ++i) {
      strides.push_back(b.getIndexAttr(step[i]));
      bool staticBounds =
          !ShapedType::isDynamic(start[i]) && !ShapedType::isDynamic(stop[i]);
      // A whole dim is the input's dim as it is: saying so plainly lets
      // later rewrites see that the slice keeps it whole.
      if (staticBounds && start[i] == 0 && step[i] == 1 &&
          stop[i] >= std::numeric_limits<int32_t>::max()) {
        offsets.push_back(b.getIndexAttr(0));
        sizes.push_back(dimSize(b, loc, input, i));
        continue;
      }
      if (!inputType.isDynamicDim(i) && staticBounds) {
        SliceExtent extent = computeSliceExtent(inputType.getDimSize(i),
                                                start[i], stop[i], step[i]);
        offsets.push_back(b.getIndexAttr(extent.offset));
        sizes.push_back(b.getIndexAttr(extent.count));
        continue;
      }
      Value size = tensor::DimOp::create(b, loc, input, i);
      auto [begin, count] =
          sliceBounds(b, loc, size, starts[i], stops[i], step[i]);
      offsets.push_back(begin);
      sizes.push_back(count);
    }
  }
};

struct LowerSlice : OpRewritePattern<SliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SliceOp op,
                                PatternRewriter &rewriter) const override {
    SliceWindow window(rewriter, op.getLoc(), op.getInput(), op.getStart(),
                       op.getStop(), op.getStep(), op.getDynamicStart(),
                       op.getDynamicStop());
    auto extract = tensor::ExtractSliceOp::create(
        rewriter, op.getLoc(), op.getInput(), window.offsets, window.sizes,
        window.strides);
    Value result = extract;
    if (result.getType() != op.getType())
      result = tensor::CastOp::create(rewriter, op.getLoc(), op.getType(), result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerInsertSlice : OpRewritePattern<InsertSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(InsertSliceOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value source = op.getSource();
    SliceWindow window(rewriter, loc, op.getDest(), op.getStart(),
                       op.getStop(), op.getStep(), op.getDynamicStart(),
                       op.getDynamicStop());
    // The source's own sizes equal the window's at run time; taking them
    // keeps each static source dim static, as tensor.insert_slice's type
    // check wants.
    for (int64_t i = 0; i < tensorTypeOf(source).getRank(); ++i)
      window.sizes[i] = dimSize(rewriter, loc, source, i);
    rewriter.replaceOpWithNewOp<tensor::InsertSliceOp>(
        op, source, op.getDest(), window.offsets, window.sizes,
        window.strides);
    return success();
  }
};

/// A linalg.generic over the result: the indices are an input read along
/// the gathered dims, and the body reads the source with tensor.extract.
struct LowerGather : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value input = op.getInput(), indices = op.getIndices();
    RankedTensorType type = op.getType();
    int64_t rank = type.getRank();
    int64_t dim = op.getDim();
    int64_t indexRank = tensorTypeOf(indices).getRank();
    // Result dim i comes from input dim i before `dim`, from indices dim
    // i - dim inside the gathered dims, and from input dim i - indexRank + 1
    // after them.
    auto sourceOf = [&](int64_t i) -> std::pair<Value, int64_t> {
      if (i < dim)
        return {input, i};
      if (i < dim + indexRank)
        return {indices, i - dim};
      return {input, i - indexRank + 1};
    };
    SmallVector<Value> sizes;
    for (int64_t i = 0; i < rank; ++i) {
      if (!type.isDynamicDim(i))
        continue;
      auto [source, j] = sourceOf(i);
      sizes.push_back(tensor::DimOp::create(rewriter, loc, source, j));
    }
    Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                         type.getElementType(), sizes);
    SmallVector<AffineExpr> indexExprs;
    for (int64_t j = 0; j < indexRank; ++j)
      indexExprs.push_back(getAffineDimExpr(dim + j, ctx));
    SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, indexExprs, ctx),
                                   AffineMap::getMultiDimIdentityMap(rank, ctx)};
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    Value inputSize = dimValue(rewriter, loc, input, dim);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange{indices}, ValueRange{init},
        maps, iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          // A negative index counts from the end, as in Python.
          Value index = arith::IndexCastOp::create(b, l, b.getIndexType(),
                                                   args[0]);
          Value negative = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::slt, index, indexConst(b, l, 0));
          Value wrapped = arith::AddIOp::create(b, l, index, inputSize);
          SmallVector<Value> position;
          for (int64_t i = 0; i < dim; ++i)
            position.push_back(linalg::IndexOp::create(b, l, i));
          position.push_back(
              arith::SelectOp::create(b, l, negative, wrapped, index));
          for (int64_t i = dim + indexRank; i < rank; ++i)
            position.push_back(linalg::IndexOp::create(b, l, i));
          Value element = tensor::ExtractOp::create(b, l, input, position);
          linalg::YieldOp::create(b, l, element);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// A sequential scf.for nest over `updates` that adds each element into the
/// dest position its index selects: duplicate indices must accumulate, which
/// a parallel linalg.generic over the result cannot express.
struct LowerScatterAdd : OpRewritePattern<ScatterAddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ScatterAddOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value indices = op.getIndices(), updates = op.getUpdates();
    int64_t dim = op.getDim();
    int64_t indexRank = tensorTypeOf(indices).getRank();
    int64_t rank = tensorTypeOf(updates).getRank();
    bool isFloat = isa<FloatType>(op.getType().getElementType());
    Value destSize = dimValue(rewriter, loc, op.getDest(), dim);
    auto body = [&](OpBuilder &b, Location l, ValueRange ivs,
                    ValueRange iterArgs) -> scf::ValueVector {
      Value update = tensor::ExtractOp::create(b, l, updates, ivs);
      Value index = arith::IndexCastOp::create(
          b, l, b.getIndexType(),
          tensor::ExtractOp::create(b, l, indices,
                                    ivs.slice(dim, indexRank)));
      // A negative index counts from the end, as in gather.
      Value negative = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt,
                                             index, indexConst(b, l, 0));
      Value wrapped = arith::AddIOp::create(b, l, index, destSize);
      SmallVector<Value> position(ivs.take_front(dim));
      position.push_back(
          arith::SelectOp::create(b, l, negative, wrapped, index));
      position.append(ivs.begin() + dim + indexRank, ivs.end());
      Value old = tensor::ExtractOp::create(b, l, iterArgs[0], position);
      Value sum = isFloat ? arith::AddFOp::create(b, l, old, update).getResult()
                          : arith::AddIOp::create(b, l, old, update).getResult();
      return {tensor::InsertOp::create(b, l, sum, iterArgs[0], position)};
    };
    if (rank == 0) {
      rewriter.replaceOp(op, body(rewriter, loc, {}, op.getDest()));
      return success();
    }
    SmallVector<Value> lbs(rank, indexConst(rewriter, loc, 0));
    SmallVector<Value> steps(rank, indexConst(rewriter, loc, 1));
    SmallVector<Value> ubs;
    for (int64_t i = 0; i < rank; ++i)
      ubs.push_back(dimValue(rewriter, loc, updates, i));
    scf::LoopNest nest = scf::buildLoopNest(rewriter, loc, lbs, ubs, steps,
                                            ValueRange{op.getDest()}, body);
    rewriter.replaceOp(op, nest.results);
    return success();
  }
};

struct LowerConcat : OpRewritePattern<ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConcatOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<tensor::ConcatOp>(op, op.getType(), op.getDim(),
                                                  op.getInputs());
    return success();
  }
};

} // namespace

void ember::populateEmberToLinalgPatterns(RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<LowerElementwise, LowerConstant, LowerBroadcastTo>(ctx);
  patterns.add<LowerReduce<SumOp>, LowerReduce<MeanOp>, LowerReduce<MaxOp>,
               LowerReduce<MinOp>, LowerArgReduce<ArgmaxOp>,
               LowerArgReduce<ArgminOp>, LowerMatmul>(ctx);
  patterns.add<LowerReshape, LowerTranspose, LowerSlice, LowerInsertSlice,
               LowerGather, LowerScatterAdd, LowerConcat>(ctx);
}

namespace {

struct ConvertEmberToLinalgPass
    : ember::impl::ConvertEmberToLinalgBase<ConvertEmberToLinalgPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    widenHalfPrecision(func);
    RewritePatternSet patterns(&getContext());
    populateEmberToLinalgPatterns(patterns);
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(func, std::move(patterns), config)))
      return signalPassFailure();
    WalkResult left = func.walk([](Operation *op) {
      if (isa<EmberDialect>(op->getDialect())) {
        op->emitOpError("has no lowering to linalg (run ember-decompose "
                        "first for composite ops)");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
