//===- AttentionToRuntime.cpp - call the runtime's blocked attention ------===//
//
// ember.attention and ember.attention_backward on f32/f64 become calls to
// the runtime's flash-attention kernels (runtime/lib/CpuAttention.cpp),
// which never hold the L x S scores. This runs at the tensor level, before
// ember-decompose (which handles f16/bf16 and every other target): each
// operand is flattened to [B, rows, cols] (collapse_shape, no copy), handed
// over with bufferization.to_buffer (read-only), and each result is a
// fresh buffer the kernel fills, read back with bufferization.to_tensor
// (restrict, writable) and expanded to the op's shape.
//
// Multi-head attention's q, k and v are most often the heads of one fused
// projection (reshape [B, L, 3, H, E], transpose, slice), and its output
// goes back through a transpose to [B, L, H, E]: lowered as written, each
// is a copy per layer. When all three operands trace back through
// transposes, unit-step slices and reshapes (tensor.cast) to a dense tensor,
// the forward calls ember_cpu_attention_heads_* on 4-d strided views of
// that tensor instead (bufferization.to_buffer of the base, then
// memref.reinterpret_cast), and an output whose one user is the transpose
// to [B, L, H, E] is written in that layout.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace ember {
#define GEN_PASS_DEF_EMBERATTENTIONTORUNTIME
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

/// The fully dynamic strided memref type the kernels take.
MemRefType anyStrided(MLIRContext *ctx, int64_t rank, Type element) {
  SmallVector<int64_t> shape(rank, ShapedType::kDynamic);
  SmallVector<int64_t> strides(rank, ShapedType::kDynamic);
  return MemRefType::get(
      shape, element,
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

/// `tensor` [batch..., R, C] as [B, R, C] (for `keep` trailing dims; the
/// logsumexp keeps 1): batch dims collapsed, or a unit batch dim added.
Value flatten(OpBuilder &b, Location loc, Value tensor, int64_t keep) {
  auto type = cast<RankedTensorType>(tensor.getType());
  int64_t rank = type.getRank(), batch = rank - keep;
  if (batch == 1)
    return tensor;
  if (batch == 0) {
    SmallVector<int64_t> shape = {1};
    llvm::append_range(shape, type.getShape());
    SmallVector<ReassociationIndices> groups = {{0, 1}};
    for (int64_t d = 2; d <= rank; ++d)
      groups.push_back({d});
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), tensor,
        groups);
  }
  SmallVector<ReassociationIndices> groups(1);
  for (int64_t d = 0; d < batch; ++d)
    groups[0].push_back(d);
  for (int64_t d = batch; d < rank; ++d)
    groups.push_back({d});
  return tensor::CollapseShapeOp::create(b, loc, tensor, groups);
}

/// The inverse of flatten: `flat` [B, dims...] back to `type`, whose batch
/// dims' sizes are those of `like` (the op's query).
Value unflatten(OpBuilder &b, Location loc, Value flat, RankedTensorType type,
                Value like) {
  auto flatType = cast<RankedTensorType>(flat.getType());
  int64_t keep = flatType.getRank() - 1;
  int64_t batch = type.getRank() - keep;
  Value result = flat;
  if (batch == 0) {
    SmallVector<ReassociationIndices> groups = {{0, 1}};
    for (int64_t d = 2; d <= keep; ++d)
      groups.push_back({d});
    result = tensor::CollapseShapeOp::create(b, loc, flat, groups);
  } else if (batch > 1) {
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, like);
    sizes.resize(batch);
    SmallVector<OpFoldResult> flatSizes = tensor::getMixedSizes(b, loc, flat);
    sizes.append(flatSizes.begin() + 1, flatSizes.end());
    SmallVector<int64_t> shape;
    for (int64_t d = 0; d < type.getRank(); ++d)
      shape.push_back(d < batch ? type.getDimSize(d)
                                : flatType.getDimSize(d - batch + 1));
    SmallVector<ReassociationIndices> groups(1);
    for (int64_t d = 0; d < batch; ++d)
      groups[0].push_back(d);
    for (int64_t d = batch; d < type.getRank(); ++d)
      groups.push_back({d});
    result = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), flat,
        groups, sizes);
  }
  if (result.getType() != type)
    result = tensor::CastOp::create(b, loc, type, result);
  return result;
}

