//===- EmberConv.cpp - convolutions: verifiers and VJPs -------------------===//
//
// ember.conv and its two gradients. The three ops are bilinear and close
// under differentiation, so every order of derivative stays among them:
//   y  = conv(x, w)        dx = backward_data(g, w)   dw = backward_weight(x, g)
//   dx = backward_data(g, w):   dg = conv(c, w)       dw = backward_weight(c, g)
//   dw = backward_weight(x, g): dx = backward_data(g, c)  dg = conv(x, c)
// (c the cotangent of each op's result; every op with the same attributes).
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

std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

/// The spatial size a convolution produces from `size` (static or dynamic).
int64_t convolvedSize(int64_t size, int64_t kernel, int64_t stride,
                      int64_t low, int64_t high, int64_t dilation) {
  if (ShapedType::isDynamic(size) || ShapedType::isDynamic(kernel))
    return ShapedType::kDynamic;
  int64_t extent = size + low + high - dilation * (kernel - 1) - 1;
  return extent < 0 ? -1 : extent / stride + 1;
}

/// What the three ops share: `x` [N, C, spatial...] the input (or the
/// input's gradient), `w` [O, C/G, kernel...], `y` [N, O, out...]; the
/// attributes one entry per spatial dim, strides and dilations > 0,
/// padding >= 0, groups > 0 dividing O and C.
LogicalResult verifyConv(Operation *op, RankedTensorType x, RankedTensorType w,
                         RankedTensorType y, ArrayRef<int64_t> strides,
                         ArrayRef<int64_t> low, ArrayRef<int64_t> high,
                         ArrayRef<int64_t> dilations, int64_t groups) {
  int64_t rank = x.getRank();
  if (rank < 3 || rank > 5)
    return op->emitOpError("input must be [N, C, spatial...] with 1 to 3 "
                           "spatial dims; got ")
           << x;
  if (w.getRank() != rank || y.getRank() != rank)
    return op->emitOpError("input ")
           << x << ", weight " << w << " and output " << y
           << " must have one rank";
  if (x.getElementType() != w.getElementType() ||
      x.getElementType() != y.getElementType())
    return op->emitOpError("input ")
           << x << ", weight " << w << " and output " << y
           << " must have one element type";
  size_t spatial = rank - 2;
  for (auto [name, values] :
       {std::pair<StringRef, ArrayRef<int64_t>>{"strides", strides},
        {"padding_low", low},
        {"padding_high", high},
        {"dilations", dilations}})
    if (values.size() != spatial)
      return op->emitOpError(name) << " must have " << spatial
                                   << " entries (one per spatial dim); got "
                                   << values.size();
  if (llvm::any_of(strides, [](int64_t s) { return s <= 0; }) ||
      llvm::any_of(dilations, [](int64_t d) { return d <= 0; }))
    return op->emitOpError("strides and dilations must be > 0");
  if (llvm::any_of(low, [](int64_t p) { return p < 0; }) ||
      llvm::any_of(high, [](int64_t p) { return p < 0; }))
    return op->emitOpError("padding must be >= 0");
  if (groups <= 0)
    return op->emitOpError("groups must be > 0; got ") << groups;
  int64_t c = x.getDimSize(1), o = w.getDimSize(0), cg = w.getDimSize(1);
  if (!ShapedType::isDynamic(o) && o % groups)
    return op->emitOpError("weight ")
           << w << ": its " << o << " output channels are not divisible by "
           << groups << " groups";
  if (!compatible(c, ShapedType::isDynamic(cg) ? cg : cg * groups))
    return op->emitOpError("input ")
           << x << " has " << c << " channels; weight " << w << " with "
           << groups << " groups takes " << dimString(cg) << " x " << groups;
  if (!compatible(y.getDimSize(0), x.getDimSize(0)) ||
      !compatible(y.getDimSize(1), o))
    return op->emitOpError("output ")
           << y << " must be [" << dimString(x.getDimSize(0)) << ", "
           << dimString(o) << ", ...] for input " << x << " and weight " << w;
  for (size_t i = 0; i < spatial; ++i) {
    int64_t out = convolvedSize(x.getDimSize(i + 2), w.getDimSize(i + 2),
                                strides[i], low[i], high[i], dilations[i]);
    if (out == -1 || !compatible(out, y.getDimSize(i + 2)))
      return op->emitOpError("spatial dim ")
             << i << ": input " << x << " with weight " << w
             << " convolves to " << (out == -1 ? "nothing" : dimString(out))
             << ", but the output is " << y;
  }
  return success();
}

