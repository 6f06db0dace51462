//===- DecomposeConv.cpp - ember.conv as im2col primitives -----------------===//
//
// On the CPU, f32 convolutions call the runtime's kernels
// (ember-conv-to-runtime). Every other convolution left in a program (the
// GPU back ends, other element types) becomes the im2col composite that
// python/ember/nn/_conv.py traces: the zero-padded input's strided window
// at each kernel offset, stacked into (N, C*K, L) columns, times the weight
// as an (O, C*K) matrix (batched over groups). So an exported program, which
// keeps the one op, still compiles for every target. The kernel size must
// be static (a weight's is); the batch and spatial sizes may be run-time
// values (a traced program's intermediate types are dynamic).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include <limits>

namespace ember {
#define GEN_PASS_DEF_EMBERDECOMPOSECONV
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

constexpr int64_t kToEnd = std::numeric_limits<int64_t>::max();

/// A size: static (`value`) or a run-time index (`dynamic`, with `value`
/// ShapedType::kDynamic). A traced program's intermediate types are
/// dynamic even where the sizes are fixed; the kernel size never is.
struct Size {
  int64_t value;
  Value dynamic;

  bool isStatic() const { return !ShapedType::isDynamic(value); }
};

class SizeBuilder {
public:
  SizeBuilder(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  Size of(Value tensor, int64_t d) {
    auto type = cast<RankedTensorType>(tensor.getType());
    if (!type.isDynamicDim(d))
      return {type.getDimSize(d), Value()};
    return {ShapedType::kDynamic, tensor::DimOp::create(b, loc, tensor, d)};
  }
  Value value(Size size) {
    if (!size.isStatic())
      return size.dynamic;
    return arith::ConstantIndexOp::create(b, loc, size.value);
  }
  /// size * scale + offset.
  Size affine(Size size, int64_t scale, int64_t offset) {
    if (size.isStatic())
      return {size.value * scale + offset, Value()};
    Value v = size.dynamic;
    if (scale != 1)
      v = arith::MulIOp::create(b, loc, v,
                                arith::ConstantIndexOp::create(b, loc, scale));
    if (offset != 0)
      v = arith::AddIOp::create(b, loc, v,
                                arith::ConstantIndexOp::create(b, loc, offset));
    return {ShapedType::kDynamic, v};
  }
  Size divide(Size size, int64_t divisor) {
    if (size.isStatic())
      return {size.value / divisor, Value()};
    return {ShapedType::kDynamic,
            arith::DivUIOp::create(
                b, loc, size.dynamic,
                arith::ConstantIndexOp::create(b, loc, divisor))};
  }
  Size multiply(Size lhs, Size rhs) {
    if (lhs.isStatic() && rhs.isStatic())
      return {lhs.value * rhs.value, Value()};
    return {ShapedType::kDynamic,
            arith::MulIOp::create(b, loc, value(lhs), value(rhs))};
  }
  /// The static/dynamic shape of `sizes` and the operands of its dynamic dims.
  RankedTensorType type(ArrayRef<Size> sizes, Type element,
                        SmallVectorImpl<Value> &dynamic) {
    SmallVector<int64_t> shape;
    for (const Size &size : sizes) {
      shape.push_back(size.value);
      if (!size.isStatic())
        dynamic.push_back(size.dynamic);
    }
    return RankedTensorType::get(shape, element);
  }
  Value reshape(Value tensor, ArrayRef<Size> sizes) {
    SmallVector<Value> dynamic;
    auto type = this->type(
        sizes, cast<RankedTensorType>(tensor.getType()).getElementType(),
        dynamic);
    if (tensor.getType() == type)
      return tensor;
    return ReshapeOp::create(b, loc, type, tensor, dynamic);
  }

private:
  OpBuilder &b;
  Location loc;
};

/// `value` before the tensor.casts that only erased static sizes (a traced
/// program casts its static arguments to dynamic types).
Value staticSource(Value value) {
  while (auto cast = value.getDefiningOp<tensor::CastOp>())
    value = cast.getSource();
  return value;
}

LogicalResult decompose(ConvOp op) {
  Value x = staticSource(op.getInput());
  Value weight = staticSource(op.getWeight());
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  int64_t nd = xType.getRank() - 2;
  if (!wType.hasStaticShape())
    return op.emitOpError("needs a static weight shape to be decomposed "
                          "(the kernel size unrolls into windows)");

  OpBuilder b(op);
  Location loc = op.getLoc();
  SizeBuilder sizes(b, loc);
  Type element = xType.getElementType();
  int64_t groups = op.getGroups();
  // The channels are the weight's (C/G per group), whatever x's type says.
  Size batch = sizes.of(x, 0);
  Size channels = {wType.getDimSize(1) * groups, Value()};
  int64_t outChannels = wType.getDimSize(0);
  ArrayRef<int64_t> low = op.getPaddingLow(), high = op.getPaddingHigh();
  ArrayRef<int64_t> strides = op.getStrides(), dilations = op.getDilations();
  SmallVector<Size> spatial;
  for (int64_t i = 0; i < nd; ++i)
    spatial.push_back(sizes.of(x, i + 2));

  // Zero padding: x inserted into a zero tensor of the padded size.
  if (llvm::any_of(low, [](int64_t p) { return p != 0; }) ||
      llvm::any_of(high, [](int64_t p) { return p != 0; })) {
    SmallVector<Size> padded = {batch, channels};
    SmallVector<int64_t> start = {0, 0}, stop = {kToEnd, kToEnd},
                         step(nd + 2, 1);
    SmallVector<Value> dynamicStop;
    for (int64_t i = 0; i < nd; ++i) {
      padded.push_back(sizes.affine(spatial[i], 1, low[i] + high[i]));
      start.push_back(low[i]);
      Size end = sizes.affine(spatial[i], 1, low[i]);
      stop.push_back(end.value);
      if (!end.isStatic())
        dynamicStop.push_back(end.dynamic);
    }
    auto scalarType = RankedTensorType::get({}, element);
    Value zero = ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(scalarType,
                               ArrayRef<Attribute>{b.getZeroAttr(element)}));
    SmallVector<Value> dynamic;
    RankedTensorType paddedType = sizes.type(padded, element, dynamic);
    Value zeros = BroadcastToOp::create(b, loc, paddedType, zero, dynamic);
    // x's own type may have a dynamic channel dim: cast it to the padded
    // tensor's channels (static, from the weight).
    SmallVector<int64_t> xShape(xType.getShape());
    xShape[1] = channels.value;
    auto xStatic = RankedTensorType::get(xShape, element);
    if (xStatic != xType)
      x = tensor::CastOp::create(b, loc, xStatic, x);
    x = InsertSliceOp::create(b, loc, paddedType, x, zeros, ValueRange(),
                              dynamicStop, start, stop, step);
    for (int64_t i = 0; i < nd; ++i)
      spatial[i] = padded[i + 2];
  }