/// A read-only view of flattened `tensor` as the kernels' memref type.
Value asBuffer(OpBuilder &b, Location loc, Value flat) {
  auto type = cast<RankedTensorType>(flat.getType());
  // to_buffer keeps the tensor's shape; any layout casts to the kernels'.
  SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
  auto viewType = MemRefType::get(
      type.getShape(), type.getElementType(),
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
  Value view = bufferization::ToBufferOp::create(b, loc, viewType, flat,
                                                 /*read_only=*/true);
  return memref::CastOp::create(
      b, loc, anyStrided(b.getContext(), type.getRank(), type.getElementType()),
      view);
}

/// A fresh [sizes...] buffer for a result: the memref the kernel fills
/// (cast to its parameter type) and the tensor it becomes.
std::pair<Value, Value> newResult(OpBuilder &b, Location loc,
                                  ArrayRef<OpFoldResult> sizes, Type element) {
  SmallVector<int64_t> shape;
  SmallVector<Value> dynamic;
  for (OpFoldResult size : sizes) {
    if (auto value = dyn_cast<Value>(size)) {
      shape.push_back(ShapedType::kDynamic);
      dynamic.push_back(value);
    } else {
      shape.push_back(cast<IntegerAttr>(cast<Attribute>(size)).getInt());
    }
  }
  auto type = MemRefType::get(shape, element);
  Value alloc = memref::AllocOp::create(b, loc, type, dynamic);
  Value tensor = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(shape, element), alloc, b.getUnitAttr(),
      b.getUnitAttr());
  Value arg = memref::CastOp::create(
      b, loc, anyStrided(b.getContext(), shape.size(), element), alloc);
  return {arg, tensor};
}

OpFoldResult dimOf(OpBuilder &b, Location loc, Value tensor, int64_t d) {
  return tensor::getMixedSize(b, loc, tensor, d);
}

func::FuncOp declare(ModuleOp module, StringRef name, TypeRange inputs) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder b(module.getBodyRegion());
  auto func = func::FuncOp::create(b, module.getLoc(), name,
                                   b.getFunctionType(inputs, {}));
  func.setPrivate();
  return func;
}

/// The scale (f64) and the flags (bit 0 causal, bit 1 a mask is given).
SmallVector<Value> scalars(OpBuilder &b, Location loc, APFloat scale,
                           bool causal, bool hasMask) {
  return {arith::ConstantOp::create(b, loc, b.getF64FloatAttr(
                                                scale.convertToDouble())),
          arith::ConstantOp::create(
              b, loc, b.getI64IntegerAttr((causal ? 1 : 0) | (hasMask ? 2 : 0)))};
}

bool supported(Type element) { return element.isF32() || element.isF64(); }

std::string kernelName(StringRef base, Type element) {
  return (base + (element.isF32() ? "_f32" : "_f64")).str();
}

void call(OpBuilder &b, Location loc, ModuleOp module, StringRef name,
          ArrayRef<Value> args) {
  SmallVector<Type> types;
  for (Value arg : args)
    types.push_back(arg.getType());
  func::CallOp::create(b, loc, declare(module, name, types), args);
}

/// A strided view of `base`, a tensor whose buffer is dense and row-major
/// (a function argument or the fresh result of a computing op): element
/// (i_0, ...) at offset + sum_d i_d * strides[d], as index values built
/// before the attention op.
struct StridedView {
  Value base, offset;
  SmallVector<Value> sizes, strides;
  bool dense = true;  // row-major strides for `sizes`, offset 0
  bool moved = false; // a transpose or a slice was looked through
};

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// Equal sizes: the same value, equal constants, or the same dim of the
/// same tensor.
bool sameSize(Value a, Value c) {
  if (a == c)
    return true;
  std::optional<int64_t> x = getConstantIntValue(a), y = getConstantIntValue(c);
  if (x || y)
    return x && y && *x == *y;
  auto dimA = a.getDefiningOp<tensor::DimOp>(), dimC = c.getDefiningOp<tensor::DimOp>();
  if (!dimA || !dimC || dimA.getSource() != dimC.getSource())
    return false;
  std::optional<int64_t> i = getConstantIntValue(dimA.getIndex()),
                         j = getConstantIntValue(dimC.getIndex());
  return i && j && *i == *j;
}

void setRowMajor(OpBuilder &b, Location loc, StridedView &view) {
  view.strides.assign(view.sizes.size(), Value());
  Value stride = indexConstant(b, loc, 1);
  for (int64_t d = static_cast<int64_t>(view.sizes.size()) - 1; d >= 0; --d) {
    view.strides[d] = stride;
    stride = b.createOrFold<arith::MulIOp>(loc, stride, view.sizes[d]);
  }
}

