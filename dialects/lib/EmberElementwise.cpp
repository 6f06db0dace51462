//===- EmberElementwise.cpp - element-wise ops: scalar bodies and VJPs ----===//
//
// Every element-wise ember op in one place, each as its `buildScalar` (the
// computation on one element, which lowering wraps in a loop nest; see
// ElementwiseOpInterface) next to its `buildVjp`. Adding an element-wise op
// is its ODS definition in EmberOps.td and these two rules; the frontend's
// op table and the Python bindings follow from ODS.
//
// Scalar bodies see f32, f64, i32, i64 or i1 values: f16/bf16 ops are
// widened to f32 before lowering.
//
//===----------------------------------------------------------------------===//

#include "VjpBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace ember;
using namespace ember::vjp;

//===----------------------------------------------------------------------===//
// Scalar helpers
//===----------------------------------------------------------------------===//

namespace {

Value constant(OpBuilder &b, Location loc, Type type, double value) {
  if (auto floatType = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(floatType, value));
  return arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(type, static_cast<int64_t>(value)));
}

bool isFloat(Value value) { return isa<FloatType>(value.getType()); }

bool isHalf(Type type) { return type.isF16() || type.isBF16(); }

/// An integer divisor with 0 replaced by 1: an integer division by zero
/// would trap (SIGFPE) and take the process down; torch raises instead, and
/// here the quotient of such an element is the dividend.
Value safeDivisor(OpBuilder &b, Location loc, Value divisor) {
  Value zero = constant(b, loc, divisor.getType(), 0);
  Value isZero =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, divisor, zero);
  return arith::SelectOp::create(b, loc, isZero,
                                 constant(b, loc, divisor.getType(), 1), divisor);
}

Value convertScalar(OpBuilder &b, Location loc, Value value, Type to) {
  Type from = value.getType();
  if (from == to)
    return value;
  if (to.isInteger(1)) {
    Value zero = constant(b, loc, from, 0);
    if (isa<FloatType>(from))
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, value,
                                   zero);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, value, zero);
  }
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  if (fromFloat && toFloat) {
    // f16 and bf16 are made from f32, as torch makes them: f64 rounds to f32
    // first (a direct f64 -> bf16 would also call __truncdfbf2, which libgcc
    // lacks), and f16 <-> bf16 has no direct conversion.
    if (isHalf(to) && !from.isF32()) {
      Type f32 = b.getF32Type();
      Value single = from.isF64()
                         ? arith::TruncFOp::create(b, loc, f32, value).getResult()
                         : arith::ExtFOp::create(b, loc, f32, value).getResult();
      return arith::TruncFOp::create(b, loc, to, single);
    }
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, to, value);
    return arith::TruncFOp::create(b, loc, to, value);
  }
  if (!fromFloat && toFloat) {
    if (from.isInteger(1))
      return arith::UIToFPOp::create(b, loc, to, value);
    return arith::SIToFPOp::create(b, loc, to, value);
  }
  if (fromFloat && !toFloat)
    return arith::FPToSIOp::create(b, loc, to, value);
  if (from.isInteger(1))
    return arith::ExtUIOp::create(b, loc, to, value);
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtSIOp::create(b, loc, to, value);
  return arith::TruncIOp::create(b, loc, to, value);
}

/// Tensor-level helpers for the VJP rules below.
Value add(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return AddOp::create(b, loc, lhs, rhs);
}
Value sub(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return SubOp::create(b, loc, lhs, rhs);
}
Value div(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return DivOp::create(b, loc, lhs, rhs);
}

/// The zero gradient of a piecewise-constant function (floor, sign, ...).
template <typename OpTy>
LogicalResult zeroVjp(OpTy op, OpBuilder &b, ValueRange cotangents,
                      SmallVectorImpl<Value> &gradients) {
  return unaryVjp(op, cotangents, gradients, [&](Value, Value, Value g) {
    return zerosLike(b, op.getLoc(), g);
  });
}

} // namespace

//===----------------------------------------------------------------------===//
// Cast and unary ops
//===----------------------------------------------------------------------===//

Value CastOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return convertScalar(b, loc, args[0], getType().getElementType());
}

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

Value NegOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  if (isa<FloatType>(x.getType()))
    return arith::NegFOp::create(b, loc, x);
  return arith::SubIOp::create(b, loc, constant(b, loc, x.getType(), 0), x);
}

