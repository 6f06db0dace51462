//===- EmberVjp.cpp - vector-Jacobian products of ember ops ----------------===//
//
// Each differentiable op's `buildVjp`: the gradient of sum(g * op(x)) with
// respect to each operand, written with ember ops so that the result can be
// differentiated again. Run-time sizes come from tensor.dim and arith ops.
//
// Broadcasting: a binary op's operand may have fewer leading dims than the
// result or a static 1 where the result is larger. Its gradient sums the
// cotangent over exactly those dims, which the types tell statically because
// a dynamic dim never broadcasts.
//
//===----------------------------------------------------------------------===//

#include "ember/Dialect/EmberInterfaces.h"
#include "ember/Dialect/EmberOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/ScopeExit.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace ember;

#include "ember/Dialect/EmberInterfaces.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

/// `stop` meaning "to the end of the dim" in slice attributes.
constexpr int64_t kToEnd = std::numeric_limits<int64_t>::max();

RankedTensorType typeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

bool isFloatTensor(Value value) {
  return isa<FloatType>(typeOf(value).getElementType());
}

/// A rank-0 constant; binary ops broadcast it to the other operand's shape.
Value scalar(OpBuilder &b, Location loc, Type elementType, double value) {
  auto type = RankedTensorType::get({}, elementType);
  Attribute element =
      isa<FloatType>(elementType)
          ? Attribute(b.getFloatAttr(elementType, value))
          : Attribute(b.getIntegerAttr(elementType, static_cast<int64_t>(value)));
  return ConstantOp::create(b, loc, DenseElementsAttr::get(type, element));
}

Value scalarLike(OpBuilder &b, Location loc, Value like, double value) {
  return scalar(b, loc, typeOf(like).getElementType(), value);
}

/// The sizes of `like`'s dynamic dims, in order: the size operands that
/// reshape and broadcast_to take to produce `like`'s type.
SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, Value like) {
  SmallVector<Value> sizes;
  RankedTensorType type = typeOf(like);
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      sizes.push_back(tensor::DimOp::create(b, loc, like, i));
  return sizes;
}

/// `value` reshaped to exactly `like`'s type. Gradients must have their
/// operand's type, and a rule's result may be static where the operand is
/// dynamic (or the reverse) although the sizes agree at run time.
Value reshapeLike(OpBuilder &b, Location loc, Value value, Value like) {
  if (value.getType() == like.getType())
    return value;
  return ReshapeOp::create(b, loc, like.getType(), value,
                           dynamicSizes(b, loc, like));
}

/// `value` broadcast to `like`'s type.
Value broadcastLike(OpBuilder &b, Location loc, Value value, Value like) {
  if (value.getType() == like.getType())
    return value;
  return BroadcastToOp::create(b, loc, like.getType(), value,
                               dynamicSizes(b, loc, like));
}

Value zerosLike(OpBuilder &b, Location loc, Value like) {
  return broadcastLike(b, loc, scalarLike(b, loc, like, 0), like);
}

/// Sums a gradient shaped like a broadcast result back to `target`'s shape:
/// over the leading dims `target` lacks and the dims where `target` has a
/// static 1 that the result stretched.
Value sumToShape(OpBuilder &b, Location loc, Value grad, Value target) {
  RankedTensorType gradType = typeOf(grad), targetType = typeOf(target);
  int64_t lead = gradType.getRank() - targetType.getRank();
  SmallVector<int64_t> dims;
  for (int64_t i = 0; i < lead; ++i)
    dims.push_back(i);
  for (int64_t j = 0; j < targetType.getRank(); ++j)
    if (targetType.getDimSize(j) == 1 && gradType.getDimSize(lead + j) != 1)
      dims.push_back(lead + j);
  if (!dims.empty())
    grad = SumOp::create(b, loc, grad, dims, /*keepdim=*/false);
  return reshapeLike(b, loc, grad, target);
}