/// `value` as a view of a dense tensor, looking through tensor.cast,
/// ember.transpose, ember.slice (unit steps, constant bounds inside the
/// dim) and ember.reshape (of a dense view; of any view, one dim split or
/// unit dims added or dropped); nullopt when something else is in the way.
std::optional<StridedView> traceView(OpBuilder &b, Location loc, Value value,
                                     int depth = 0) {
  if (depth > 12)
    return std::nullopt;
  Operation *def = value.getDefiningOp();
  if (auto cast = dyn_cast_or_null<tensor::CastOp>(def))
    return traceView(b, loc, cast.getSource(), depth + 1);
  if (auto transpose = dyn_cast_or_null<TransposeOp>(def)) {
    std::optional<StridedView> in = traceView(b, loc, transpose.getInput(), depth + 1);
    if (!in)
      return std::nullopt;
    StridedView out = *in;
    ArrayRef<int64_t> perm = transpose.getPermutation();
    for (auto [d, from] : llvm::enumerate(perm)) {
      out.sizes[d] = in->sizes[from];
      out.strides[d] = in->strides[from];
      if (static_cast<int64_t>(d) != from) {
        out.dense = false;
        out.moved = true;
      }
    }
    return out;
  }
  if (auto slice = dyn_cast_or_null<SliceOp>(def)) {
    std::optional<StridedView> in = traceView(b, loc, slice.getInput(), depth + 1);
    if (!in)
      return std::nullopt;
    StridedView out = *in;
    SmallVector<OpFoldResult> starts =
        getMixedValues(slice.getStart(), slice.getDynamicStart(), b.getContext());
    SmallVector<OpFoldResult> stops =
        getMixedValues(slice.getStop(), slice.getDynamicStop(), b.getContext());
    for (size_t d = 0; d < out.sizes.size(); ++d) {
      std::optional<int64_t> start = getConstantIntValue(starts[d]);
      std::optional<int64_t> stop = getConstantIntValue(stops[d]);
      if (slice.getStep()[d] != 1 || !start || !stop || *start < 0)
        return std::nullopt;
      if (*stop >= std::numeric_limits<int32_t>::max()) { // to the end
        if (*start == 0)
          continue;
        out.sizes[d] = b.createOrFold<arith::SubIOp>(
            loc, in->sizes[d], indexConstant(b, loc, *start));
      } else {
        // Python's clamping only matters past the dim's end: known here.
        std::optional<int64_t> size = getConstantIntValue(in->sizes[d]);
        if (!size || *stop > *size || *stop < *start)
          return std::nullopt;
        if (*start == 0 && *stop == *size)
          continue;
        out.sizes[d] = indexConstant(b, loc, *stop - *start);
      }
      out.offset = b.createOrFold<arith::AddIOp>(
          loc, out.offset,
          b.createOrFold<arith::MulIOp>(loc, indexConstant(b, loc, *start),
                                        in->strides[d]));
      out.dense = false;
      out.moved = true;
    }
    return out;
  }
  if (auto reshape = dyn_cast_or_null<ReshapeOp>(def)) {
    std::optional<StridedView> in = traceView(b, loc, reshape.getInput(), depth + 1);
    if (!in)
      return std::nullopt;
    auto type = cast<RankedTensorType>(reshape.getType());
    SmallVector<Value> sizes;
    auto dynamic = reshape.getSizes().begin();
    for (int64_t size : type.getShape())
      sizes.push_back(ShapedType::isDynamic(size) ? *dynamic++
                                                  : indexConstant(b, loc, size));
    StridedView out = *in;
    out.sizes = sizes;
    if (in->dense) {
      setRowMajor(b, loc, out);
      return out;
    }
    // One dim split in several (a projection's columns into [heads, head
    // size]), the dims before and after it unchanged: the split dims take
    // the old dim's stride times the sizes after them.
    size_t lead = 0, tail = 0, oldRank = in->sizes.size(), newRank = sizes.size();
    while (lead < std::min(oldRank, newRank) && sameSize(in->sizes[lead], sizes[lead]))
      ++lead;
    while (tail < std::min(oldRank, newRank) - lead &&
           sameSize(in->sizes[oldRank - 1 - tail], sizes[newRank - 1 - tail]))
      ++tail;
    if (lead + tail + 1 == oldRank && newRank > oldRank) {
      out.strides.assign(newRank, Value());
      for (size_t d = 0; d < lead; ++d)
        out.strides[d] = in->strides[d];
      for (size_t d = 0; d < tail; ++d)
        out.strides[newRank - 1 - d] = in->strides[oldRank - 1 - d];
      Value stride = in->strides[lead];
      for (size_t d = newRank - tail; d-- > lead;) {
        out.strides[d] = stride;
        stride = b.createOrFold<arith::MulIOp>(loc, stride, sizes[d]);
      }
      return out;
    }
    // Only unit dims added or dropped: the other dims pair up in order.
    auto isUnit = [](Value size) {
      std::optional<int64_t> c = getConstantIntValue(size);
      return c && *c == 1;
    };
    out.strides.clear();
    size_t from = 0;
    for (Value size : sizes) {
      while (from < in->sizes.size() && isUnit(in->sizes[from]) && !isUnit(size))
        ++from;
      if (isUnit(size)) {
        out.strides.push_back(indexConstant(b, loc, 0));
        if (from < in->sizes.size() && isUnit(in->sizes[from]))
          ++from;
        continue;
      }
      if (from == in->sizes.size() || !sameSize(in->sizes[from], size))
        return std::nullopt;
      out.strides.push_back(in->strides[from++]);
    }
    for (; from < in->sizes.size(); ++from)
      if (!isUnit(in->sizes[from]))
        return std::nullopt;
    return out;
  }
  // A base: an argument, or an ember op that computes a fresh tensor (a
  // reshape or slice may be a strided view itself; other dialects' ops are
  // left alone).
  if (def && (!def->getDialect() || def->getDialect()->getNamespace() != "ember" ||
              isa<ReshapeOp, SliceOp>(def)))
    return std::nullopt;
  if (!def && !isa<func::FuncOp>(cast<BlockArgument>(value).getOwner()->getParentOp()))
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type)
    return std::nullopt;
  StridedView view;
  view.base = value;
  view.offset = indexConstant(b, loc, 0);
  for (int64_t d = 0; d < type.getRank(); ++d)
    view.sizes.push_back(
        type.isDynamicDim(d)
            ? Value(tensor::DimOp::create(b, loc, value, d))
            : indexConstant(b, loc, type.getDimSize(d)));
  setRowMajor(b, loc, view);
  return view;
}

