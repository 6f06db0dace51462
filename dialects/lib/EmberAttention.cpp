//===- EmberAttention.cpp - attention: verifiers and VJP ------------------===//
//
// ember.attention (F.scaled_dot_product_attention as one op) and its
// backward. The forward's second result, the logsumexp of each query row,
// is what the backward recomputes the attention weights from, block by
// block, so neither direction holds the L x S weights on the CPU.
//
//===----------------------------------------------------------------------===//

#include "VjpBuilders.h"

#include "ember/Dialect/EmberOps.h"

using namespace mlir;
using namespace ember;
using namespace ember::vjp;

namespace {

bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// `type` must be `[batch..., rows, cols]` (cols < 0: `[batch..., rows]`)
/// of `element`, sizes compatible where static.
LogicalResult expectShape(Operation *op, StringRef name, Value value,
                          ArrayRef<int64_t> batch, int64_t rows, int64_t cols,
                          Type element) {
  RankedTensorType type = typeOf(value);
  SmallVector<int64_t> want(batch);
  want.push_back(rows);
  if (cols != -1)
    want.push_back(cols);
  if (type.getElementType() != element)
    return op->emitOpError(name) << " must have element type " << element
                                 << "; got " << type;
  bool ok = type.getRank() == static_cast<int64_t>(want.size());
  for (int64_t i = 0; ok && i < type.getRank(); ++i)
    ok = compatible(type.getDimSize(i), want[i]);
  if (!ok) {
    auto diag = op->emitOpError(name) << " must be [";
    llvm::interleaveComma(want, diag, [&](int64_t d) {
      if (ShapedType::isDynamic(d))
        diag << "?";
      else
        diag << d;
    });
    return diag << "]; got " << type;
  }
  return success();
}

/// The shapes both ops share: q [..., L, E], k [..., S, E], v [..., S, Ev],
/// output [..., L, Ev], logsumexp [..., L], mask [..., L, S]; one float
/// element type; mask and causal exclusive (as torch).
LogicalResult verifyAttention(Operation *op, Value q, Value k, Value v,
                              Value output, Value lse, Value mask,
                              bool causal) {
  RankedTensorType qType = typeOf(q);
  if (qType.getRank() < 2)
    return op->emitOpError("query must have rank >= 2; got ") << qType;
  Type element = qType.getElementType();
  ArrayRef<int64_t> batch = qType.getShape().drop_back(2);
  int64_t l = qType.getShape()[qType.getRank() - 2];
  int64_t e = qType.getShape().back();
  RankedTensorType kType = typeOf(k), vType = typeOf(v);
  if (kType.getRank() != qType.getRank() || vType.getRank() != qType.getRank())
    return op->emitOpError("query, key and value must have one rank; got ")
           << qType << ", " << kType << " and " << vType;
  int64_t s = kType.getShape()[kType.getRank() - 2];
  int64_t ev = vType.getShape().back();
  if (failed(expectShape(op, "key", k, batch, s, e, element)) ||
      failed(expectShape(op, "value", v, batch, s, ev, element)) ||
      failed(expectShape(op, "output", output, batch, l, ev, element)) ||
      failed(expectShape(op, "logsumexp", lse, batch, l, -1, element)))
    return failure();
  if (mask) {
    if (causal)
      return op->emitOpError("takes a mask or causal, not both");
    // The mask's batch dims are the operands' or all static 1s (one mask
    // for every batch item: the kernels read it with stride 0).
    RankedTensorType maskType = typeOf(mask);
    SmallVector<int64_t> maskBatch(batch);
    if (maskType.getRank() == qType.getRank() &&
        llvm::all_of(maskType.getShape().drop_back(2),
                     [](int64_t d) { return d == 1; }))
      maskBatch.assign(batch.size(), 1);
    if (failed(expectShape(op, "mask", mask, maskBatch, l, s, element)))
      return failure();
  }
  return success();
}

Value transposeLast(OpBuilder &b, Location loc, Value value) {
  int64_t rank = typeOf(value).getRank();
  SmallVector<int64_t> perm;
  for (int64_t i = 0; i < rank - 2; ++i)
    perm.push_back(i);
  perm.append({rank - 1, rank - 2});
  return TransposeOp::create(b, loc, value, perm);
}

} // namespace

LogicalResult AttentionOp::verify() {
  return verifyAttention(*this, getQuery(), getKey(), getValue(), getResult(),
                         getLogsumexp(), getMask(), getCausal());
}

LogicalResult AttentionBackwardOp::verify() {
  return verifyAttention(*this, getQuery(), getKey(), getValue(), getOutput(),
                         getLogsumexp(), getMask(), getCausal());
}

/// q, k, v: one backward op (blocked on the CPU). The mask's gradient is
/// the scores' gradient dS = P * (g @ v^T - rowsum(g * out)), with P
/// recomputed from the logsumexp: an L x S tensor, built only where the
/// mask needs a gradient (the ops are dead, and erased, otherwise). The
/// logsumexp result is internal (only the backward reads it): its
/// cotangent is ignored.
LogicalResult AttentionOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value g = cotangents[0], q = getQuery(), k = getKey(), v = getValue();
  Value out = getResult(), lse = getLogsumexp(), mask = getMask();
  auto backward = AttentionBackwardOp::create(
      b, loc, q.getType(), k.getType(), v.getType(), g, q, k, v,
      out, lse, mask, getScaleAttr(), getCausalAttr());
  gradients.append(backward.getResults().begin(), backward.getResults().end());
  if (!mask)
    return success();
  int64_t rank = typeOf(q).getRank();
  SmallVector<int64_t> lastDim = {rank - 1};
  Value scores = AddOp::create(
      b, loc,
      mul(b, loc, MatmulOp::create(b, loc, q, transposeLast(b, loc, k)),
          scalarLike(b, loc, q, getScale().convertToDouble())),
      mask);
  Value lseColumn = keepReducedDims(b, loc, lse, out, lastDim, false);
  Value p = ExpOp::create(b, loc, SubOp::create(b, loc, scores, lseColumn));
  Value rowDot = SumOp::create(b, loc, mul(b, loc, g, out), lastDim,
                               /*keepdim=*/true);
  Value dp = MatmulOp::create(b, loc, g, transposeLast(b, loc, v));
  Value ds = mul(b, loc, p, SubOp::create(b, loc, dp, rowDot));
  gradients.push_back(sumToShape(b, loc, ds, mask));
  return success();
}