LogicalResult NegOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value, Value g) {
    return NegOp::create(b, getLoc(), g);
  });
}

Value AbsOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  if (isa<FloatType>(x.getType()))
    return math::AbsFOp::create(b, loc, x);
  // x < 0 ? -x : x (math.absi has no LLVM lowering in MLIR 22).
  Value zero = constant(b, loc, x.getType(), 0);
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, zero);
  return arith::SelectOp::create(b, loc, negative,
                                 arith::SubIOp::create(b, loc, zero, x), x);
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

Value ReluOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  Value zero = constant(b, loc, x.getType(), 0);
  // maximumf propagates NaN, like torch.relu.
  if (isa<FloatType>(x.getType()))
    return arith::MaximumFOp::create(b, loc, x, zero);
  return arith::MaxSIOp::create(b, loc, x, zero);
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

Value ExpOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::ExpOp::create(b, loc, args[0]);
}

LogicalResult ExpOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    return mul(b, getLoc(), g, y);
  });
}

Value LogOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::LogOp::create(b, loc, args[0]);
}

LogicalResult LogOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return DivOp::create(b, getLoc(), g, x);
  });
}

Value SqrtOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::SqrtOp::create(b, loc, args[0]);
}

LogicalResult SqrtOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    return DivOp::create(b, loc, g, mul(b, loc, y, scalarLike(b, loc, y, 2)));
  });
}

Value RsqrtOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  // 1 / sqrt(x): libm has no rsqrt for math-to-libm to call.
  Value one = constant(b, loc, args[0].getType(), 1);
  return arith::DivFOp::create(b, loc, one, math::SqrtOp::create(b, loc, args[0]));
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

Value TanhOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::TanhOp::create(b, loc, args[0]);
}

LogicalResult TanhOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    Value one = scalarLike(b, loc, y, 1);
    return mul(b, loc, g, SubOp::create(b, loc, one, mul(b, loc, y, y)));
  });
}

Value SigmoidOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0];
  Value one = constant(b, loc, x.getType(), 1);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one, arith::AddFOp::create(b, loc, one, e));
}

LogicalResult SigmoidOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    Value one = scalarLike(b, loc, y, 1);
    return mul(b, loc, g, mul(b, loc, y, SubOp::create(b, loc, one, y)));
  });
}

Value GeluOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  // gelu(x) = 0.5 * x * (1 + erf(x / sqrt(2))), torch's default form.
  Value x = args[0];
  Type type = x.getType();
  Value erf = math::ErfOp::create(
      b, loc, arith::MulFOp::create(b, loc, x, constant(b, loc, type, M_SQRT1_2)));
  Value scaled = arith::MulFOp::create(b, loc, constant(b, loc, type, 0.5), x);
  return arith::MulFOp::create(
      b, loc, scaled, arith::AddFOp::create(b, loc, constant(b, loc, type, 1), erf));
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

Value ErfOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::ErfOp::create(b, loc, args[0]);
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

Value AddOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  if (isa<FloatType>(args[0].getType()))
    return arith::AddFOp::create(b, loc, args[0], args[1]);
  return arith::AddIOp::create(b, loc, args[0], args[1]);
}

LogicalResult AddOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value, Value, Value, Value g) {
                     return std::make_pair(g, g);
                   });
}

Value SubOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  if (isa<FloatType>(args[0].getType()))
    return arith::SubFOp::create(b, loc, args[0], args[1]);
  return arith::SubIOp::create(b, loc, args[0], args[1]);
}

LogicalResult SubOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value, Value, Value, Value g) {
                     return std::make_pair(
                         g, NegOp::create(b, getLoc(), g).getResult());
                   });
}

Value MulOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  if (isa<FloatType>(args[0].getType()))
    return arith::MulFOp::create(b, loc, args[0], args[1]);
  return arith::MulIOp::create(b, loc, args[0], args[1]);
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

Value DivOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  if (isa<FloatType>(args[0].getType()))
    return arith::DivFOp::create(b, loc, args[0], args[1]);
  return arith::DivSIOp::create(b, loc, args[0], safeDivisor(b, loc, args[1]));
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

Value PowOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::PowFOp::create(b, loc, args[0], args[1]);
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

Value MaximumOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  if (isa<FloatType>(args[0].getType()))
    return arith::MaximumFOp::create(b, loc, args[0], args[1]);
  return arith::MaxSIOp::create(b, loc, args[0], args[1]);
}