  // One strided window per kernel offset, each (N, C, 1, L), stacked on dim 2.
  SmallVector<Size> out;
  SmallVector<int64_t> kernel;
  Size length = {1, Value()};
  int64_t taps = 1;
  for (int64_t i = 0; i < nd; ++i) {
    kernel.push_back(wType.getDimSize(i + 2));
    // (padded - dilation * (k - 1) - 1) / stride + 1
    Size span = sizes.affine(spatial[i], 1, -dilations[i] * (kernel.back() - 1) - 1);
    out.push_back(sizes.affine(sizes.divide(span, strides[i]), 1, 1));
    length = sizes.multiply(length, out.back());
    taps *= kernel.back();
  }
  SmallVector<Value> windows;
  SmallVector<int64_t> offset(nd, 0);
  for (int64_t t = 0; t < taps; ++t) {
    SmallVector<int64_t> start = {0, 0}, stop = {kToEnd, kToEnd},
                         step = {1, 1};
    SmallVector<Value> dynamicStop;
    for (int64_t i = 0; i < nd; ++i) {
      int64_t first = offset[i] * dilations[i];
      start.push_back(first);
      // first + stride * (out - 1) + 1
      Size end = sizes.affine(out[i], strides[i], first - strides[i] + 1);
      stop.push_back(end.value);
      if (!end.isStatic())
        dynamicStop.push_back(end.dynamic);
      step.push_back(strides[i]);
    }
    Value window = SliceOp::create(b, loc, x, ValueRange(), dynamicStop,
                                   start, stop, step);
    windows.push_back(
        sizes.reshape(window, {batch, channels, {1, Value()}, length}));
    // The next offset, row-major.
    for (int64_t i = nd - 1; i >= 0; --i) {
      if (++offset[i] < kernel[i])
        break;
      offset[i] = 0;
    }
  }
  Value cols = windows.size() == 1
                   ? windows.front()
                   : Value(ConcatOp::create(b, loc, windows, 2));

  // The GEMM: (G, O/G, C/G*K) x (N, G, C/G*K, L) -> (N, G, O/G, L).
  Size depth = {wType.getDimSize(1) * taps, Value()};
  Value product;
  if (groups == 1) {
    Value w = sizes.reshape(weight, {{outChannels, Value()}, depth});
    product = MatmulOp::create(b, loc, w,
                               sizes.reshape(cols, {batch, depth, length}));
  } else {
    Value w = sizes.reshape(weight, {{groups, Value()},
                                     {outChannels / groups, Value()},
                                     depth});
    product = MatmulOp::create(
        b, loc, w,
        sizes.reshape(cols, {batch, {groups, Value()}, depth, length}));
  }
  SmallVector<Size> yShape = {batch, {outChannels, Value()}};
  llvm::append_range(yShape, out);
  Value result = sizes.reshape(product, yShape);
  if (result.getType() != op.getResult().getType())
    result = tensor::CastOp::create(b, loc, op.getResult().getType(), result);
  op.getResult().replaceAllUsesWith(result);
  op.erase();
  return success();
}

struct EmberDecomposeConvPass
    : ember::impl::EmberDecomposeConvBase<EmberDecomposeConvPass> {
  void runOnOperation() override {
    SmallVector<ConvOp> ops;
    getOperation().walk([&](ConvOp op) { ops.push_back(op); });
    for (ConvOp op : ops)
      if (failed(decompose(op)))
        return signalPassFailure();
  }
};

} // namespace