/// A reduction's result or cotangent with the reduced dims of `input` kept
/// as size 1 (a no-op for keepdim reductions).
Value keepReducedDims(OpBuilder &b, Location loc, Value reduced, Value input,
                      ArrayRef<int64_t> dims, bool keepdim) {
  if (keepdim)
    return reduced;
  RankedTensorType inputType = typeOf(input);
  SmallVector<int64_t> shape(inputType.getShape());
  for (int64_t dim : dims)
    shape[dim] = 1;
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < inputType.getRank(); ++i)
    if (ShapedType::isDynamic(shape[i]))
      sizes.push_back(tensor::DimOp::create(b, loc, input, i));
  auto type = RankedTensorType::get(shape, inputType.getElementType());
  return ReshapeOp::create(b, loc, type, reduced, sizes);
}

Value compare(OpBuilder &b, Location loc, ComparePredicate predicate, Value lhs,
              Value rhs) {
  return CompareOp::create(b, loc, predicate, lhs, rhs);
}

/// A bool tensor as 0/1 in `elementType`.
Value asNumber(OpBuilder &b, Location loc, Value mask, Type elementType) {
  return CastOp::create(b, loc, typeOf(mask).clone(elementType), mask);
}

Value mul(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return MulOp::create(b, loc, lhs, rhs);
}

/// The shared shape of the element-wise unary rules: a float operand gets
/// `rule(x, y, g)`, an integer one no gradient.
template <typename Rule>
LogicalResult unaryVjp(Operation *op, ValueRange cotangents,
                       SmallVectorImpl<Value> &gradients, Rule rule) {
  Value x = op->getOperand(0);
  gradients.push_back(isFloatTensor(x)
                          ? rule(x, op->getResult(0), cotangents[0])
                          : Value());
  return success();
}

/// The shared shape of the broadcasting binary rules: `rule` gives both
/// gradients at the result's shape; each is summed back to its operand.
template <typename Rule>
LogicalResult binaryVjp(OpBuilder &b, Operation *op, ValueRange cotangents,
                        SmallVectorImpl<Value> &gradients, Rule rule) {
  Value lhs = op->getOperand(0), rhs = op->getOperand(1);
  if (!isFloatTensor(lhs)) {
    gradients.append({Value(), Value()});
    return success();
  }
  auto [lhsGrad, rhsGrad] = rule(lhs, rhs, op->getResult(0), cotangents[0]);
  gradients.push_back(sumToShape(b, op->getLoc(), lhsGrad, lhs));
  gradients.push_back(sumToShape(b, op->getLoc(), rhsGrad, rhs));
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Cast and unary ops
//===----------------------------------------------------------------------===//

LogicalResult CastOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  // Only float -> float carries a gradient; rounding to an integer has a
  // zero derivative wherever it has one.
  bool differentiable = isFloatTensor(getInput()) && isFloatTensor(getResult());
  gradients.push_back(differentiable ? CastOp::create(b, getLoc(),
                                                      getInput().getType(),
                                                      cotangents[0])
                                           .getResult()
                                     : Value());
  return success();
}

LogicalResult NegOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value, Value g) {
    return NegOp::create(b, getLoc(), g);
  });
}

LogicalResult AbsOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    // g * sign(x), with sign(0) = 0 as in torch.
    Type type = typeOf(x).getElementType();
    Value zero = scalarLike(b, loc, x, 0);
    Value positive =
        asNumber(b, loc, compare(b, loc, ComparePredicate::gt, x, zero), type);
    Value negative =
        asNumber(b, loc, compare(b, loc, ComparePredicate::lt, x, zero), type);
    return mul(b, loc, g, SubOp::create(b, loc, positive, negative));
  });
}

LogicalResult ReluOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    Value zero = scalarLike(b, loc, x, 0);
    Value positive = compare(b, loc, ComparePredicate::gt, x, zero);
    return SelectOp::create(b, loc, positive, g, zero);
  });
}

LogicalResult ExpOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    return mul(b, getLoc(), g, y);
  });
}

LogicalResult LogOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return DivOp::create(b, getLoc(), g, x);
  });
}

LogicalResult SqrtOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    return DivOp::create(b, loc, g, mul(b, loc, y, scalarLike(b, loc, y, 2)));
  });
}

LogicalResult RsqrtOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    // d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 y^3.
    Value cube = mul(b, loc, mul(b, loc, y, y), y);
    return mul(b, loc, g, mul(b, loc, cube, scalarLike(b, loc, y, -0.5)));
  });
}