LogicalResult MaximumOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value lhs, Value rhs, Value, Value g) {
                     return extremumVjp(b, getLoc(), ComparePredicate::gt, lhs,
                                        rhs, g);
                   });
}

Value MinimumOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  if (isa<FloatType>(args[0].getType()))
    return arith::MinimumFOp::create(b, loc, args[0], args[1]);
  return arith::MinSIOp::create(b, loc, args[0], args[1]);
}

LogicalResult MinimumOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value lhs, Value rhs, Value, Value g) {
                     return extremumVjp(b, getLoc(), ComparePredicate::lt, lhs,
                                        rhs, g);
                   });
}

Value SelectOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return arith::SelectOp::create(b, loc, args[0], args[1], args[2]);
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


Value NotOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  // x ^ ~0 flips every bit; on i1 that is logical not.
  Type type = args[0].getType();
  Value ones = arith::ConstantOp::create(
      b, loc,
      b.getIntegerAttr(type, APInt::getAllOnes(type.getIntOrFloatBitWidth())));
  return arith::XOrIOp::create(b, loc, args[0], ones);
}

Value AndOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return arith::AndIOp::create(b, loc, args[0], args[1]);
}

Value OrOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return arith::OrIOp::create(b, loc, args[0], args[1]);
}

Value XorOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return arith::XOrIOp::create(b, loc, args[0], args[1]);
}


//===----------------------------------------------------------------------===//
// Comparison
//===----------------------------------------------------------------------===//

Value CompareOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  Value x = args[0], y = args[1];
  Type type = x.getType();
  ComparePredicate predicate = getPredicate();
  if (isa<FloatType>(type)) {
    // Ordered predicates, except `ne` which is true for NaN (as in torch).
    arith::CmpFPredicate p = arith::CmpFPredicate::OEQ;
    switch (predicate) {
    case ComparePredicate::eq: p = arith::CmpFPredicate::OEQ; break;
    case ComparePredicate::ne: p = arith::CmpFPredicate::UNE; break;
    case ComparePredicate::lt: p = arith::CmpFPredicate::OLT; break;
    case ComparePredicate::le: p = arith::CmpFPredicate::OLE; break;
    case ComparePredicate::gt: p = arith::CmpFPredicate::OGT; break;
    case ComparePredicate::ge: p = arith::CmpFPredicate::OGE; break;
    }
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  // Bools compare as unsigned (false < true); other integers are signed.
  bool isBool = type.isInteger(1);
  arith::CmpIPredicate p = arith::CmpIPredicate::eq;
  switch (predicate) {
  case ComparePredicate::eq: p = arith::CmpIPredicate::eq; break;
  case ComparePredicate::ne: p = arith::CmpIPredicate::ne; break;
  case ComparePredicate::lt:
    p = isBool ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt;
    break;
  case ComparePredicate::le:
    p = isBool ? arith::CmpIPredicate::ule : arith::CmpIPredicate::sle;
    break;
  case ComparePredicate::gt:
    p = isBool ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt;
    break;
  case ComparePredicate::ge:
    p = isBool ? arith::CmpIPredicate::uge : arith::CmpIPredicate::sge;
    break;
  }
  return arith::CmpIOp::create(b, loc, p, x, y);
}

//===----------------------------------------------------------------------===//
// Sign and rounding: zero gradients
//===----------------------------------------------------------------------===//

Value SignOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  // x > 0 ? 1 : (x < 0 ? -1 : x): zero stays zero and NaN stays NaN.
  Value x = args[0];
  Type type = x.getType();
  Value zero = constant(b, loc, type, 0);
  Value positive, negative;
  if (isFloat(x)) {
    positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
    negative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, zero);
  } else {
    positive = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, x, zero);
    negative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, zero);
  }
  Value rest = arith::SelectOp::create(b, loc, negative,
                                       constant(b, loc, type, -1), x);
  return arith::SelectOp::create(b, loc, positive, constant(b, loc, type, 1),
                                 rest);
}

LogicalResult SignOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  return zeroVjp(*this, b, cotangents, gradients);
}

Value FloorOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::FloorOp::create(b, loc, args[0]);
}

LogicalResult FloorOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  return zeroVjp(*this, b, cotangents, gradients);
}

Value CeilOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::CeilOp::create(b, loc, args[0]);
}

LogicalResult CeilOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  return zeroVjp(*this, b, cotangents, gradients);
}

