//===- CollectivesToRuntime.cpp - collectives become runtime calls --------===//
//
// ember.all_reduce becomes a call of ember_collective_all_reduce_<type>
// (runtime/lib/CpuCollectives.cpp), which finds the process group by number
// in the runtime's table and runs its engine (MPI, Gloo). At the tensor
// level: the input viewed as 1-D (collapse_shape) and handed over read-only
// with bufferization.to_buffer; the result a fresh 1-D buffer the runtime
// fills, read back with bufferization.to_tensor (restrict, writable) and
// expanded to the op's shape. The calls keep the ops' order, which is the
// traced order on every rank (the op's write effect kept every pass before
// this one from merging, dropping or moving it).
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
#define GEN_PASS_DEF_EMBERCOLLECTIVESTORUNTIME
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

/// The runtime function's suffix for `element`, or "" when it has none.
StringRef suffixFor(Type element) {
  if (element.isF32())
    return "f32";
  if (element.isF64())
    return "f64";
  if (element.isF16())
    return "f16";
  if (element.isBF16())
    return "bf16";
  if (element.isInteger(32))
    return "i32";
  if (element.isInteger(64))
    return "i64";
  return "";
}

MemRefType anyStrided1d(MLIRContext *ctx, Type element) {
  return MemRefType::get(
      {ShapedType::kDynamic}, element,
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic, {ShapedType::kDynamic}));
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

/// All of `rank` dims in one group (rank >= 1).
SmallVector<ReassociationIndices> oneGroup(int64_t rank) {
  ReassociationIndices all;
  for (int64_t d = 0; d < rank; ++d)
    all.push_back(d);
  return {all};
}

LogicalResult lowerAllReduce(ModuleOp module, AllReduceOp op) {
  auto type = cast<RankedTensorType>(op.getResult().getType());
  Type element = type.getElementType();
  StringRef suffix = suffixFor(element);
  if (suffix.empty())
    return op.emitOpError("has no runtime function for element type ")
           << element;
  OpBuilder b(op);
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  int64_t rank = type.getRank();
  Value input = op.getInput();

  // The input as 1-D.
  Value flat = input;
  if (rank == 0)
    flat = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({1}, element), input,
        ArrayRef<ReassociationIndices>{}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  else if (rank > 1)
    flat = tensor::CollapseShapeOp::create(b, loc, input, oneGroup(rank));
  auto flatType = cast<RankedTensorType>(flat.getType());
  Value size = tensor::DimOp::create(b, loc, flat, 0);
  auto viewType =
      MemRefType::get(flatType.getShape(), element,
                      StridedLayoutAttr::get(ctx, ShapedType::kDynamic,
                                             {ShapedType::kDynamic}));
  Value in = bufferization::ToBufferOp::create(b, loc, viewType, flat,
                                               /*read_only=*/true);
  in = memref::CastOp::create(b, loc, anyStrided1d(ctx, element), in);

  // The fresh result the runtime fills.
  auto allocType = MemRefType::get({ShapedType::kDynamic}, element);
  Value alloc = memref::AllocOp::create(b, loc, allocType, ValueRange{size});
  Value out = memref::CastOp::create(b, loc, anyStrided1d(ctx, element), alloc);
  Value reduceOp =
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(op.getReduceOp()));
  Value group =
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(op.getGroup()));
  SmallVector<Value> args = {in, out, reduceOp, group};
  SmallVector<Type> types;
  for (Value arg : args)
    types.push_back(arg.getType());
  std::string name = ("ember_collective_all_reduce_" + suffix).str();
  func::CallOp::create(b, loc, declare(module, name, types), args);

  // Back to the op's type.
  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({ShapedType::kDynamic}, element), alloc,
      b.getUnitAttr(), b.getUnitAttr());
  if (result.getType() != flatType)
    result = tensor::CastOp::create(b, loc, flatType, result);
  if (rank == 0)
    result = tensor::CollapseShapeOp::create(b, loc, type, result,
                                             ArrayRef<ReassociationIndices>{});
  else if (rank > 1)
    result = tensor::ExpandShapeOp::create(b, loc, type, result, oneGroup(rank),
                                           tensor::getMixedSizes(b, loc, input));
  op.getResult().replaceAllUsesWith(result);
  op->erase();
  return success();
}

struct EmberCollectivesToRuntimePass
    : ember::impl::EmberCollectivesToRuntimeBase<EmberCollectivesToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Program order: walk() visits ops in the order they run.
    SmallVector<AllReduceOp> ops;
    module.walk([&](AllReduceOp op) { ops.push_back(op); });
    for (AllReduceOp op : ops)
      if (failed(lowerAllReduce(module, op)))
        return signalPassFailure();
  }
};

} // namespace
