//===- ConvToRuntime.cpp - call the runtime's convolution kernels ---------===//
//
// ember.conv, ember.conv_backward_data and ember.conv_backward_weight on
// f32 become calls to the runtime's kernels (runtime/lib/CpuConv.cpp),
// which pack im2col panels straight into the GEMM micro-kernel's layout
// instead of materializing the im2col matrix. At the tensor level: each
// operand is viewed as 5-D [N, C, D, H, W] (unit spatial dims in front:
// an expand_shape, no copy) and handed over with bufferization.to_buffer
// (read-only); the result is a fresh 5-D buffer the kernel fills, read
// back with bufferization.to_tensor (restrict, writable) and collapsed to
// the op's rank.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace ember {
#define GEN_PASS_DEF_EMBERCONVTORUNTIME
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

constexpr int64_t kRank = 5;

MemRefType anyStrided(MLIRContext *ctx, Type element) {
  SmallVector<int64_t> shape(kRank, ShapedType::kDynamic);
  SmallVector<int64_t> strides(kRank, ShapedType::kDynamic);
  return MemRefType::get(
      shape, element,
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

/// The reassociation between rank `rank` [N, C, spatial...] and 5-D
/// [N, C, 1..., spatial...]: the unit dims join C's group.
SmallVector<ReassociationIndices> groupsFor(int64_t rank) {
  int64_t units = kRank - rank;
  SmallVector<ReassociationIndices> groups = {{0}, {1}};
  for (int64_t u = 0; u < units; ++u)
    groups[1].push_back(2 + u);
  for (int64_t d = 2 + units; d < kRank; ++d)
    groups.push_back({d});
  return groups;
}

/// `tensor` as 5-D (no copy).
Value expand(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  int64_t rank = type.getRank();
  if (rank == kRank)
    return tensor;
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, tensor);
  SmallVector<OpFoldResult> expanded = {sizes[0], sizes[1]};
  SmallVector<int64_t> shape = {type.getDimSize(0), type.getDimSize(1)};
  for (int64_t u = 0; u < kRank - rank; ++u) {
    expanded.push_back(b.getIndexAttr(1));
    shape.push_back(1);
  }
  for (int64_t d = 2; d < rank; ++d) {
    expanded.push_back(sizes[d]);
    shape.push_back(type.getDimSize(d));
  }
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), tensor,
      groupsFor(rank), expanded);
}

/// A read-only view of a 5-D tensor as the kernels' memref type.
Value asBuffer(OpBuilder &b, Location loc, Value tensor5) {
  auto type = cast<RankedTensorType>(tensor5.getType());
  SmallVector<int64_t> strides(kRank, ShapedType::kDynamic);
  auto viewType = MemRefType::get(
      type.getShape(), type.getElementType(),
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
  Value view = bufferization::ToBufferOp::create(b, loc, viewType, tensor5,
                                                 /*read_only=*/true);
  return memref::CastOp::create(
      b, loc, anyStrided(b.getContext(), type.getElementType()), view);
}

Value index(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value dim(OpBuilder &b, Location loc, Value tensor, int64_t d) {
  return tensor::DimOp::create(b, loc, tensor, d);
}

/// Converts the call's 5-D result back to the op's type: collapse the unit
/// dims, then cast to the op's static/dynamic pattern.
Value collapse(OpBuilder &b, Location loc, Value tensor5,
               RankedTensorType type) {
  Value result = tensor5;
  if (type.getRank() != kRank)
    result = tensor::CollapseShapeOp::create(b, loc, tensor5,
                                             groupsFor(type.getRank()));
  if (result.getType() != type)
    result = tensor::CastOp::create(b, loc, type, result);
  return result;
}

/// The kernel's trailing scalars: stride, low padding and dilation per
/// spatial dim as 5-D (1, 0, 1 for the unit dims in front), then groups.
SmallVector<Value> scalars(OpBuilder &b, Location loc, ArrayRef<int64_t> strides,
                           ArrayRef<int64_t> low, ArrayRef<int64_t> dilations,
                           int64_t groups) {
  int64_t units = 3 - static_cast<int64_t>(strides.size());
  SmallVector<Value> values;
  auto push = [&](ArrayRef<int64_t> list, int64_t unit) {
    for (int64_t u = 0; u < units; ++u)
      values.push_back(
          arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(unit)));
    for (int64_t v : list)
      values.push_back(
          arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v)));
  };
  push(strides, 1);
  push(low, 0);
  push(dilations, 1);
  values.push_back(
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(groups)));
  return values;
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

