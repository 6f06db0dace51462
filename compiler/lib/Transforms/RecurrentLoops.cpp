//===- RecurrentLoops.cpp - recurrent layers as loops over the steps -------===//
//
// ember.recurrent_sequence (one direction of an RNN, LSTM or GRU layer over
// a whole sequence) becomes an `scf.for` over the run-time number of steps.
// Each step is one matrix product `h W_hh^T` (an ember.matmul, which the CPU
// pipeline hands to the runtime GEMM) and one linalg.generic over [B, H]
// that does all of the step's gate math; the step writes its state and gate
// values into the workspace row t + 1 (layout: ember/Dialect/Recurrent.h).
// The backward op is the same loop from the last step to the first, carrying
// the state's gradient. Because the step count is a loop bound, not a
// structure, every sequence length runs the same compiled code.
//
// The state is carried in the loop's own values and the workspace is only
// written inside the loop (it is read by the backward, outside), so
// bufferization updates it in place.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "ember/Dialect/Recurrent.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace ember {
#define GEN_PASS_DEF_EMBERRECURRENTLOOPS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

// The unit attribute ember-recurrent-loops puts on a time loop: on a GPU
// the loop stays host code, run by the launch plan (spelled out in each
// pass that reads it, so that no widely included header changes).
constexpr char kHostLoopAttr[] = "ember.host_loop";

/// How a linalg.generic over [B, N] reads an operand.
enum class Access { Full, Row, Column };

struct GenericOperand {
  Value value;
  Access access = Access::Full;
};

/// Builders for the loops' IR: index arithmetic, slices of [rows, B, width]
/// tensors, the step's generic and scalar math.
struct StepBuilder {
  OpBuilder &b;
  Location loc;
  Type element;