/// `buffer` (dense) reinterpreted as the kernels' memref type.
Value reinterpret(OpBuilder &b, Location loc, Value buffer, Value offset,
                  ArrayRef<Value> sizeValues, ArrayRef<Value> strideValues) {
  SmallVector<OpFoldResult> sizes(sizeValues.begin(), sizeValues.end());
  SmallVector<OpFoldResult> strides(strideValues.begin(), strideValues.end());
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  return memref::ReinterpretCastOp::create(
      b, loc, anyStrided(b.getContext(), sizes.size(), element), buffer,
      OpFoldResult(offset), sizes, strides);
}

/// The base's dense buffer (read-only).
Value baseBuffer(OpBuilder &b, Location loc, const StridedView &view) {
  auto type = cast<RankedTensorType>(view.base.getType());
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()), view.base,
      /*read_only=*/true);
}

/// The transpose to [B, L, H, Ev] that is the one user of `result`, if any.
TransposeOp headsTransposeOf(Value result) {
  if (!result.hasOneUse())
    return {};
  auto transpose = dyn_cast<TransposeOp>(*result.getUsers().begin());
  if (!transpose ||
      transpose.getPermutation() != ArrayRef<int64_t>({0, 2, 1, 3}))
    return {};
  return transpose;
}

/// ember_cpu_attention_heads_*: q, k, v read in place; false (nothing
/// changed but dead index arithmetic) when the operands are not views of
/// dense tensors or nothing would be saved.
bool lowerForwardHeads(ModuleOp module, AttentionOp op) {
  if (op.getQuery().getType().getRank() != 4 || op.getKey().getType().getRank() != 4 ||
      op.getValue().getType().getRank() != 4 ||
      (op.getMask() && op.getMask().getType().getRank() != 4))
    return false;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type element = op.getQuery().getType().getElementType();
  std::optional<StridedView> q = traceView(b, loc, op.getQuery());
  std::optional<StridedView> k = traceView(b, loc, op.getKey());
  std::optional<StridedView> v = traceView(b, loc, op.getValue());
  TransposeOp outTranspose = headsTransposeOf(op.getResult());
  if (!q || !k || !v || !(q->moved || k->moved || v->moved || outTranspose))
    return false;
  Value batch = q->sizes[0], heads = q->sizes[1], rows = q->sizes[2];
  Value columns = v->sizes[3];
  // The output: [B, L, H, Ev] written through a [B, H, L, Ev] view when the
  // transpose to that layout reads it, else [B, H, L, Ev].
  SmallVector<Value> outSizes =
      outTranspose ? SmallVector<Value>{batch, rows, heads, columns}
                   : SmallVector<Value>{batch, heads, rows, columns};
  SmallVector<int64_t> outShape;
  SmallVector<Value> outDynamic;
  for (Value size : outSizes) {
    std::optional<int64_t> c = getConstantIntValue(size);
    outShape.push_back(c ? *c : ShapedType::kDynamic);
    if (!c)
      outDynamic.push_back(size);
  }
  Value outAlloc = memref::AllocOp::create(
      b, loc, MemRefType::get(outShape, element), outDynamic);
  Value outTensor = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(outShape, element), outAlloc, b.getUnitAttr(),
      b.getUnitAttr());
  StridedView outView;
  outView.sizes = {batch, heads, rows, columns};
  if (outTranspose) {
    Value rowStride = b.createOrFold<arith::MulIOp>(loc, heads, columns);
    outView.strides = {b.createOrFold<arith::MulIOp>(loc, rows, rowStride),
                       columns, rowStride, indexConstant(b, loc, 1)};
  } else {
    setRowMajor(b, loc, outView);
  }
  Value zero = indexConstant(b, loc, 0), one = indexConstant(b, loc, 1);
  Value out = reinterpret(b, loc, outAlloc, zero, outView.sizes, outView.strides);
  Value flatRows = b.createOrFold<arith::MulIOp>(loc, batch, heads);
  auto [lse, lseTensor] = newResult(b, loc, {flatRows, rows}, element);
  // One buffer per base (q, k and v are most often one projection's).
  llvm::SmallDenseMap<Value, Value> buffers;
  auto viewOf = [&](const StridedView &view) {
    Value &buffer = buffers[view.base];
    if (!buffer)
      buffer = baseBuffer(b, loc, view);
    return reinterpret(b, loc, buffer, view.offset, view.sizes, view.strides);
  };
  SmallVector<Value> args = {viewOf(*q), viewOf(*k), viewOf(*v)};
  Value qBase = buffers[q->base];
  // The mask as before; without one, any 3-d memref (ignored).
  args.push_back(op.getMask()
                     ? asBuffer(b, loc, flatten(b, loc, op.getMask(), 2))
                     : reinterpret(b, loc, qBase, zero, {one, one, one},
                                   {one, one, one}));
  args.push_back(out);
  args.push_back(lse);
  llvm::append_range(args, scalars(b, loc, op.getScale(), op.getCausal(),
                                   static_cast<bool>(op.getMask())));
  call(b, loc, module, kernelName("ember_cpu_attention_heads", element), args);
  // The logsumexp [B * H, L] as the op's [B, H, L].
  auto lseType = cast<RankedTensorType>(lseTensor.getType());
  SmallVector<int64_t> lseShape = {ShapedType::kDynamic, ShapedType::kDynamic,
                                   lseType.getDimSize(1)};
  Value logsumexp = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(lseShape, element), lseTensor,
      SmallVector<ReassociationIndices>{{0, 1}, {2}},
      SmallVector<OpFoldResult>{batch, heads, rows});
  if (logsumexp.getType() != op.getLogsumexp().getType())
    logsumexp = tensor::CastOp::create(b, loc, op.getLogsumexp().getType(), logsumexp);
  op.getLogsumexp().replaceAllUsesWith(logsumexp);
  Value result = outTensor;
  Value replaced = outTranspose ? outTranspose.getResult() : op.getResult();
  if (result.getType() != replaced.getType())
    result = tensor::CastOp::create(b, loc, replaced.getType(), result);
  replaced.replaceAllUsesWith(result);
  if (outTranspose)
    outTranspose->erase();
  op->erase();
  return true;
}