/// Calls `name` on the two operands and a fresh result of `sizes` (the
/// op's rank), returning the result as the op's type.
Value lower(ModuleOp module, Operation *op, StringRef name, Value lhs,
            Value rhs, ArrayRef<Value> sizes, ArrayRef<int64_t> strides,
            ArrayRef<int64_t> low, ArrayRef<int64_t> dilations,
            int64_t groups) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  Type element = resultType.getElementType();
  // The 5-D result buffer: sizes of the op's rank with unit dims in front
  // of the spatial ones.
  SmallVector<Value> dynamic;
  SmallVector<int64_t> shape;
  int64_t units = kRank - resultType.getRank();
  for (int64_t d = 0; d < kRank; ++d) {
    if (d >= 2 && d < 2 + units) {
      shape.push_back(1);
      continue;
    }
    Value size = sizes[d < 2 ? d : d - units];
    if (std::optional<int64_t> c = getConstantIntValue(size)) {
      shape.push_back(*c);
    } else {
      shape.push_back(ShapedType::kDynamic);
      dynamic.push_back(size);
    }
  }
  auto type = MemRefType::get(shape, element);
  Value alloc = memref::AllocOp::create(b, loc, type, dynamic);
  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(shape, element), alloc, b.getUnitAttr(),
      b.getUnitAttr());
  Value out =
      memref::CastOp::create(b, loc, anyStrided(b.getContext(), element), alloc);
  SmallVector<Value> args = {asBuffer(b, loc, expand(b, loc, lhs)),
                             asBuffer(b, loc, expand(b, loc, rhs)), out};
  llvm::append_range(args, scalars(b, loc, strides, low, dilations, groups));
  SmallVector<Type> types;
  for (Value arg : args)
    types.push_back(arg.getType());
  func::CallOp::create(b, loc, declare(module, name, types), args);
  return collapse(b, loc, result, resultType);
}

void lowerConv(ModuleOp module, ConvOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value x = op.getInput(), w = op.getWeight();
  int64_t rank = op.getResult().getType().getRank();
  SmallVector<Value> sizes = {dim(b, loc, x, 0), dim(b, loc, w, 0)};
  for (int64_t i = 0; i + 2 < rank; ++i) {
    // (in + low + high - dilation * (k - 1) - 1) / stride + 1
    Value in = dim(b, loc, x, i + 2), k = dim(b, loc, w, i + 2);
    Value extent = arith::MulIOp::create(
        b, loc, arith::SubIOp::create(b, loc, k, index(b, loc, 1)),
        index(b, loc, op.getDilations()[i]));
    Value span = arith::SubIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, in,
                              index(b, loc,
                                    op.getPaddingLow()[i] +
                                        op.getPaddingHigh()[i] - 1)),
        extent);
    sizes.push_back(arith::AddIOp::create(
        b, loc,
        arith::DivUIOp::create(b, loc, span,
                               index(b, loc, op.getStrides()[i])),
        index(b, loc, 1)));
  }
  Value result =
      lower(module, op, "ember_cpu_conv_f32", x, w, sizes, op.getStrides(),
            op.getPaddingLow(), op.getDilations(), op.getGroups());
  op.getResult().replaceAllUsesWith(result);
  op->erase();
}

void lowerBackwardData(ModuleOp module, ConvBackwardDataOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value g = op.getGrad(), w = op.getWeight();
  SmallVector<Value> sizes = {
      dim(b, loc, g, 0),
      arith::MulIOp::create(b, loc, dim(b, loc, w, 1),
                            index(b, loc, op.getGroups()))};
  llvm::append_range(sizes, op.getSizes());
  Value result = lower(module, op, "ember_cpu_conv_backward_data_f32", g, w,
                       sizes, op.getStrides(), op.getPaddingLow(),
                       op.getDilations(), op.getGroups());
  op.getResult().replaceAllUsesWith(result);
  op->erase();
}

void lowerBackwardWeight(ModuleOp module, ConvBackwardWeightOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value x = op.getInput(), g = op.getGrad();
  SmallVector<Value> sizes = {
      dim(b, loc, g, 1),
      arith::DivUIOp::create(b, loc, dim(b, loc, x, 1),
                             index(b, loc, op.getGroups()))};
  llvm::append_range(sizes, op.getSizes());
  Value result = lower(module, op, "ember_cpu_conv_backward_weight_f32", x, g,
                       sizes, op.getStrides(), op.getPaddingLow(),
                       op.getDilations(), op.getGroups());
  op.getResult().replaceAllUsesWith(result);
  op->erase();
}

bool isF32(Value value) {
  return cast<RankedTensorType>(value.getType()).getElementType().isF32();
}

struct EmberConvToRuntimePass
    : ember::impl::EmberConvToRuntimeBase<EmberConvToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // A VJP builds both gradients of a convolution; one that nothing reads
    // (an input that needs no gradient) must not become a call, which
    // would run (a call is not dead code).
    for (bool erased = true; erased;) {
      SmallVector<Operation *> dead;
      module.walk([&](Operation *op) {
        if (isa<ConvOp, ConvBackwardDataOp, ConvBackwardWeightOp>(op) &&
            isOpTriviallyDead(op))
          dead.push_back(op);
      });
      for (Operation *op : dead)
        op->erase();
      erased = !dead.empty();
    }
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<ConvOp, ConvBackwardDataOp, ConvBackwardWeightOp>(op) &&
          isF32(op->getResult(0)))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      if (auto conv = dyn_cast<ConvOp>(op))
        lowerConv(module, conv);
      else if (auto data = dyn_cast<ConvBackwardDataOp>(op))
        lowerBackwardData(module, data);
      else
        lowerBackwardWeight(module, cast<ConvBackwardWeightOp>(op));
    }
  }
};

} // namespace