  RankedTensorType matrix() const {
    return RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                 element);
  }
  RankedTensorType vector() const {
    return RankedTensorType::get({ShapedType::kDynamic}, element);
  }

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value l, Value r) { return arith::AddIOp::create(b, loc, l, r); }
  Value sub(Value l, Value r) { return arith::SubIOp::create(b, loc, l, r); }
  Value mul(Value l, int64_t r) {
    return r == 1 ? l : arith::MulIOp::create(b, loc, l, index(r));
  }
  Value dim(Value v, int64_t i) { return tensor::DimOp::create(b, loc, v, i); }

  /// x[row, :, col : col + n] of a 3-D tensor as [B, n].
  Value rowSlice(Value x, Value row, Value col, Value batch, Value n) {
    SmallVector<OpFoldResult> offsets = {row, b.getIndexAttr(0), col};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), batch, n};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, matrix(), x, offsets, sizes,
                                          strides);
  }
  /// Writes [B, n] `value` into x[row, :, col : col + n].
  Value insertRow(Value value, Value x, Value row, Value col, Value batch,
                  Value n) {
    SmallVector<OpFoldResult> offsets = {row, b.getIndexAttr(0), col};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), batch, n};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    return tensor::InsertSliceOp::create(b, loc, value, x, offsets, sizes,
                                         strides);
  }
  /// m[:, col : col + n] of a [B, *] matrix.
  Value columns(Value m, Value col, Value batch, Value n) {
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), col};
    SmallVector<OpFoldResult> sizes = {batch, n};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, matrix(), m, offsets, sizes,
                                          strides);
  }
  Value insertColumns(Value value, Value m, Value col, Value batch, Value n) {
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), col};
    SmallVector<OpFoldResult> sizes = {batch, n};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    return tensor::InsertSliceOp::create(b, loc, value, m, offsets, sizes,
                                         strides);
  }
  /// v[col : col + n] of a 1-D tensor.
  Value segment(Value v, Value col, Value n) {
    return tensor::ExtractSliceOp::create(
        b, loc, vector(), v, ArrayRef<OpFoldResult>{col},
        ArrayRef<OpFoldResult>{n}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  }
  /// mask[t, :] of a [T, B] mask as [B].
  Value maskRow(Value mask, Value t, Value batch) {
    SmallVector<OpFoldResult> offsets = {t, b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), batch};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, vector(), mask, offsets,
                                          sizes, strides);
  }
  Value empty(ArrayRef<Value> sizes) {
    SmallVector<int64_t> shape(sizes.size(), ShapedType::kDynamic);
    return tensor::EmptyOp::create(b, loc, shape, element, sizes);
  }
  Value zeros(ArrayRef<Value> sizes) {
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0));
    return linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{empty(sizes)})
        .getResult(0);
  }
  /// ember.matmul of two [?, ?] matrices, the right one transposed or not.
  Value matmul(Value lhs, Value rhs, bool transposeRhs) {
    if (transposeRhs)
      rhs = TransposeOp::create(b, loc, rhs, b.getDenseI64ArrayAttr({1, 0}));
    Value product = MatmulOp::create(b, loc, lhs, rhs);
    if (product.getType() != matrix())
      product = tensor::CastOp::create(b, loc, matrix(), product);
    return product;
  }

  using BodyFn = function_ref<SmallVector<Value>(OpBuilder &, Location,
                                                 ValueRange)>;
  /// A linalg.generic over [rows, cols] with `numResults` fresh [rows, cols]
  /// results; the body gets one scalar per operand.
  SmallVector<Value> generic(Value rows, Value cols,
                             ArrayRef<GenericOperand> operands,
                             unsigned numResults, BodyFn body) {
    MLIRContext *ctx = b.getContext();
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
    SmallVector<AffineMap> maps;
    SmallVector<Value> inputs;
    for (const GenericOperand &operand : operands) {
      inputs.push_back(operand.value);
      switch (operand.access) {
      case Access::Full:
        maps.push_back(AffineMap::get(2, 0, {d0, d1}, ctx));
        break;
      case Access::Row:
        maps.push_back(AffineMap::get(2, 0, {d0}, ctx));
        break;
      case Access::Column:
        maps.push_back(AffineMap::get(2, 0, {d1}, ctx));
        break;
      }
    }
    SmallVector<Value> outputs;
    for (unsigned i = 0; i < numResults; ++i) {
      outputs.push_back(empty({rows, cols}));
      maps.push_back(AffineMap::get(2, 0, {d0, d1}, ctx));
    }
    SmallVector<utils::IteratorType> iterators(2,
                                               utils::IteratorType::parallel);
    auto op = linalg::GenericOp::create(
        b, loc, TypeRange(ValueRange(outputs)), inputs, outputs, maps,
        iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
          SmallVector<Value> results =
              body(nb, nl, args.take_front(operands.size()));
          linalg::YieldOp::create(nb, nl, results);
        });
    return SmallVector<Value>(op.getResults());
  }
};

/// Scalar math in a generic's body.
struct Scalar {
  OpBuilder &b;
  Location loc;

  Value c(Value like, double v) {
    return arith::ConstantOp::create(b, loc,
                                     b.getFloatAttr(like.getType(), v));
  }
  Value add(Value l, Value r) { return arith::AddFOp::create(b, loc, l, r); }
  Value sub(Value l, Value r) { return arith::SubFOp::create(b, loc, l, r); }
  Value mul(Value l, Value r) { return arith::MulFOp::create(b, loc, l, r); }
  Value tanh(Value x) { return math::TanhOp::create(b, loc, x); }
  Value sigmoid(Value x) {
    Value one = c(x, 1);
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
    return arith::DivFOp::create(b, loc, one, add(one, e));
  }
  Value relu(Value x) {
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                           x, c(x, 0));
    return arith::SelectOp::create(b, loc, positive, x, c(x, 0));
  }
  /// 1 - y * y: tanh's derivative from its value.
  Value oneMinusSquare(Value y) { return sub(c(y, 1), mul(y, y)); }
  /// y * (1 - y): the sigmoid's derivative from its value.
  Value sigmoidSlope(Value y) { return mul(y, sub(c(y, 1), y)); }
  /// `a` where the step is in the sequence (mask != 0), else `b`.
  Value where(Value mask, Value a, Value bValue) {
    if (!mask)
      return a;
    Value valid = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE,
                                        mask, c(mask, 0));
    return arith::SelectOp::create(b, loc, valid, a, bValue);
  }
};

