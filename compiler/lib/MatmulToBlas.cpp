//===- MatmulToBlas.cpp - call the runtime GEMM for f32/f64 matmuls --------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace ember {
#define GEN_PASS_DEF_EMBERMATMULTOBLAS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// The fully dynamic strided memref type the runtime entry points take.
MemRefType anyStridedType(MLIRContext *ctx, int64_t rank, Type elementType) {
  SmallVector<int64_t> shape(rank, ShapedType::kDynamic);
  SmallVector<int64_t> strides(rank, ShapedType::kDynamic);
  auto layout = StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides);
  return MemRefType::get(shape, elementType, layout);
}

/// Declares (once) `name` taking three memrefs of `type`.
func::FuncOp declareGemm(ModuleOp module, StringRef name, MemRefType type) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder builder(module.getBodyRegion());
  auto funcType = builder.getFunctionType({type, type, type}, {});
  auto func = func::FuncOp::create(builder, module.getLoc(), name, funcType);
  func.setPrivate();
  return func;
}

/// Rewrites one bufferized matmul; returns false when it does not apply.
bool rewriteToCall(linalg::LinalgOp op, bool batched) {
  if (!op.hasPureBufferSemantics() || op->getNumOperands() != 3)
    return false;
  auto outType = dyn_cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!outType)
    return false;
  Type elementType = outType.getElementType();
  if (!elementType.isF32() && !elementType.isF64())
    return false;
  for (Value operand : op->getOperands()) {
    auto type = cast<MemRefType>(operand.getType());
    if (type.getElementType() != elementType)
      return false;
  }
  // A user-supplied indexing map (e.g. a transposed variant) is not a plain
  // matmul; leave it to the loop lowering.
  if (!op.getIndexingMapsArray().empty()) {
    auto defaults = batched ? linalg::BatchMatmulOp::getDefaultIndexingMaps(
                                  op->getContext())
                            : linalg::MatmulOp::getDefaultIndexingMaps(
                                  op->getContext());
    if (op.getIndexingMapsArray() != ArrayRef<AffineMap>(defaults))
      return false;
  }
  std::string name = std::string("ember_cpu_") +
                     (elementType.isF32() ? "sgemm" : "dgemm") +
                     (batched ? "_batched" : "");
  MLIRContext *ctx = op->getContext();
  MemRefType argType = anyStridedType(ctx, batched ? 3 : 2, elementType);
  auto module = op->getParentOfType<ModuleOp>();
  func::FuncOp callee = declareGemm(module, name, argType);
  OpBuilder builder(op);
  SmallVector<Value> args;
  for (Value operand : op->getOperands())
    args.push_back(memref::CastOp::create(builder, op->getLoc(), argType, operand));
  func::CallOp::create(builder, op->getLoc(), callee, args);
  op->erase();
  return true;
}

struct EmberMatmulToBlasPass
    : ember::impl::EmberMatmulToBlasBase<EmberMatmulToBlasPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> matmuls, batched;
    getOperation().walk([&](Operation *op) {
      if (isa<linalg::MatmulOp>(op))
        matmuls.push_back(cast<linalg::LinalgOp>(op));
      else if (isa<linalg::BatchMatmulOp>(op))
        batched.push_back(cast<linalg::LinalgOp>(op));
    });
    for (linalg::LinalgOp op : matmuls)
      rewriteToCall(op, /*batched=*/false);
    for (linalg::LinalgOp op : batched)
      rewriteToCall(op, /*batched=*/true);
  }
};

} // namespace