void lowerForward(ModuleOp module, AttentionOp op) {
  if (lowerForwardHeads(module, op))
    return;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type element = op.getQuery().getType().getElementType();
  Value q = flatten(b, loc, op.getQuery(), 2);
  Value k = flatten(b, loc, op.getKey(), 2);
  Value v = flatten(b, loc, op.getValue(), 2);
  Value mask = op.getMask() ? flatten(b, loc, op.getMask(), 2) : Value();
  OpFoldResult batch = dimOf(b, loc, q, 0), rows = dimOf(b, loc, q, 1);
  auto [out, outTensor] =
      newResult(b, loc, {batch, rows, dimOf(b, loc, v, 2)}, element);
  auto [lse, lseTensor] = newResult(b, loc, {batch, rows}, element);
  Value qBuffer = asBuffer(b, loc, q);
  SmallVector<Value> args = {qBuffer, asBuffer(b, loc, k), asBuffer(b, loc, v),
                             mask ? asBuffer(b, loc, mask) : qBuffer, out, lse};
  llvm::append_range(args, scalars(b, loc, op.getScale(), op.getCausal(),
                                   static_cast<bool>(mask)));
  call(b, loc, module, kernelName("ember_cpu_attention", element), args);
  Value result = unflatten(b, loc, outTensor, op.getResult().getType(),
                           op.getQuery());
  Value logsumexp = unflatten(b, loc, lseTensor, op.getLogsumexp().getType(),
                              op.getQuery());
  op.getResult().replaceAllUsesWith(result);
  op.getLogsumexp().replaceAllUsesWith(logsumexp);
  op->erase();
}

