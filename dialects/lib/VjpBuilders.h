//===- VjpBuilders.h - helpers shared by the VJP rules ----------*- C++ -*-===//
//
// Small builders the VJP rules of EmberVjp.cpp (reductions, shapes) and
// EmberElementwise.cpp (element-wise ops) share: constants, broadcasting
// back to an operand's shape, and the common shapes of unary and binary
// rules.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_DIALECT_LIB_VJPBUILDERS_H
#define EMBER_DIALECT_LIB_VJPBUILDERS_H

#include "ember/Dialect/EmberInterfaces.h"
#include "ember/Dialect/EmberOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <limits>

namespace ember::vjp {
using namespace mlir;

/// `stop` meaning "to the end of the dim" in slice attributes.
inline constexpr int64_t kToEnd = std::numeric_limits<int64_t>::max();

inline RankedTensorType typeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

inline bool isFloatTensor(Value value) {
  return isa<FloatType>(typeOf(value).getElementType());
}

/// A rank-0 constant; binary ops broadcast it to the other operand's shape.
inline Value scalar(OpBuilder &b, Location loc, Type elementType, double value) {
  auto type = RankedTensorType::get({}, elementType);
  Attribute element =
      isa<FloatType>(elementType)
          ? Attribute(b.getFloatAttr(elementType, value))
          : Attribute(b.getIntegerAttr(elementType, static_cast<int64_t>(value)));
  return ConstantOp::create(b, loc, DenseElementsAttr::get(type, element));
}

inline Value scalarLike(OpBuilder &b, Location loc, Value like, double value) {
  return scalar(b, loc, typeOf(like).getElementType(), value);
}

/// The sizes of `like`'s dynamic dims, in order: the size operands that
/// reshape and broadcast_to take to produce `like`'s type.
inline SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, Value like) {
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
inline Value reshapeLike(OpBuilder &b, Location loc, Value value, Value like) {
  if (value.getType() == like.getType())
    return value;
  return ReshapeOp::create(b, loc, like.getType(), value,
                           dynamicSizes(b, loc, like));
}

/// `value` broadcast to `like`'s type.
inline Value broadcastLike(OpBuilder &b, Location loc, Value value, Value like) {
  if (value.getType() == like.getType())
    return value;
  return BroadcastToOp::create(b, loc, like.getType(), value,
                               dynamicSizes(b, loc, like));
}

inline Value zerosLike(OpBuilder &b, Location loc, Value like) {
  return broadcastLike(b, loc, scalarLike(b, loc, like, 0), like);
}

/// Sums a gradient shaped like a broadcast result back to `target`'s shape:
/// over the leading dims `target` lacks and the dims where `target` has a
/// static 1 that the result stretched.
inline Value sumToShape(OpBuilder &b, Location loc, Value grad, Value target) {
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
inline Value keepReducedDims(OpBuilder &b, Location loc, Value reduced, Value input,
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

inline Value compare(OpBuilder &b, Location loc, ComparePredicate predicate, Value lhs,
              Value rhs) {
  return CompareOp::create(b, loc, predicate, lhs, rhs);
}

/// A bool tensor as 0/1 in `elementType`.
inline Value asNumber(OpBuilder &b, Location loc, Value mask, Type elementType) {
  return CastOp::create(b, loc, typeOf(mask).clone(elementType), mask);
}

inline Value mul(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return MulOp::create(b, loc, lhs, rhs);
}

/// The shared shape of the element-wise unary rules: a float operand gets
/// `rule(x, y, g)`, an integer one no gradient.
template <typename Rule>
inline LogicalResult unaryVjp(Operation *op, ValueRange cotangents,
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
inline LogicalResult binaryVjp(OpBuilder &b, Operation *op, ValueRange cotangents,
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


} // namespace ember::vjp

#endif // EMBER_DIALECT_LIB_VJPBUILDERS_H