LogicalResult TanhOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    Value one = scalarLike(b, loc, y, 1);
    return mul(b, loc, g, SubOp::create(b, loc, one, mul(b, loc, y, y)));
  });
}

LogicalResult SigmoidOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    Value one = scalarLike(b, loc, y, 1);
    return mul(b, loc, g, mul(b, loc, y, SubOp::create(b, loc, one, y)));
  });
}

LogicalResult GeluOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    // gelu(x) = x * Phi(x), so gelu'(x) = Phi(x) + x * phi(x) with the
    // normal CDF Phi(x) = (1 + erf(x / sqrt(2))) / 2 (the forward's form) and
    // density phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
    Value erf = ErfOp::create(b, loc, mul(b, loc, x, scalarLike(b, loc, x, M_SQRT1_2)));
    Value cdf = mul(b, loc, AddOp::create(b, loc, erf, scalarLike(b, loc, x, 1)),
                    scalarLike(b, loc, x, 0.5));
    Value gauss = ExpOp::create(
        b, loc, mul(b, loc, mul(b, loc, x, x), scalarLike(b, loc, x, -0.5)));
    Value pdf = mul(b, loc, gauss, scalarLike(b, loc, x, 0.5 * M_2_SQRTPI * M_SQRT1_2));
    return mul(b, loc, g, AddOp::create(b, loc, cdf, mul(b, loc, x, pdf)));
  });
}

LogicalResult ErfOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    // erf'(x) = 2 / sqrt(pi) * exp(-x^2).
    Value gauss = ExpOp::create(b, loc, NegOp::create(b, loc, mul(b, loc, x, x)));
    return mul(b, loc, g, mul(b, loc, gauss, scalarLike(b, loc, x, M_2_SQRTPI)));
  });
}

//===----------------------------------------------------------------------===//
// Binary ops and select
//===----------------------------------------------------------------------===//

LogicalResult AddOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value, Value, Value, Value g) {
                     return std::make_pair(g, g);
                   });
}

LogicalResult SubOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value, Value, Value, Value g) {
                     return std::make_pair(
                         g, NegOp::create(b, getLoc(), g).getResult());
                   });
}

LogicalResult MulOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value lhs, Value rhs, Value, Value g) {
                     return std::make_pair(mul(b, loc, g, rhs),
                                           mul(b, loc, g, lhs));
                   });
}

LogicalResult DivOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return binaryVjp(
      b, *this, cotangents, gradients, [&](Value lhs, Value rhs, Value, Value g) {
        // d(l/r)/dr = -l / r^2.
        Value lhsGrad = DivOp::create(b, loc, g, rhs);
        Value rhsGrad = NegOp::create(
            b, loc,
            DivOp::create(b, loc, mul(b, loc, g, lhs), mul(b, loc, rhs, rhs)));
        return std::make_pair(lhsGrad, rhsGrad);
      });
}

LogicalResult PowOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return binaryVjp(
      b, *this, cotangents, gradients,
      [&](Value lhs, Value rhs, Value y, Value g) {
        Value zero = scalarLike(b, loc, lhs, 0);
        Value one = scalarLike(b, loc, lhs, 1);
        // d/dl = r * l^(r-1), taken as 0 where r == 0 (torch does too: the
        // formula would give 0 * inf at l == 0).
        Value power = PowOp::create(b, loc, lhs, SubOp::create(b, loc, rhs, one));
        Value lhsGrad = SelectOp::create(
            b, loc, compare(b, loc, ComparePredicate::eq, rhs, zero), zero,
            mul(b, loc, mul(b, loc, g, rhs), power));
        // d/dr = l^r * log(l), taken as 0 where l == 0 and r >= 0 (the limit;
        // the formula gives 0 * -inf).
        Value atZero = AndOp::create(
            b, loc, compare(b, loc, ComparePredicate::eq, lhs, zero),
            compare(b, loc, ComparePredicate::ge, rhs, zero));
        Value rhsGrad = SelectOp::create(
            b, loc, atZero, zero,
            mul(b, loc, mul(b, loc, g, y), LogOp::create(b, loc, lhs)));
        return std::make_pair(lhsGrad, rhsGrad);
      });
}