/// Tags a time loop for the GPU pipeline: its body is host code that
/// launches kernels (the GPU launcher runs it as a loop of its plan, with the
/// step as a run-time value), not a sequential nest to make one kernel of.
void markHostLoop(scf::ForOp loop) {
  loop->setAttr(kHostLoopAttr, UnitAttr::get(loop.getContext()));
}

/// The sizes of one recurrent op, as index values.
struct Sizes {
  Value steps, batch, gatesH, p, h;
};

//===----------------------------------------------------------------------===//
// Forward
//===----------------------------------------------------------------------===//

Value lowerForward(RecurrentSequenceOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto cell = static_cast<RecurrentCell>(op.getCell());
  RecurrentLayout layout{cell, static_cast<bool>(op.getWeightHr())};
  StepBuilder s{b, loc, op.getInput().getType().getElementType()};
  Value x = op.getInput(), w = op.getWeightHh(), bias = op.getBiasHh(),
        whr = op.getWeightHr(), mask = op.getMask();
  Sizes n{s.dim(x, 0), s.dim(x, 1), s.dim(w, 0), s.dim(op.getH0(), 1), {}};
  n.h = op.getC0() ? s.dim(op.getC0(), 1) : n.p;
  Value zero = s.index(0), one = s.index(1);
  Value width = s.add(n.p, s.mul(n.h, layout.widthH()));
  auto col = [&](int64_t hUnits) { return s.add(n.p, s.mul(n.h, hUnits)); };

  Value h0 = op.getH0(), c0 = op.getC0();
  if (h0.getType() != s.matrix())
    h0 = tensor::CastOp::create(b, loc, s.matrix(), h0);
  if (c0 && c0.getType() != s.matrix())
    c0 = tensor::CastOp::create(b, loc, s.matrix(), c0);
  Value ws = s.zeros({s.add(n.steps, one), n.batch, width});
  ws = s.insertRow(h0, ws, zero, zero, n.batch, n.p);
  if (c0)
    ws = s.insertRow(c0, ws, zero, n.p, n.batch, n.h);

  // The loop carries only the workspace: the state before step t is read
  // from its row t (before the step writes row t + 1), so the yielded value
  // is the carried buffer itself, updated in place.
  auto loop = scf::ForOp::create(
      b, loc, zero, n.steps, one, ValueRange{ws},
      [&](OpBuilder &lb, Location ll, Value t, ValueRange carried) {
        StepBuilder ls{lb, ll, s.element};
        Value wsIn = carried.back();
        Value h = ls.rowSlice(wsIn, t, zero, n.batch, n.p);
        Value c = c0 ? ls.rowSlice(wsIn, t, n.p, n.batch, n.h) : Value();
        int64_t gates = layout.gates();
        Value xt = ls.rowSlice(x, t, zero, n.batch, n.gatesH);
        Value hh = ls.matmul(h, w, /*transposeRhs=*/true);
        Value m = mask ? ls.maskRow(mask, t, n.batch) : Value();
        // One [B, H] operand per gate of the input projection and of h W^T
        // (+ b_hh), then the step's own operands.
        SmallVector<GenericOperand> operands;
        for (int64_t k = 0; k < gates; ++k)
          operands.push_back({ls.columns(xt, ls.mul(n.h, k), n.batch, n.h)});
        for (int64_t k = 0; k < gates; ++k)
          operands.push_back({ls.columns(hh, ls.mul(n.h, k), n.batch, n.h)});
        for (int64_t k = 0; bias && k < gates; ++k)
          operands.push_back(
              {ls.segment(bias, ls.mul(n.h, k), n.h), Access::Column});
        // The state before the step (LSTM: c; otherwise h, P = H).
        operands.push_back({c ? c : h});
        if (m)
          operands.push_back({m, Access::Row});
        unsigned numResults = cell == RecurrentCell::Lstm  ? 6
                              : cell == RecurrentCell::Gru ? 5
                                                           : 1;
        SmallVector<Value> results = ls.generic(
            n.batch, n.h, operands, numResults,
            [&](OpBuilder &gb, Location gl, ValueRange a) {
              Scalar f{gb, gl};
              auto pre = [&](int64_t k, bool withHh = true) {
                Value v = a[k];
                if (withHh)
                  v = f.add(v, a[gates + k]);
                if (bias && withHh)
                  v = f.add(v, a[2 * gates + k]);
                return v;
              };
              unsigned next = bias ? 3 * gates : 2 * gates;
              Value prev = a[next];
              Value mk = m ? a[next + 1] : Value();
              switch (cell) {
              case RecurrentCell::Lstm: {
                Value i = f.sigmoid(pre(0)), fg = f.sigmoid(pre(1)),
                      g = f.tanh(pre(2)), o = f.sigmoid(pre(3));
                Value cNew = f.add(f.mul(fg, prev), f.mul(i, g));
                Value r = f.mul(o, f.tanh(cNew));
                return SmallVector<Value>{f.where(mk, cNew, prev), r, i, fg,
                                          g, o};
              }
              case RecurrentCell::Gru: {
                Value r = f.sigmoid(pre(0)), z = f.sigmoid(pre(1));
                Value hn = a[gates + 2];
                if (bias)
                  hn = f.add(hn, a[2 * gates + 2]);
                Value nGate = f.tanh(f.add(a[2], f.mul(r, hn)));
                Value hNew =
                    f.add(f.mul(f.sub(f.c(z, 1), z), nGate), f.mul(z, prev));
                return SmallVector<Value>{f.where(mk, hNew, prev), r, z, nGate,
                                          hn};
              }
              case RecurrentCell::RnnTanh:
                return SmallVector<Value>{f.where(mk, f.tanh(pre(0)), prev)};
              case RecurrentCell::RnnRelu:
                return SmallVector<Value>{f.where(mk, f.relu(pre(0)), prev)};
              }
              llvm_unreachable("unknown cell");
            });
        Value row = ls.add(t, one);
        Value hNew, cNew;
        Value wsOut = wsIn;
        if (cell == RecurrentCell::Lstm) {
          cNew = results[0];
          Value r = results[1];
          hNew = r;
          if (whr)
            hNew = ls.matmul(r, whr, /*transposeRhs=*/true);
          // A masked step keeps h (with a projection, a second pass over
          // [B, P]; without, r is h).
          if (m) {
            hNew = ls.generic(n.batch, n.p,
                              {{hNew}, {h}, {m, Access::Row}}, 1,
                              [&](OpBuilder &gb, Location gl, ValueRange a) {
                                Scalar f{gb, gl};
                                return SmallVector<Value>{
                                    f.where(a[2], a[0], a[1])};
                              })[0];
          }
          wsOut = ls.insertRow(cNew, wsOut, row, n.p, n.batch, n.h);
          for (int64_t k = 0; k < 4; ++k)
            wsOut = ls.insertRow(results[2 + k], wsOut, row,
                                 col(layout.gateOffsetH(k)), n.batch, n.h);
        } else {
          hNew = results[0];
          for (int64_t k = 0; cell == RecurrentCell::Gru && k < 4; ++k)
            wsOut = ls.insertRow(results[1 + k], wsOut, row,
                                 col(layout.gateOffsetH(k)), n.batch, n.h);
        }
        wsOut = ls.insertRow(hNew, wsOut, row, zero, n.batch, n.p);
        scf::YieldOp::create(lb, ll, ValueRange{wsOut});
      });
  markHostLoop(loop);
  Value result = loop.getResults().back();
  if (result.getType() != op.getType())
    result = tensor::CastOp::create(b, loc, op.getType(), result);
  return result;
}