Value RoundOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  // torch.round rounds halves to even (math.round would round them away).
  return math::RoundEvenOp::create(b, loc, args[0]);
}

LogicalResult RoundOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  return zeroVjp(*this, b, cotangents, gradients);
}

Value TruncOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::TruncOp::create(b, loc, args[0]);
}

LogicalResult TruncOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  return zeroVjp(*this, b, cotangents, gradients);
}

//===----------------------------------------------------------------------===//
// Exponentials and logarithms
//===----------------------------------------------------------------------===//

Value Exp2Op::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::Exp2Op::create(b, loc, args[0]);
}

LogicalResult Exp2Op::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    return mul(b, loc, g, mul(b, loc, y, scalarLike(b, loc, y, M_LN2)));
  });
}

Value Expm1Op::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::ExpM1Op::create(b, loc, args[0]);
}

LogicalResult Expm1Op::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    return mul(b, loc, g, add(b, loc, y, scalarLike(b, loc, y, 1)));
  });
}

Value Log2Op::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::Log2Op::create(b, loc, args[0]);
}

LogicalResult Log2Op::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return div(b, loc, g, mul(b, loc, x, scalarLike(b, loc, x, M_LN2)));
  });
}

Value Log10Op::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::Log10Op::create(b, loc, args[0]);
}

LogicalResult Log10Op::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return div(b, loc, g, mul(b, loc, x, scalarLike(b, loc, x, M_LN10)));
  });
}

Value Log1pOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::Log1pOp::create(b, loc, args[0]);
}

LogicalResult Log1pOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return div(b, loc, g, add(b, loc, x, scalarLike(b, loc, x, 1)));
  });
}

//===----------------------------------------------------------------------===//
// Trigonometric and hyperbolic functions
//===----------------------------------------------------------------------===//

Value SinOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::SinOp::create(b, loc, args[0]);
}

LogicalResult SinOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return mul(b, loc, g, CosOp::create(b, loc, x));
  });
}

Value CosOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::CosOp::create(b, loc, args[0]);
}

LogicalResult CosOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return NegOp::create(b, loc, mul(b, loc, g, SinOp::create(b, loc, x)));
  });
}

Value TanOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::TanOp::create(b, loc, args[0]);
}

LogicalResult TanOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    // tan' = 1 + tan^2.
    return mul(b, loc, g, add(b, loc, mul(b, loc, y, y), scalarLike(b, loc, y, 1)));
  });
}

Value AsinOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::AsinOp::create(b, loc, args[0]);
}

LogicalResult AsinOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    // 1 / sqrt(1 - x^2).
    Value root = sub(b, loc, scalarLike(b, loc, x, 1), mul(b, loc, x, x));
    return mul(b, loc, g, RsqrtOp::create(b, loc, root));
  });
}

Value AcosOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::AcosOp::create(b, loc, args[0]);
}

LogicalResult AcosOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    // -1 / sqrt(1 - x^2).
    Value root = sub(b, loc, scalarLike(b, loc, x, 1), mul(b, loc, x, x));
    return NegOp::create(b, loc, mul(b, loc, g, RsqrtOp::create(b, loc, root)));
  });
}

Value AtanOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::AtanOp::create(b, loc, args[0]);
}

LogicalResult AtanOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return div(b, loc, g, add(b, loc, mul(b, loc, x, x), scalarLike(b, loc, x, 1)));
  });
}

Value SinhOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::SinhOp::create(b, loc, args[0]);
}

LogicalResult SinhOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return mul(b, loc, g, CoshOp::create(b, loc, x));
  });
}

Value CoshOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::CoshOp::create(b, loc, args[0]);
}

LogicalResult CoshOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return mul(b, loc, g, SinhOp::create(b, loc, x));
  });
}

Value AsinhOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::AsinhOp::create(b, loc, args[0]);
}

LogicalResult AsinhOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    Value root = add(b, loc, mul(b, loc, x, x), scalarLike(b, loc, x, 1));
    return mul(b, loc, g, RsqrtOp::create(b, loc, root));
  });
}

Value AcoshOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::AcoshOp::create(b, loc, args[0]);
}

LogicalResult AcoshOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    Value root = sub(b, loc, mul(b, loc, x, x), scalarLike(b, loc, x, 1));
    return mul(b, loc, g, RsqrtOp::create(b, loc, root));
  });
}

