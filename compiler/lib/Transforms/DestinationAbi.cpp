//===- DestinationAbi.cpp - caller-owned buffers for public functions ------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace ember {
#define GEN_PASS_DEF_EMBERDESTINATIONABI
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

MemRefType bufferTypeFor(RankedTensorType type) {
  return MemRefType::get(type.getShape(), type.getElementType());
}

/// Gives every op its own init tensor. CSE merges identical `tensor.empty`
/// and `linalg.fill` inits of different ops (two reductions starting from
/// 0); empty-tensor elimination would then point the shared init at one
/// output buffer and bufferization would copy one result over the other.
void unshareInits(func::FuncOp func) {
  SmallVector<OpOperand *> shared;
  func.walk([&](DestinationStyleOpInterface op) {
    for (OpOperand &init : op.getDpsInitsMutable()) {
      Operation *producer = init.get().getDefiningOp();
      if (producer && isa<tensor::EmptyOp, linalg::FillOp>(producer) &&
          !init.get().hasOneUse())
        shared.push_back(&init);
    }
  });
  OpBuilder builder(func.getContext());
  for (OpOperand *init : shared) {
    Value value = init->get();
    if (value.hasOneUse())
      continue; // the other users already took copies
    Operation *producer = value.getDefiningOp();
    builder.setInsertionPoint(init->getOwner());
    Operation *copy = builder.clone(*producer);
    // A fill's own init must not be shared either.
    if (auto fill = dyn_cast<linalg::FillOp>(copy)) {
      OpOperand &fillInit = fill.getDpsInitsMutable()[0];
      if (Operation *empty = fillInit.get().getDefiningOp<tensor::EmptyOp>()) {
        builder.setInsertionPoint(copy);
        fillInit.set(builder.clone(*empty)->getResult(0));
      }
    }
    init->set(copy->getResult(cast<OpResult>(value).getResultNumber()));
  }
}

bool isReshape(Value value) {
  return isa_and_nonnull<tensor::ReshapeOp, tensor::ExpandShapeOp,
                         tensor::CollapseShapeOp>(value.getDefiningOp());
}

/// `value` copied into a new tensor of its own shape.
Value copyIntoFresh(OpBuilder &builder, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      sizes.push_back(tensor::DimOp::create(builder, loc, value, i));
  Value empty = tensor::EmptyOp::create(builder, loc, type.getShape(),
                                        type.getElementType(), sizes);
  return linalg::CopyOp::create(builder, loc, value, empty).getResult(0);
}

/// Empty-tensor elimination treats a reshape's result and source as one
/// buffer: it would hand a subset of a destination (shaped like the result)
/// to the producer of the source (shaped otherwise), which then writes with
/// the wrong strides. A copy into a result-shaped tensor between a reshape
/// and an insertion into a subset stops it.
void copyReshapesBeforeInsertion(func::FuncOp func) {
  SmallVector<tensor::InsertSliceOp> inserts;
  func.walk([&](tensor::InsertSliceOp op) {
    if (isReshape(op.getSource()))
      inserts.push_back(op);
  });
  OpBuilder builder(func.getContext());
  for (tensor::InsertSliceOp op : inserts) {
    builder.setInsertionPoint(op);
    op.getSourceMutable().assign(
        copyIntoFresh(builder, op.getLoc(), op.getSource()));
  }
}

/// Whether another op takes `value` as its destination (an insert_slice
/// into it: a write through a view). Its producer would otherwise write
/// straight into the output buffer (empty-tensor elimination), and the
/// in-place update would then change the returned value too.
bool isWrittenInPlace(Value value) {
  for (OpOperand &use : value.getUses()) {
    Operation *owner = use.getOwner();
    if (auto dps = dyn_cast<DestinationStyleOpInterface>(owner))
      if (dps.isDpsInit(&use))
        return true;
    // Casts and reshapes share the buffer: look through them.
    if (isa<tensor::CastOp, tensor::ReshapeOp, tensor::ExpandShapeOp,
            tensor::CollapseShapeOp>(owner) &&
        isWrittenInPlace(owner->getResult(0)))
      return true;
  }
  return false;
}