/// maximum/minimum: the cotangent goes to the operand that won; a tie
/// splits it evenly, as torch does.
static std::pair<Value, Value> extremumVjp(OpBuilder &b, Location loc,
                                           ComparePredicate wins, Value lhs,
                                           Value rhs, Value g) {
  Type type = typeOf(lhs).getElementType();
  Value half = scalar(b, loc, type, 0.5);
  Value tie = mul(
      b, loc, asNumber(b, loc, compare(b, loc, ComparePredicate::eq, lhs, rhs), type),
      half);
  Value lhsWeight = AddOp::create(
      b, loc, asNumber(b, loc, compare(b, loc, wins, lhs, rhs), type), tie);
  Value rhsWeight = AddOp::create(
      b, loc, asNumber(b, loc, compare(b, loc, wins, rhs, lhs), type), tie);
  return {mul(b, loc, g, lhsWeight), mul(b, loc, g, rhsWeight)};
}

LogicalResult MaximumOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value lhs, Value rhs, Value, Value g) {
                     return extremumVjp(b, getLoc(), ComparePredicate::gt, lhs,
                                        rhs, g);
                   });
}

LogicalResult MinimumOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value lhs, Value rhs, Value, Value g) {
                     return extremumVjp(b, getLoc(), ComparePredicate::lt, lhs,
                                        rhs, g);
                   });
}

LogicalResult SelectOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value g = cotangents[0];
  gradients.push_back(Value());
  if (!isFloatTensor(getTrueValue())) {
    gradients.append({Value(), Value()});
    return success();
  }
  Value condition = getCondition();
  Value zero = scalarLike(b, loc, g, 0);
  Value onTrue = SelectOp::create(b, loc, condition, g, zero);
  Value onFalse = SelectOp::create(b, loc, condition, zero, g);
  gradients.push_back(sumToShape(b, loc, onTrue, getTrueValue()));
  gradients.push_back(sumToShape(b, loc, onFalse, getFalseValue()));
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

/// The cotangent of a reduction broadcast back over the reduced dims.
template <typename OpTy>
static Value spreadCotangent(OpBuilder &b, OpTy op, Value g) {
  Location loc = op.getLoc();
  Value kept = keepReducedDims(b, loc, g, op.getInput(), op.getDims(),
                               op.getKeepdim());
  return broadcastLike(b, loc, kept, op.getInput());
}

LogicalResult SumOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  gradients.push_back(isFloatTensor(getInput())
                          ? spreadCotangent(b, *this, cotangents[0])
                          : Value());
  return success();
}

LogicalResult MeanOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value input = getInput();
  RankedTensorType type = typeOf(input);
  Type elementType = type.getElementType();
  // The number of averaged elements: a constant when the reduced dims are
  // static, otherwise a product of tensor.dim sizes made into a rank-0
  // tensor.
  int64_t staticCount = 1;
  Value dynamicCount;
  for (int64_t dim : getDims()) {
    if (!type.isDynamicDim(dim)) {
      staticCount *= type.getDimSize(dim);
      continue;
    }
    Value size = tensor::DimOp::create(b, loc, input, dim);
    dynamicCount = dynamicCount
                       ? arith::MulIOp::create(b, loc, dynamicCount, size)
                       : size;
  }
  Value count;
  if (!dynamicCount) {
    count = scalar(b, loc, elementType, static_cast<double>(staticCount));
  } else {
    Value total = arith::MulIOp::create(
        b, loc, dynamicCount, arith::ConstantIndexOp::create(b, loc, staticCount));
    Value asInt = arith::IndexCastOp::create(b, loc, b.getI64Type(), total);
    Value asFloat = arith::SIToFPOp::create(b, loc, elementType, asInt);
    count = tensor::FromElementsOp::create(
        b, loc, RankedTensorType::get({}, elementType), ValueRange{asFloat});
  }
  gradients.push_back(
      DivOp::create(b, loc, spreadCotangent(b, *this, cotangents[0]), count));
  return success();
}