//===----------------------------------------------------------------------===//
// Backward
//===----------------------------------------------------------------------===//

Value lowerBackward(RecurrentSequenceBackwardOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto cell = static_cast<RecurrentCell>(op.getCell());
  Value whr = op.getWeightHr(), mask = op.getMask(), w = op.getWeightHh();
  RecurrentLayout layout{cell, static_cast<bool>(whr)};
  StepBuilder s{b, loc, op.getGrad().getType().getElementType()};
  Value g = op.getGrad(), ws = op.getWorkspace();
  int64_t gates = layout.gates();
  Value zero = s.index(0), one = s.index(1);
  Sizes n{s.sub(s.dim(ws, 0), one), s.dim(ws, 1), s.dim(w, 0), s.dim(w, 1),
          {}};
  n.h = arith::DivUIOp::create(b, loc, n.gatesH, s.index(gates));
  bool lstm = cell == RecurrentCell::Lstm, gru = cell == RecurrentCell::Gru;
  Value width = s.mul(n.gatesH, layout.backwardWidthGH());
  if (whr)
    width = s.add(width, n.p);
  auto col = [&](int64_t hUnits) { return s.add(n.p, s.mul(n.h, hUnits)); };

  Value out = s.zeros({s.dim(ws, 0), n.batch, width});
  // The state's gradient (dh | dc) is carried in one buffer that each step
  // reads first and overwrites last, so it is updated in place.
  Value carry = s.zeros({n.batch, lstm ? s.add(n.p, n.h) : n.p});
  SmallVector<Value> inits = {carry, out};

  auto loop = scf::ForOp::create(
      b, loc, zero, n.steps, one, inits,
      [&](OpBuilder &lb, Location ll, Value i, ValueRange carried) {
        StepBuilder ls{lb, ll, s.element};
        // Row t + 1 of the workspaces is step t = T - 1 - i.
        Value row = ls.sub(n.steps, i);
        Value prevRow = ls.sub(row, one);
        Value carryIn = carried[0];
        Value dh = ls.columns(carryIn, zero, n.batch, n.p);
        Value dc = lstm ? ls.columns(carryIn, n.p, n.batch, n.h) : Value();
        Value outIn = carried.back();
        Value m =
            mask ? ls.maskRow(mask, prevRow, n.batch) : Value();
        Value gh = ls.rowSlice(g, row, zero, n.batch, n.p);
        auto wsAt = [&](Value r, int64_t hUnits) {
          return ls.rowSlice(ws, r, col(hUnits), n.batch, n.h);
        };
        auto wsGate = [&](int64_t k) {
          return wsAt(row, layout.gateOffsetH(k));
        };
        // The gradient of the step's h: carried + the cotangent's.
        Value dhTotal = ls.generic(
            n.batch, n.p, {{dh}, {gh}}, 1,
            [&](OpBuilder &gb, Location gl, ValueRange a) {
              Scalar f{gb, gl};
              return SmallVector<Value>{f.add(a[0], a[1])};
            })[0];
        Value outRow = outIn;
        Value dr = dhTotal;
        if (whr) {
          Value masked = m ? ls.generic(n.batch, n.p,
                                        {{dhTotal}, {m, Access::Row}}, 1,
                                        [&](OpBuilder &gb, Location gl,
                                            ValueRange a) {
                                          Scalar f{gb, gl};
                                          return SmallVector<Value>{f.where(
                                              a[1], a[0], f.c(a[0], 0))};
                                        })[0]
                           : dhTotal;
          outRow = ls.insertRow(masked, outRow, row, n.gatesH, n.batch, n.p);
          dr = ls.matmul(dhTotal, whr, /*transposeRhs=*/false);
        }
        SmallVector<GenericOperand> operands;
        SmallVector<Value> results;
        if (lstm) {
          for (int64_t k = 0; k < 4; ++k)
            operands.push_back({wsGate(k)});
          operands.push_back({wsAt(row, 0)});
          operands.push_back({wsAt(prevRow, 0)});
          operands.push_back({dr});
          operands.push_back({dc});
          operands.push_back({ls.rowSlice(g, row, n.p, n.batch, n.h)});
          if (m)
            operands.push_back({m, Access::Row});
          // d i, d f, d g, d o (before the activations), d c_{t-1}, and
          // the part of d h_{t-1} that bypasses the gates.
          results = ls.generic(
              n.batch, n.h, operands, whr ? 5 : 6,
              [&](OpBuilder &gb, Location gl, ValueRange a) {
                Scalar f{gb, gl};
                Value ig = a[0], fg = a[1], gg = a[2], og = a[3], c = a[4],
                      cPrev = a[5], dR = a[6], dC = f.add(a[7], a[8]);
                Value mk = m ? a[9] : Value();
                Value tc = f.tanh(c);
                Value dcT = f.add(dC, f.mul(f.mul(dR, og), f.oneMinusSquare(tc)));
                Value zeroV = f.c(ig, 0);
                SmallVector<Value> r = {
                    f.where(mk, f.mul(f.mul(dcT, gg), f.sigmoidSlope(ig)), zeroV),
                    f.where(mk, f.mul(f.mul(dcT, cPrev), f.sigmoidSlope(fg)),
                            zeroV),
                    f.where(mk, f.mul(f.mul(dcT, ig), f.oneMinusSquare(gg)),
                            zeroV),
                    f.where(mk, f.mul(f.mul(dR, tc), f.sigmoidSlope(og)), zeroV),
                    f.where(mk, f.mul(dcT, fg), dC)};
                if (!whr)
                  r.push_back(f.where(mk, zeroV, dR));
                return r;
              });
        } else if (gru) {
          for (int64_t k = 0; k < 4; ++k)
            operands.push_back({wsGate(k)});
          operands.push_back({ls.rowSlice(ws, prevRow, zero, n.batch, n.p)});
          operands.push_back({dhTotal});
          if (m)
            operands.push_back({m, Access::Row});
          // d r, d z, d n (before the activations), d (h W_n^T + b_n), and
          // the part of d h_{t-1} that bypasses the gates.
          results = ls.generic(
              n.batch, n.h, operands, 5,
              [&](OpBuilder &gb, Location gl, ValueRange a) {
                Scalar f{gb, gl};
                Value r = a[0], z = a[1], nG = a[2], hn = a[3], hPrev = a[4],
                      dH = a[5];
                Value mk = m ? a[6] : Value();
                Value zeroV = f.c(r, 0);
                Value dnPre = f.mul(f.mul(dH, f.sub(f.c(z, 1), z)),
                                    f.oneMinusSquare(nG));
                Value drPre = f.mul(f.mul(dnPre, hn), f.sigmoidSlope(r));
                Value dzPre =
                    f.mul(f.mul(dH, f.sub(hPrev, nG)), f.sigmoidSlope(z));
                return SmallVector<Value>{
                    f.where(mk, drPre, zeroV), f.where(mk, dzPre, zeroV),
                    f.where(mk, dnPre, zeroV),
                    f.where(mk, f.mul(dnPre, r), zeroV),
                    f.where(mk, f.mul(dH, z), dH)};
              });
        } else {
          operands.push_back({ls.rowSlice(ws, row, zero, n.batch, n.p)});
          operands.push_back({dhTotal});
          if (m)
            operands.push_back({m, Access::Row});
          results = ls.generic(
              n.batch, n.h, operands, 2,
              [&](OpBuilder &gb, Location gl, ValueRange a) {
                Scalar f{gb, gl};
                Value hv = a[0], dH = a[1];
                Value mk = m ? a[2] : Value();
                Value zeroV = f.c(hv, 0);
                Value slope =
                    cell == RecurrentCell::RnnTanh
                        ? f.oneMinusSquare(hv)
                        : arith::SelectOp::create(
                              gb, gl,
                              arith::CmpFOp::create(
                                  gb, gl, arith::CmpFPredicate::OGT, hv, zeroV),
                              f.c(hv, 1), zeroV)
                              .getResult();
                return SmallVector<Value>{f.where(mk, f.mul(dH, slope), zeroV),
                                          f.where(mk, zeroV, dH)};
              });
        }
        // The gates' gradients as one [B, G*H] matrix (GRU: the input's
        // and the hidden product's differ in the n gate).
        auto assemble = [&](ArrayRef<Value> parts) {
          Value m2 = ls.empty({n.batch, n.gatesH});
          for (auto [k, part] : llvm::enumerate(parts))
            m2 = ls.insertColumns(part, m2, ls.mul(n.h, k), n.batch, n.h);
          return m2;
        };
        Value dInput = assemble(ArrayRef<Value>(results).take_front(gates));
        Value dHh = dInput;
        if (gru)
          dHh = assemble({results[0], results[1], results[3]});
        outRow = ls.insertRow(dInput, outRow, row, zero, n.batch, n.gatesH);
        if (gru)
          outRow =
              ls.insertRow(dHh, outRow, row, n.gatesH, n.batch, n.gatesH);
        Value dhPrev = ls.matmul(dHh, w, /*transposeRhs=*/false);
        // The bypass: GRU's z * dh, and a masked step's whole gradient.
        Value bypass;
        if (!lstm)
          bypass = results.back();
        else if (!whr)
          bypass = results[5];
        else if (m)
          bypass = ls.generic(n.batch, n.p, {{dhTotal}, {m, Access::Row}}, 1,
                              [&](OpBuilder &gb, Location gl, ValueRange a) {
                                Scalar f{gb, gl};
                                return SmallVector<Value>{
                                    f.where(a[1], f.c(a[0], 0), a[0])};
                              })[0];
        if (bypass)
          dhPrev = ls.generic(n.batch, n.p, {{dhPrev}, {bypass}}, 1,
                              [&](OpBuilder &gb, Location gl, ValueRange a) {
                                Scalar f{gb, gl};
                                return SmallVector<Value>{f.add(a[0], a[1])};
                              })[0];
        Value carryOut =
            ls.insertColumns(dhPrev, carryIn, zero, n.batch, n.p);
        if (lstm)
          carryOut =
              ls.insertColumns(results[4], carryOut, n.p, n.batch, n.h);
        scf::YieldOp::create(lb, ll, ValueRange{carryOut, outRow});
      });
  markHostLoop(loop);
  Value result = loop.getResults().back();
  Value carried = loop.getResult(0);
  result = s.insertRow(s.columns(carried, zero, n.batch, n.p), result, zero,
                       zero, n.batch, n.p);
  if (lstm)
    result = s.insertRow(s.columns(carried, n.p, n.batch, n.h), result, zero,
                         n.p, n.batch, n.h);
  if (result.getType() != op.getType())
    result = tensor::CastOp::create(b, loc, op.getType(), result);
  return result;
}

struct RecurrentLoops
    : ember::impl::EmberRecurrentLoopsBase<RecurrentLoops> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<RecurrentSequenceOp, RecurrentSequenceBackwardOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      Type element = cast<RankedTensorType>(op->getResult(0).getType())
                         .getElementType();
      if (!element.isF32() && !element.isF64()) {
        op->emitOpError("is lowered for f32 and f64 only");
        return signalPassFailure();
      }
      Value result;
      if (auto forward = dyn_cast<RecurrentSequenceOp>(op))
        result = lowerForward(forward);
      else
        result = lowerBackward(cast<RecurrentSequenceBackwardOp>(op));
      op->getResult(0).replaceAllUsesWith(result);
      op->erase();
    }
  }
};

} // namespace
