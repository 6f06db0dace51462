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
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
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

void lowerForward(ModuleOp module, AttentionOp op) {
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
