//===- RowLoops.cpp - ops over the innermost dim, one row at a time -------===//

#include "RowLoops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace ember;

SmallVector<Value> rows::buildColumnLoop(OpBuilder &b, Location loc, Value n,
                                         ValueRange inits, ColumnBodyFn body) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, zero, n, one, inits,
      [&](OpBuilder &nb, Location nl, Value column, ValueRange carried) {
        scf::YieldOp::create(nb, nl, body(nb, nl, column, carried));
      });
  return SmallVector<Value>(loop.getResults());
}

Value rows::buildRowsForall(OpBuilder &b, Location loc, ValueRange operands,
                            Type resultElementType, RowBodyFn body) {
  return buildIndexedRowsForall(
      b, loc, operands, resultElementType,
      [&](OpBuilder &rb, Location rl, ValueRange, ValueRange operandRows,
          Value resultRow) { return body(rb, rl, operandRows, resultRow); });
}

Value rows::buildIndexedRowsForall(OpBuilder &b, Location loc,
                                   ValueRange operands, Type resultElementType,
                                   IndexedRowBodyFn body) {
  auto type = cast<RankedTensorType>(operands.front().getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes =
      tensor::getMixedSizes(b, loc, operands.front());
  Value init = tensor::EmptyOp::create(b, loc, sizes, resultElementType);
  if (rank == 1)
    return body(b, loc, ValueRange(), operands, init);

  SmallVector<OpFoldResult> rowCounts(sizes.begin(), sizes.end() - 1);
  auto forall = scf::ForallOp::create(b, loc, rowCounts, ValueRange{init},
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  // Row i is [i..., 0] of extent [1..., n]; the slices drop the unit dims.
  SmallVector<OpFoldResult> offsets =
      getAsOpFoldResult(ValueRange(forall.getInductionVars()));
  offsets.push_back(b.getIndexAttr(0));
  SmallVector<OpFoldResult> extents(rank - 1, b.getIndexAttr(1));
  extents.push_back(sizes.back());
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  auto rowType = [&](Type element) {
    return RankedTensorType::get({type.getShape().back()}, element);
  };
  SmallVector<Value> operandRows;
  for (Value operand : operands) {
    Type element = cast<RankedTensorType>(operand.getType()).getElementType();
    operandRows.push_back(tensor::ExtractSliceOp::create(
        b, loc, rowType(element), operand, offsets, extents, strides));
  }
  Value shared = forall.getRegionIterArgs().front();
  Value resultRow = tensor::ExtractSliceOp::create(
      b, loc, rowType(resultElementType), shared, offsets, extents, strides);
  Value written =
      body(b, loc, forall.getInductionVars(), operandRows, resultRow);
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, written, shared, offsets,
                                        extents, strides);
  return forall.getResult(0);
}

Value rows::innermostSize(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  int64_t last = type.getRank() - 1;
  if (!type.isDynamicDim(last))
    return arith::ConstantIndexOp::create(b, loc, type.getDimSize(last));
  return tensor::DimOp::create(b, loc, tensor, last);
}

rows::ElementAccess::ElementAccess(Type elementType)
    : elementType(elementType),
      isHalf(elementType.isF16() || elementType.isBF16()) {
  computeType = cast<FloatType>(
      isHalf ? Float32Type::get(elementType.getContext()) : elementType);
}

Value rows::ElementAccess::load(OpBuilder &b, Location loc, Value tensor,
                                ValueRange indices) const {
  Value element = tensor::ExtractOp::create(b, loc, tensor, indices);
  if (element.getType() == computeType)
    return element;
  return arith::ExtFOp::create(b, loc, computeType, element);
}

Value rows::ElementAccess::store(OpBuilder &b, Location loc, Value value,
                                 Value tensor, ValueRange indices) const {
  if (value.getType() != elementType)
    value = arith::TruncFOp::create(b, loc, elementType, value);
  return tensor::InsertOp::create(b, loc, value, tensor, indices);
}

Value rows::ElementAccess::constant(OpBuilder &b, Location loc,
                                    double value) const {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(computeType, value));
}

Value rows::ElementAccess::count(OpBuilder &b, Location loc, Value n) const {
  Value asInt = arith::IndexCastOp::create(b, loc, b.getI64Type(), n);
  return arith::SIToFPOp::create(b, loc, computeType, asInt);
}

Value rows::ElementAccess::add(OpBuilder &b, Location loc, Value lhs,
                               Value rhs) const {
  return arith::AddFOp::create(b, loc, lhs, rhs,
                               arith::FastMathFlags::reassoc);
}