Value AtanhOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::AtanhOp::create(b, loc, args[0]);
}

LogicalResult AtanhOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    return div(b, loc, g, sub(b, loc, scalarLike(b, loc, x, 1), mul(b, loc, x, x)));
  });
}

//===----------------------------------------------------------------------===//
// Error functions
//===----------------------------------------------------------------------===//

Value ErfcOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return math::ErfcOp::create(b, loc, args[0]);
}

LogicalResult ErfcOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value x, Value, Value g) {
    // erfc'(x) = -2 / sqrt(pi) * exp(-x^2).
    Value gauss = ExpOp::create(b, loc, NegOp::create(b, loc, mul(b, loc, x, x)));
    return mul(b, loc, g, mul(b, loc, gauss, scalarLike(b, loc, x, -M_2_SQRTPI)));
  });
}

Value ErfinvOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  // M. Giles' single-precision approximation ("Approximating the erfinv
  // function", GPU Computing Gems, 2011), then Newton steps on erf(y) = x
  // for full f64 accuracy. |x| = 1 gives +-inf, |x| > 1 NaN (the log's).
  Value x = args[0];
  Type type = x.getType();
  auto c = [&](double v) { return constant(b, loc, type, v); };
  auto fmul = [&](Value l, Value r) { return arith::MulFOp::create(b, loc, l, r); };
  auto fadd = [&](Value l, Value r) { return arith::AddFOp::create(b, loc, l, r); };
  auto fsub = [&](Value l, Value r) { return arith::SubFOp::create(b, loc, l, r); };
  auto horner = [&](Value w, ArrayRef<double> coefficients) {
    Value p = c(coefficients.front());
    for (double k : coefficients.drop_front())
      p = fadd(c(k), fmul(p, w));
    return p;
  };
  Value one = c(1);
  Value w = arith::NegFOp::create(
      b, loc,
      math::LogOp::create(b, loc, fmul(fsub(one, x), fadd(one, x))));
  Value central = horner(fsub(w, c(2.5)),
                         {2.81022636e-08, 3.43273939e-07, -3.5233877e-06,
                          -4.39150654e-06, 0.00021858087, -0.00125372503,
                          -0.00417768164, 0.246640727, 1.50140941});
  Value tail = horner(fsub(math::SqrtOp::create(b, loc, w), c(3)),
                      {-0.000200214257, 0.000100950558, 0.00134934322,
                       -0.00367342844, 0.00573950773, -0.0076224613,
                       0.00943887047, 1.00167406, 2.83297682});
  Value isCentral =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, w, c(5));
  Value y = fmul(arith::SelectOp::create(b, loc, isCentral, central, tail), x);
  int steps = type.isF64() ? 2 : 1;
  for (int i = 0; i < steps; ++i) {
    // y -= (erf(y) - x) / (2 / sqrt(pi) * exp(-y^2))
    Value slope = fmul(c(M_2_SQRTPI),
                       math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, fmul(y, y))));
    Value step = arith::DivFOp::create(
        b, loc, fsub(math::ErfOp::create(b, loc, y), x), slope);
    y = fsub(y, step);
  }
  Value edge = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                     math::AbsFOp::create(b, loc, x), one);
  Value infinity = math::CopySignOp::create(
      b, loc, c(std::numeric_limits<double>::infinity()), x);
  return arith::SelectOp::create(b, loc, edge, infinity, y);
}

LogicalResult ErfinvOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return unaryVjp(*this, cotangents, gradients, [&](Value, Value y, Value g) {
    // erfinv'(x) = sqrt(pi) / 2 * exp(erfinv(x)^2).
    Value gauss = ExpOp::create(b, loc, mul(b, loc, y, y));
    return mul(b, loc, g, mul(b, loc, gauss, scalarLike(b, loc, y, 0.5 * std::sqrt(M_PI))));
  });
}

//===----------------------------------------------------------------------===//
// atan2, fmod, remainder
//===----------------------------------------------------------------------===//

