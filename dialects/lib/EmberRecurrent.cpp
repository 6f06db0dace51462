//===- EmberRecurrent.cpp - recurrent_sequence: verifier and VJP -----------===//
//
// ember.recurrent_sequence runs one direction of one RNN/LSTM/GRU layer over
// a whole sequence; its VJP is the reverse loop
// (ember.recurrent_sequence_backward) plus the weights' gradients as GEMMs
// over every step at once, which need no loop: dW_hh = sum_t dgates_t^T
// h_{t-1}, read from the two workspaces (layout in Recurrent.h).
//
//===----------------------------------------------------------------------===//

#include "VjpBuilders.h"
#include "ember/Dialect/Recurrent.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace ember;
using namespace ember::vjp;

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

static LogicalResult checkRank(Operation *op, StringRef name, Value value,
                               int64_t rank, Type elementType) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getRank() != rank || type.getElementType() != elementType)
    return op->emitOpError(name) << " must be a " << rank << "-D tensor of "
                                 << elementType << "; got " << type;
  return success();
}

/// Static sizes that disagree (dynamic ones are checked by the tracer).
static bool differ(int64_t a, int64_t b) {
  return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b;
}

LogicalResult RecurrentSequenceOp::verify() {
  if (!isValidRecurrentCell(getCell()))
    return emitOpError("cell must be 0 (tanh), 1 (relu), 2 (LSTM) or 3 "
                       "(GRU); got ")
           << getCell();
  auto cell = static_cast<RecurrentCell>(getCell());
  Type element = getInput().getType().getElementType();
  if (failed(checkRank(*this, "input", getInput(), 3, element)) ||
      failed(checkRank(*this, "h0", getH0(), 2, element)) ||
      failed(checkRank(*this, "weight_hh", getWeightHh(), 2, element)) ||
      failed(checkRank(*this, "result", getResult(), 3, element)))
    return failure();
  if ((cell == RecurrentCell::Lstm) != static_cast<bool>(getC0()))
    return emitOpError("takes c0 exactly for an LSTM cell");
  if (getWeightHr() && cell != RecurrentCell::Lstm)
    return emitOpError("takes weight_hr only for an LSTM cell");
  if (getC0() && failed(checkRank(*this, "c0", getC0(), 2, element)))
    return failure();
  if (getBiasHh() && failed(checkRank(*this, "bias_hh", getBiasHh(), 1, element)))
    return failure();
  if (getWeightHr() &&
      failed(checkRank(*this, "weight_hr", getWeightHr(), 2, element)))
    return failure();
  if (getMask() && failed(checkRank(*this, "mask", getMask(), 2, element)))
    return failure();
  ArrayRef<int64_t> x = getInput().getType().getShape();
  auto w = cast<RankedTensorType>(getWeightHh().getType()).getShape();
  auto h0 = cast<RankedTensorType>(getH0().getType()).getShape();
  if (differ(x[2], w[0]) || differ(h0[1], w[1]) || differ(x[1], h0[0]))
    return emitOpError("expects input [T, B, G*H], h0 [B, P] and weight_hh "
                       "[G*H, P]");
  return success();
}