LogicalResult rewriteFunction(func::FuncOp func) {
  unshareInits(func);
  copyReshapesBeforeInsertion(func);
  FunctionType oldType = func.getFunctionType();
  for (Type type : llvm::concat<const Type>(oldType.getInputs(),
                                            oldType.getResults()))
    if (isa<TensorType>(type) && !isa<RankedTensorType>(type))
      return func.emitOpError("has an unranked tensor in its signature; the "
                              "buffer ABI needs ranked tensors");

  SmallVector<Type> newInputs;
  for (Type type : oldType.getInputs()) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    newInputs.push_back(tensor ? bufferTypeFor(tensor) : type);
  }
  for (Type type : oldType.getResults()) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor)
      return func.emitOpError("returns a non-tensor value (")
             << type << "); the buffer ABI returns tensors only";
    newInputs.push_back(bufferTypeFor(tensor));
  }

  Block &entry = func.front();
  OpBuilder builder(func.getContext());
  builder.setInsertionPointToStart(&entry);
  Location loc = func.getLoc();
  // Inputs: wrap each buffer argument as a read-only tensor.
  for (BlockArgument arg : llvm::to_vector(entry.getArguments())) {
    auto tensor = dyn_cast<RankedTensorType>(arg.getType());
    if (!tensor)
      continue;
    arg.setType(bufferTypeFor(tensor));
    auto asTensor = bufferization::ToTensorOp::create(
        builder, loc, tensor, arg, /*restrict=*/true, /*writable=*/false);
    arg.replaceAllUsesExcept(asTensor, asTensor);
  }
  SmallVector<BlockArgument> outputs;
  for (Type type : oldType.getResults())
    outputs.push_back(
        entry.addArgument(bufferTypeFor(cast<RankedTensorType>(type)), loc));

  // Outputs: each return value lands in its destination buffer.
  SmallVector<func::ReturnOp> returns;
  func.walk([&](func::ReturnOp op) { returns.push_back(op); });
  for (func::ReturnOp ret : returns) {
    builder.setInsertionPoint(ret);
    for (auto [result, out] : llvm::zip(ret.getOperands(), outputs)) {
      Value value = result;
      if (isReshape(value)) {
        value = copyIntoFresh(builder, ret.getLoc(), value);
      } else if (isWrittenInPlace(value)) {
        // Copied where it is made, before the in-place writer changes it.
        OpBuilder::InsertionGuard guard(builder);
        if (Operation *producer = value.getDefiningOp())
          builder.setInsertionPointAfter(producer);
        else
          builder.setInsertionPointToStart(&entry);
        value = copyIntoFresh(builder, ret.getLoc(), value);
      }
      bufferization::MaterializeInDestinationOp::create(
          builder, ret.getLoc(), /*result=*/Type(), value, out,
          /*restrict=*/true, /*writable=*/true);
    }
    func::ReturnOp::create(builder, ret.getLoc());
    ret.erase();
  }
  func.setType(FunctionType::get(func.getContext(), newInputs, {}));
  func->setAttr("llvm.emit_c_interface", UnitAttr::get(func.getContext()));
  // Compiled functions become global symbols: a user's `exp` or `free` must
  // not capture libm's or libc's, so entry points carry a prefix.
  func.setSymName((ember::kEntryPrefix + func.getSymName()).str());
  return success();
}

struct EmberDestinationAbiPass
    : ember::impl::EmberDestinationAbiBase<EmberDestinationAbiPass> {
  void runOnOperation() override {
    for (func::FuncOp func : getOperation().getOps<func::FuncOp>()) {
      if (func.isPrivate() || func.isExternal())
        continue;
      if (!SymbolTable::symbolKnownUseEmpty(func, getOperation())) {
        func.emitOpError("is called inside the module; public functions are "
                         "entry points and cannot be called from IR");
        return signalPassFailure();
      }
      if (failed(rewriteFunction(func)))
        return signalPassFailure();
    }
  }
};

} // namespace