/// max/min over dims: the cotangent goes to the elements equal to the
/// result, split evenly among ties (torch's amax/amin; torch.max(dim) picks
/// one index instead).
template <typename OpTy>
static LogicalResult reduceExtremumVjp(OpBuilder &b, OpTy op,
                                       ValueRange cotangents,
                                       SmallVectorImpl<Value> &gradients) {
  Location loc = op.getLoc();
  Value input = op.getInput();
  if (!isFloatTensor(input)) {
    gradients.push_back(Value());
    return success();
  }
  Type type = typeOf(input).getElementType();
  Value extreme = keepReducedDims(b, loc, op.getResult(), input, op.getDims(),
                                  op.getKeepdim());
  Value hits = asNumber(
      b, loc, compare(b, loc, ComparePredicate::eq, input, extreme), type);
  Value ties = SumOp::create(b, loc, hits, op.getDims(), /*keepdim=*/true);
  Value g = keepReducedDims(b, loc, cotangents[0], input, op.getDims(),
                            op.getKeepdim());
  Value grad = DivOp::create(b, loc, mul(b, loc, g, hits), ties);
  gradients.push_back(reshapeLike(b, loc, grad, input));
  return success();
}

LogicalResult MaxOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return reduceExtremumVjp(b, *this, cotangents, gradients);
}

LogicalResult MinOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return reduceExtremumVjp(b, *this, cotangents, gradients);
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

/// Swaps the last two dims.
static Value transposeLast(OpBuilder &b, Location loc, Value value) {
  int64_t rank = typeOf(value).getRank();
  SmallVector<int64_t> perm;
  for (int64_t i = 0; i < rank - 2; ++i)
    perm.push_back(i);
  perm.append({rank - 1, rank - 2});
  return TransposeOp::create(b, loc, value, perm);
}

LogicalResult MatmulOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value lhs = getLhs(), rhs = getRhs(), g = cotangents[0];
  if (!isFloatTensor(lhs)) {
    gradients.append({Value(), Value()});
    return success();
  }
  // g @ rhs^T and lhs^T @ g have the full batch shape; a broadcast batch dim
  // of an operand is summed back.
  Value lhsGrad = MatmulOp::create(b, loc, g, transposeLast(b, loc, rhs));
  Value rhsGrad = MatmulOp::create(b, loc, transposeLast(b, loc, lhs), g);
  gradients.push_back(sumToShape(b, loc, lhsGrad, lhs));
  gradients.push_back(sumToShape(b, loc, rhsGrad, rhs));
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  // Always a reshape: `?x?` to `?x?` changes the sizes although the types
  // are equal, so reshapeLike's shortcut would be wrong here.
  Value input = getInput();
  gradients.push_back(
      isFloatTensor(input)
          ? ReshapeOp::create(b, getLoc(), input.getType(), cotangents[0],
                              dynamicSizes(b, getLoc(), input))
                .getResult()
          : Value());
  gradients.append(getSizes().size(), Value());
  return success();
}

LogicalResult BroadcastToOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                      SmallVectorImpl<Value> &gradients) {
  gradients.push_back(isFloatTensor(getInput())
                          ? sumToShape(b, getLoc(), cotangents[0], getInput())
                          : Value());
  gradients.append(getSizes().size(), Value());
  return success();
}

LogicalResult TransposeOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &gradients) {
  if (!isFloatTensor(getInput())) {
    gradients.push_back(Value());
    return success();
  }
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = i;
  gradients.push_back(TransposeOp::create(b, getLoc(), cotangents[0], inverse));
  return success();
}

LogicalResult SliceOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value input = getInput();
  // Run-time bounds (index operands) get no gradient.
  auto boundsHaveNone = llvm::make_scope_exit([&] {
    gradients.append(getDynamicStart().size() + getDynamicStop().size(), Value());
  });
  if (!isFloatTensor(input)) {
    gradients.push_back(Value());
    return success();
  }
  // The cotangent lands in the window the slice read; the rest gets zeros.
  gradients.push_back(InsertSliceOp::create(
      b, loc, input.getType(), cotangents[0], zerosLike(b, loc, input),
      getDynamicStart(), getDynamicStop(), getStart(), getStop(), getStep()));
  return success();
}