void lowerBackward(ModuleOp module, AttentionBackwardOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type element = op.getQuery().getType().getElementType();
  Value g = flatten(b, loc, op.getGrad(), 2);
  Value q = flatten(b, loc, op.getQuery(), 2);
  Value k = flatten(b, loc, op.getKey(), 2);
  Value v = flatten(b, loc, op.getValue(), 2);
  Value o = flatten(b, loc, op.getOutput(), 2);
  Value lse = flatten(b, loc, op.getLogsumexp(), 1);
  Value mask = op.getMask() ? flatten(b, loc, op.getMask(), 2) : Value();
  auto sizesOf = [&](Value t) {
    return SmallVector<OpFoldResult>{dimOf(b, loc, t, 0), dimOf(b, loc, t, 1),
                                     dimOf(b, loc, t, 2)};
  };
  auto [dq, dqTensor] = newResult(b, loc, sizesOf(q), element);
  auto [dk, dkTensor] = newResult(b, loc, sizesOf(k), element);
  auto [dv, dvTensor] = newResult(b, loc, sizesOf(v), element);
  Value qBuffer = asBuffer(b, loc, q);
  SmallVector<Value> args = {asBuffer(b, loc, g),   qBuffer,
                             asBuffer(b, loc, k),   asBuffer(b, loc, v),
                             asBuffer(b, loc, o),   asBuffer(b, loc, lse),
                             mask ? asBuffer(b, loc, mask) : qBuffer,
                             dq,                    dk,
                             dv};
  llvm::append_range(args, scalars(b, loc, op.getScale(), op.getCausal(),
                                   static_cast<bool>(mask)));
  call(b, loc, module, kernelName("ember_cpu_attention_backward", element),
       args);
  op.getGradQuery().replaceAllUsesWith(
      unflatten(b, loc, dqTensor, op.getGradQuery().getType(), op.getQuery()));
  op.getGradKey().replaceAllUsesWith(
      unflatten(b, loc, dkTensor, op.getGradKey().getType(), op.getQuery()));
  op.getGradValue().replaceAllUsesWith(
      unflatten(b, loc, dvTensor, op.getGradValue().getType(), op.getQuery()));
  op->erase();
}

struct EmberAttentionToRuntimePass
    : ember::impl::EmberAttentionToRuntimeBase<EmberAttentionToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<AttentionOp> forward;
    SmallVector<AttentionBackwardOp> backward;
    module.walk([&](Operation *op) {
      if (auto attention = dyn_cast<AttentionOp>(op)) {
        if (supported(attention.getQuery().getType().getElementType()))
          forward.push_back(attention);
      } else if (auto grad = dyn_cast<AttentionBackwardOp>(op)) {
        if (supported(grad.getQuery().getType().getElementType()))
          backward.push_back(grad);
      }
    });
    for (AttentionOp op : forward)
      lowerForward(module, op);
    for (AttentionBackwardOp op : backward)
      lowerBackward(module, op);
  }
};

} // namespace