LogicalResult RecurrentSequenceBackwardOp::verify() {
  if (!isValidRecurrentCell(getCell()))
    return emitOpError("cell must be 0 (tanh), 1 (relu), 2 (LSTM) or 3 "
                       "(GRU); got ")
           << getCell();
  Type element = getGrad().getType().getElementType();
  if (failed(checkRank(*this, "grad", getGrad(), 3, element)) ||
      failed(checkRank(*this, "weight_hh", getWeightHh(), 2, element)) ||
      failed(checkRank(*this, "result", getResult(), 3, element)))
    return failure();
  if (getWeightHr() &&
      static_cast<RecurrentCell>(getCell()) != RecurrentCell::Lstm)
    return emitOpError("takes weight_hr only for an LSTM cell");
  if (getMask() && failed(checkRank(*this, "mask", getMask(), 2, element)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// VJP
//===----------------------------------------------------------------------===//

namespace {

/// Builds slices of [T + 1, B, width] workspaces with run-time columns.
struct WorkspaceSlicer {
  OpBuilder &b;
  Location loc;

  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value add(Value lhs, Value rhs) {
    return arith::AddIOp::create(b, loc, lhs, rhs);
  }
  Value mul(Value lhs, int64_t rhs) {
    return rhs == 1 ? lhs : arith::MulIOp::create(b, loc, lhs, index(rhs));
  }

  /// ws[rows, :, cols] with rows a static Python range (stop may be
  /// negative or kToEnd) and cols [start, start + size).
  Value slice(Value ws, int64_t rowStart, int64_t rowStop, Value colStart,
              Value colSize) {
    SmallVector<int64_t> start = {rowStart, 0, ShapedType::kDynamic};
    SmallVector<int64_t> stop = {rowStop, kToEnd, ShapedType::kDynamic};
    return SliceOp::create(b, loc, ws, ValueRange{colStart},
                           ValueRange{add(colStart, colSize)}, start, stop,
                           SmallVector<int64_t>{1, 1, 1});
  }

  /// [T, B, n] -> [T * B, n], reading a column slice in place.
  Value rows(Value value) {
    auto type = cast<RankedTensorType>(value.getType());
    auto flat = RankedTensorType::get(
        {ShapedType::kDynamic, type.getDimSize(2)}, type.getElementType());
    Value t = tensor::DimOp::create(b, loc, value, 0);
    Value batch = tensor::DimOp::create(b, loc, value, 1);
    SmallVector<Value> sizes = {arith::MulIOp::create(b, loc, t, batch)};
    if (type.isDynamicDim(2))
      sizes.push_back(tensor::DimOp::create(b, loc, value, 2));
    return ReshapeOp::create(b, loc, flat, value, sizes,
                             b.getDenseI64ArrayAttr({2, 1, 1, 1}));
  }

  /// a^T b for [N, m] and [N, n]: the sum over every step of one outer
  /// product per row.
  Value outerSum(Value a, Value bValue) {
    Value at = TransposeOp::create(b, loc, a, b.getDenseI64ArrayAttr({1, 0}));
    return MatmulOp::create(b, loc, at, bValue);
  }
};

} // namespace

LogicalResult RecurrentSequenceOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                            SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  auto cell = static_cast<RecurrentCell>(getCell());
  RecurrentLayout layout{cell, static_cast<bool>(getWeightHr())};
  Value ws = getResult();
  Value dws = RecurrentSequenceBackwardOp::create(
      b, loc, ws.getType(), cotangents[0], ws, getWeightHh(), getWeightHr(),
      getMask(), getCellAttr());
  WorkspaceSlicer s{b, loc};
  Value zero = s.index(0);
  Value gh = tensor::DimOp::create(b, loc, getWeightHh(), 0);
  Value p = tensor::DimOp::create(b, loc, getH0(), 1);
  Value h = getC0() ? Value(tensor::DimOp::create(b, loc, getC0(), 1)) : p;

  // input: the first G*H columns of the steps' rows.
  Value dInput = s.slice(dws, 1, kToEnd, zero, gh);
  gradients.push_back(reshapeLike(b, loc, dInput, getInput()));
  // h0 (and c0): row 0.
  gradients.push_back(
      reshapeLike(b, loc, s.slice(dws, 0, 1, zero, p), getH0()));
  if (getC0())
    gradients.push_back(
        reshapeLike(b, loc, s.slice(dws, 0, 1, p, h), getC0()));
  // weight_hh, bias_hh: the gates' gradient of every step against the
  // state before it (a masked step's gradient is 0).
  Value dhh = cell == RecurrentCell::Gru ? s.slice(dws, 1, kToEnd, gh, gh)
                                         : dInput;
  Value dhhRows = s.rows(dhh);
  Value hPrev = s.rows(s.slice(ws, 0, -1, zero, p));
  gradients.push_back(
      reshapeLike(b, loc, s.outerSum(dhhRows, hPrev), getWeightHh()));
  if (getBiasHh())
    gradients.push_back(reshapeLike(
        b, loc, SumOp::create(b, loc, dhhRows, SmallVector<int64_t>{0}, false),
        getBiasHh()));
  // weight_hr: the projected h's gradient against o * tanh(c).
  if (getWeightHr()) {
    Value dhProj = s.rows(s.slice(dws, 1, kToEnd, s.mul(gh, layout.backwardWidthGH()), p));
    Value c = s.slice(ws, 1, kToEnd, p, h);
    Value o = s.slice(ws, 1, kToEnd,
                      s.add(p, s.mul(h, layout.gateOffsetH(3))), h);
    Value r = s.rows(mul(b, loc, o, TanhOp::create(b, loc, c)));
    gradients.push_back(
        reshapeLike(b, loc, s.outerSum(dhProj, r), getWeightHr()));
  }
  if (getMask())
    gradients.push_back(Value());
  return success();
}