SmallVector<Value> spatialDims(OpBuilder &b, Location loc, Value tensor) {
  SmallVector<Value> dims;
  for (int64_t d = 2; d < typeOf(tensor).getRank(); ++d)
    dims.push_back(tensor::DimOp::create(b, loc, tensor, d));
  return dims;
}

template <typename OpTy>
LogicalResult checkSizes(OpTy op) {
  if (op.getSizes().size() + 2 !=
      static_cast<size_t>(typeOf(op.getResult()).getRank()))
    return op.emitOpError("takes one size per spatial dim of the result ")
           << op.getResult().getType() << "; got " << op.getSizes().size();
  return success();
}

} // namespace

LogicalResult ConvOp::verify() {
  return verifyConv(*this, typeOf(getInput()), typeOf(getWeight()),
                    typeOf(getResult()), getStrides(), getPaddingLow(),
                    getPaddingHigh(), getDilations(), getGroups());
}

LogicalResult ConvBackwardDataOp::verify() {
  if (failed(checkSizes(*this)))
    return failure();
  return verifyConv(*this, typeOf(getResult()), typeOf(getWeight()),
                    typeOf(getGrad()), getStrides(), getPaddingLow(),
                    getPaddingHigh(), getDilations(), getGroups());
}

LogicalResult ConvBackwardWeightOp::verify() {
  if (failed(checkSizes(*this)))
    return failure();
  return verifyConv(*this, typeOf(getInput()), typeOf(getResult()),
                    typeOf(getGrad()), getStrides(), getPaddingLow(),
                    getPaddingHigh(), getDilations(), getGroups());
}

LogicalResult ConvOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value g = cotangents[0], x = getInput(), w = getWeight();
  gradients.push_back(ConvBackwardDataOp::create(
      b, loc, x.getType(), g, w, spatialDims(b, loc, x), getStridesAttr(),
      getPaddingLowAttr(), getPaddingHighAttr(), getDilationsAttr(),
      getGroupsAttr()));
  gradients.push_back(ConvBackwardWeightOp::create(
      b, loc, w.getType(), x, g, spatialDims(b, loc, w), getStridesAttr(),
      getPaddingLowAttr(), getPaddingHighAttr(), getDilationsAttr(),
      getGroupsAttr()));
  return success();
}

LogicalResult ConvBackwardDataOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                           SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value c = cotangents[0], g = getGrad(), w = getWeight();
  gradients.push_back(ConvOp::create(b, loc, g.getType(), c, w,
                                     getStridesAttr(), getPaddingLowAttr(),
                                     getPaddingHighAttr(), getDilationsAttr(),
                                     getGroupsAttr()));
  gradients.push_back(ConvBackwardWeightOp::create(
      b, loc, w.getType(), c, g, spatialDims(b, loc, w), getStridesAttr(),
      getPaddingLowAttr(), getPaddingHighAttr(), getDilationsAttr(),
      getGroupsAttr()));
  gradients.append(getSizes().size(), Value());
  return success();
}

LogicalResult ConvBackwardWeightOp::buildVjp(OpBuilder &b,
                                             ValueRange cotangents,
                                             SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value c = cotangents[0], x = getInput(), g = getGrad();
  gradients.push_back(ConvBackwardDataOp::create(
      b, loc, x.getType(), g, c, spatialDims(b, loc, x), getStridesAttr(),
      getPaddingLowAttr(), getPaddingHighAttr(), getDilationsAttr(),
      getGroupsAttr()));
  gradients.push_back(ConvOp::create(b, loc, g.getType(), x, c,
                                     getStridesAttr(), getPaddingLowAttr(),
                                     getPaddingHighAttr(), getDilationsAttr(),
                                     getGroupsAttr()));
  gradients.append(getSizes().size(), Value());
  return success();
}