Value Atan2Op::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  // atan2(+-0, +0) = +-0 and atan2(+-0, -0) = +-pi, as libm gives; the
  // polynomial approximation of math.atan2 returns NaN there.
  Value y = args[0], x = args[1];
  Type type = y.getType();
  Value zero = constant(b, loc, type, 0);
  Value bothZero = arith::AndIOp::create(
      b, loc, arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, y, zero),
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, zero));
  // x is -0 exactly when 1/x is -inf.
  Value negativeZero = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OLT,
      arith::DivFOp::create(b, loc, constant(b, loc, type, 1), x), zero);
  Value magnitude = arith::SelectOp::create(b, loc, negativeZero,
                                            constant(b, loc, type, M_PI), zero);
  Value atZero = math::CopySignOp::create(b, loc, magnitude, y);
  return arith::SelectOp::create(b, loc, bothZero, atZero,
                                 math::Atan2Op::create(b, loc, y, x));
}

LogicalResult Atan2Op::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value lhs, Value rhs, Value, Value g) {
                     // d/dl = r / (l^2 + r^2), d/dr = -l / (l^2 + r^2).
                     Value norm = add(b, loc, mul(b, loc, lhs, lhs),
                                      mul(b, loc, rhs, rhs));
                     Value scale = div(b, loc, g, norm);
                     return std::make_pair(
                         mul(b, loc, scale, rhs),
                         NegOp::create(b, loc, mul(b, loc, scale, lhs)).getResult());
                   });
}

Value FmodOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  if (isFloat(args[0]))
    return arith::RemFOp::create(b, loc, args[0], args[1]);
  return arith::RemSIOp::create(b, loc, args[0], safeDivisor(b, loc, args[1]));
}

LogicalResult FmodOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value lhs, Value rhs, Value, Value g) {
                     // fmod(l, r) = l - r * trunc(l / r).
                     Value quotient = TruncOp::create(b, loc, div(b, loc, lhs, rhs));
                     return std::make_pair(
                         g, NegOp::create(b, loc, mul(b, loc, g, quotient)).getResult());
                   });
}

Value RemainderOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  // The truncated remainder, moved by one divisor when its sign differs
  // from the divisor's (Python's %).
  Value x = args[0], y = args[1];
  Type type = x.getType();
  Value zero = constant(b, loc, type, 0);
  Value r, rNonZero, rNegative, yNegative;
  if (isFloat(x)) {
    r = arith::RemFOp::create(b, loc, x, y);
    rNonZero = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE, r, zero);
    rNegative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, r, zero);
    yNegative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, y, zero);
  } else {
    r = arith::RemSIOp::create(b, loc, x, safeDivisor(b, loc, y));
    rNonZero = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, r, zero);
    rNegative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r, zero);
    yNegative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, y, zero);
  }
  Value signsDiffer = arith::XOrIOp::create(b, loc, rNegative, yNegative);
  Value adjust = arith::AndIOp::create(b, loc, rNonZero, signsDiffer);
  Value moved = isFloat(x) ? arith::AddFOp::create(b, loc, r, y).getResult()
                           : arith::AddIOp::create(b, loc, r, y).getResult();
  return arith::SelectOp::create(b, loc, adjust, moved, r);
}

LogicalResult RemainderOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  return binaryVjp(b, *this, cotangents, gradients,
                   [&](Value lhs, Value rhs, Value, Value g) {
                     // remainder(l, r) = l - r * floor(l / r).
                     Value quotient = FloorOp::create(b, loc, div(b, loc, lhs, rhs));
                     return std::make_pair(
                         g, NegOp::create(b, loc, mul(b, loc, g, quotient)).getResult());
                   });
}

//===----------------------------------------------------------------------===//
// Shifts
//===----------------------------------------------------------------------===//

/// A shift amount of the bit width or more (or negative) is poison in LLVM;
/// torch gives 0 (left) or the sign fill (right), so clamp it to width - 1
/// and finish the left shift by hand.
static Value shift(OpBuilder &b, Location loc, Value x, Value amount, bool left) {
  Type type = x.getType();
  unsigned width = type.getIntOrFloatBitWidth();
  Value last = constant(b, loc, type, width - 1);
  Value tooFar = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, amount, last);
  Value clamped = arith::SelectOp::create(b, loc, tooFar, last, amount);
  if (!left)
    return arith::ShRSIOp::create(b, loc, x, clamped);
  Value shifted = arith::ShLIOp::create(b, loc, x, clamped);
  return arith::SelectOp::create(b, loc, tooFar, constant(b, loc, type, 0), shifted);
}

Value ShiftLeftOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return shift(b, loc, args[0], args[1], /*left=*/true);
}

Value ShiftRightOp::buildScalar(OpBuilder &b, Location loc, ValueRange args) {
  return shift(b, loc, args[0], args[1], /*left=*/false);
}