LogicalResult InsertSliceOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                      SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value source = getSource(), g = cotangents[0];
  auto boundsHaveNone = llvm::make_scope_exit([&] {
    gradients.append(getDynamicStart().size() + getDynamicStop().size(), Value());
  });
  if (!isFloatTensor(source)) {
    gradients.append({Value(), Value()});
    return success();
  }
  Value window = SliceOp::create(b, loc, g, getDynamicStart(), getDynamicStop(),
                                 getStart(), getStop(), getStep());
  gradients.push_back(reshapeLike(b, loc, window, source));
  // The overwritten window does not reach the result.
  gradients.push_back(InsertSliceOp::create(
      b, loc, g.getType(), zerosLike(b, loc, source), g, getDynamicStart(),
      getDynamicStop(), getStart(), getStop(), getStep()));
  return success();
}

LogicalResult GatherOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value input = getInput();
  // Rows picked several times get the sum of their cotangents.
  gradients.push_back(isFloatTensor(input)
                          ? ScatterAddOp::create(b, loc, zerosLike(b, loc, input),
                                                 getIndices(), cotangents[0],
                                                 getDim())
                                .getResult()
                          : Value());
  gradients.push_back(Value());
  return success();
}

LogicalResult ScatterAddOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                     SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value g = cotangents[0];
  if (!isFloatTensor(getDest())) {
    gradients.append({Value(), Value(), Value()});
    return success();
  }
  gradients.push_back(g);
  gradients.push_back(Value());
  Value picked = GatherOp::create(b, loc, g, getIndices(), getDim());
  gradients.push_back(reshapeLike(b, loc, picked, getUpdates()));
  return success();
}

LogicalResult ConcatOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  ValueRange inputs = getInputs();
  if (!isFloatTensor(inputs.front())) {
    gradients.append(inputs.size(), Value());
    return success();
  }
  int64_t dim = getDim();
  int64_t rank = typeOf(inputs.front()).getRank();
  SmallVector<int64_t> sizes;
  for (Value input : inputs)
    sizes.push_back(typeOf(input).getDimSize(dim));
  // ember.slice bounds are attributes: each input's window must be
  // expressible from the front (static sizes before it) or from the back
  // (negative bounds: static sizes after it).
  auto staticSum = [&](size_t begin, size_t end) -> std::optional<int64_t> {
    int64_t total = 0;
    for (size_t i = begin; i < end; ++i) {
      if (ShapedType::isDynamic(sizes[i]))
        return std::nullopt;
      total += sizes[i];
    }
    return total;
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::optional<int64_t> before = staticSum(0, i);
    std::optional<int64_t> upTo = staticSum(0, i + 1);
    std::optional<int64_t> after = staticSum(i + 1, inputs.size());
    std::optional<int64_t> from = staticSum(i, inputs.size());
    if ((!before && !from) || (!upTo && !after))
      return emitOpError("has no gradient rule for input ")
             << i << ": its offset along dim " << dim
             << " depends on several dynamic sizes";
    SmallVector<int64_t> start(rank, 0), stop(rank, kToEnd), step(rank, 1);
    // An empty window at the end must not start at -0 == 0.
    start[dim] = before ? *before : (*from == 0 ? kToEnd : -*from);
    stop[dim] = upTo ? *upTo : (*after == 0 ? kToEnd : -*after);
    Value window = SliceOp::create(b, loc, cotangents[0], start, stop, step);
    gradients.push_back(reshapeLike(b, loc, window, inputs[i]));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Softmax, log_softmax
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value y = getResult(), g = cotangents[0];
  // y * (g - sum(g * y)) along dim.
  SmallVector<int64_t> dims = {static_cast<int64_t>(getDim())};
  Value dot = SumOp::create(b, loc, mul(b, loc, g, y), dims, /*keepdim=*/true);
  gradients.push_back(mul(b, loc, y, SubOp::create(b, loc, g, dot)));
  return success();
}

LogicalResult LogSoftmaxOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                     SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value y = getResult(), g = cotangents[0];
  // g - softmax(x) * sum(g) along dim, with softmax(x) = exp(y).
  SmallVector<int64_t> dims = {static_cast<int64_t>(getDim())};
  Value total = SumOp::create(b, loc, g, dims, /*keepdim=*/true);
  gradients.push_back(SubOp::create(
      b, loc, g, mul(b, loc, ExpOp::create(b, loc, y), total)));
  return success();
}
