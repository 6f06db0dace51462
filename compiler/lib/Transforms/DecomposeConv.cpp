//===- DecomposeConv.cpp - ember.conv as im2col primitives -----------------===//
//
// On the CPU, f32 convolutions call the runtime's kernels
// (ember-conv-to-runtime). Every other convolution left in a program (the
// GPU back ends, other element types) becomes the im2col composite that
// python/ember/nn/_conv.py traces: the zero-padded input's strided window
// at each kernel offset, stacked into (N, C*K, L) columns, times the weight
// as an (O, C*K) matrix (batched over groups). So an exported program, which
// keeps the one op, still compiles for every target. The kernel and the
// spatial sizes must be static (an exported program's are: only the batch
// is symbolic).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
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

/// The sizes operands of a reshape/broadcast to `shape`: `batch` for the
/// dynamic dim 0 (the only one allowed), none otherwise.
SmallVector<Value> dynamicSizes(ArrayRef<int64_t> shape, Value batch) {
  SmallVector<Value> sizes;
  if (ShapedType::isDynamic(shape[0]))
    sizes.push_back(batch);
  return sizes;
}

Value reshape(OpBuilder &b, Location loc, Value value, ArrayRef<int64_t> shape,
              Value batch) {
  auto type = RankedTensorType::get(
      shape, cast<RankedTensorType>(value.getType()).getElementType());
  if (value.getType() == type)
    return value;
  return ReshapeOp::create(b, loc, type, value, dynamicSizes(shape, batch));
}

/// `value` before the tensor.casts that only erased static sizes (a traced
/// program casts its static arguments to dynamic types).
Value staticSource(Value value) {
  while (auto cast = value.getDefiningOp<tensor::CastOp>())
    value = cast.getSource();
  return value;
}

LogicalResult decompose(ConvOp op) {
  Value input = staticSource(op.getInput());
  Value weight = staticSource(op.getWeight());
  auto xType = cast<RankedTensorType>(input.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  int64_t nd = xType.getRank() - 2;
  if (!wType.hasStaticShape())
    return op.emitOpError("needs a static weight shape to be decomposed "
                          "(the kernel size unrolls into windows)");
  for (int64_t d = 1; d < xType.getRank(); ++d)
    if (xType.isDynamicDim(d))
      return op.emitOpError("needs static channel and spatial sizes to be "
                            "decomposed (only the batch may be dynamic)");

  OpBuilder b(op);
  Location loc = op.getLoc();
  Type element = xType.getElementType();
  Value x = input;
  Value batch = tensor::DimOp::create(b, loc, x, 0);
  int64_t n = xType.getDimSize(0);
  int64_t channels = xType.getDimSize(1);
  int64_t outChannels = wType.getDimSize(0);
  int64_t groups = op.getGroups();
  ArrayRef<int64_t> low = op.getPaddingLow(), high = op.getPaddingHigh();
  ArrayRef<int64_t> strides = op.getStrides(), dilations = op.getDilations();

  // Zero padding: x inserted into a zero tensor of the padded size.
  if (llvm::any_of(low, [](int64_t p) { return p != 0; }) ||
      llvm::any_of(high, [](int64_t p) { return p != 0; })) {
    SmallVector<int64_t> padded = {n, channels};
    SmallVector<int64_t> start = {0, 0}, stop = {kToEnd, kToEnd},
                         step(nd + 2, 1);
    for (int64_t i = 0; i < nd; ++i) {
      int64_t size = xType.getDimSize(i + 2);
      padded.push_back(size + low[i] + high[i]);
      start.push_back(low[i]);
      stop.push_back(low[i] + size);
    }
    auto scalarType = RankedTensorType::get({}, element);
    Value zero = ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(scalarType,
                               ArrayRef<Attribute>{b.getZeroAttr(element)}));
    auto paddedType = RankedTensorType::get(padded, element);
    Value zeros = BroadcastToOp::create(b, loc, paddedType, zero,
                                        dynamicSizes(padded, batch));
    x = InsertSliceOp::create(b, loc, paddedType, x, zeros, start, stop, step);
  }

  // One strided window per kernel offset, each (N, C, 1, L), stacked on dim 2.
  SmallVector<int64_t> out, kernel;
  SmallVector<int64_t> yShape = {n, outChannels};
  int64_t length = 1, taps = 1;
  for (int64_t i = 0; i < nd; ++i) {
    kernel.push_back(wType.getDimSize(i + 2));
    int64_t span = xType.getDimSize(i + 2) + low[i] + high[i] -
                   dilations[i] * (kernel.back() - 1) - 1;
    out.push_back(span / strides[i] + 1);
    yShape.push_back(out.back());
    length *= out.back();
    taps *= kernel.back();
  }
  SmallVector<Value> windows;
  SmallVector<int64_t> offset(nd, 0);
  for (int64_t t = 0; t < taps; ++t) {
    SmallVector<int64_t> start = {0, 0}, stop = {kToEnd, kToEnd},
                         step = {1, 1};
    for (int64_t i = 0; i < nd; ++i) {
      int64_t first = offset[i] * dilations[i];
      start.push_back(first);
      stop.push_back(first + strides[i] * (out[i] - 1) + 1);
      step.push_back(strides[i]);
    }
    Value window = SliceOp::create(b, loc, x, start, stop, step);
    windows.push_back(reshape(b, loc, window, {n, channels, 1, length}, batch));
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
  int64_t depth = channels / groups * taps;
  Value product;
  if (groups == 1) {
    Value w = reshape(b, loc, weight, {outChannels, depth}, batch);
    product = MatmulOp::create(
        b, loc, w, reshape(b, loc, cols, {n, depth, length}, batch));
  } else {
    Value w = reshape(b, loc, weight, {groups, outChannels / groups, depth},
                      batch);
    product = MatmulOp::create(
        b, loc, w, reshape(b, loc, cols, {n, groups, depth, length}, batch));
  }
  Value result = reshape(b, loc, product, yShape, batch);
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
