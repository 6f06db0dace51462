//===- MatmulToBlas.cpp - call the runtime GEMM for f32/f64 matmuls --------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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

/// When `operand` is a buffer written only by a copy that swaps its last two
/// dims (a bufferized ember.transpose) and read only by `matmul`, returns a
/// transposed view of the copy's source instead, and erases the copy: the
/// runtime GEMM reads transposed layouts directly.
Value transposedView(OpBuilder &builder, Value operand, Operation *matmul) {
  auto alloc = operand.getDefiningOp<memref::AllocOp>();
  if (!alloc)
    return {};
  linalg::GenericOp copy;
  for (Operation *user : alloc->getUsers()) {
    if (user == matmul)
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || copy || generic.getNumDpsInputs() != 1 ||
        generic.getNumDpsInits() != 1 ||
        generic.getDpsInits()[0] != operand)
      return {};
    copy = generic;
  }
  if (!copy || copy->getBlock() != matmul->getBlock() ||
      !copy->isBeforeInBlock(matmul))
    return {};
  Block &body = copy.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (body.getOperations().size() != 1 ||
      yield.getValues()[0] != body.getArgument(0))
    return {};
  SmallVector<AffineMap> maps = copy.getIndexingMapsArray();
  unsigned rank = maps[1].getNumDims();
  if (rank < 2 || !maps[1].isIdentity() || !maps[0].isPermutation())
    return {};
  for (unsigned i = 0; i < rank; ++i) {
    unsigned expected = i == rank - 2 ? rank - 1 : i == rank - 1 ? rank - 2 : i;
    if (maps[0].getDimPosition(i) != expected)
      return {};
  }
  Value source = copy.getDpsInputs()[0];
  // The source must not change between the copy and the matmul: ops in
  // between may only write other buffers (destination-style ops whose
  // destinations are not the source).
  for (Operation *op = copy->getNextNode(); op != matmul;
       op = op->getNextNode()) {
    // Fresh allocations cannot write the source either.
    if (isMemoryEffectFree(op) || isa<memref::AllocOp, memref::AllocaOp>(op))
      continue;
    auto dps = dyn_cast<DestinationStyleOpInterface>(op);
    if (!dps)
      return {};
    for (Value init : dps.getDpsInits())
      if (init == source)
        return {};
  }
  builder.setInsertionPoint(matmul);
  Value view = memref::TransposeOp::create(
      builder, matmul->getLoc(), source,
      AffineMapAttr::get(maps[0]));
  copy->erase();
  return view;
}

/// The `linalg.fill` of zeros that initializes `matmul`'s output, when no
/// op between the two touches that buffer: the GEMM can then overwrite C
/// (BLAS beta = 0) instead of accumulating into zeros written just before.
linalg::FillOp zeroInit(Operation *matmul, Value out) {
  for (Operation *op = matmul->getPrevNode(); op; op = op->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(op)) {
      if (fill.getDpsInits()[0] != out)
        continue;
      auto value = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
      auto zero = value ? dyn_cast<FloatAttr>(value.getValue()) : FloatAttr();
      return zero && zero.getValue().isPosZero() ? fill : linalg::FillOp();
    }
    // Anything else that may write memory (or reads `out`) ends the search.
    if (isMemoryEffectFree(op) || isa<memref::AllocOp, memref::AllocaOp>(op))
      continue;
    auto dps = dyn_cast<DestinationStyleOpInterface>(op);
    if (!dps || llvm::is_contained(op->getOperands(), out))
      return {};
  }
  return {};
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
  linalg::FillOp init = zeroInit(op, op.getDpsInits()[0]);
  std::string name = std::string("ember_cpu_") +
                     (elementType.isF32() ? "sgemm" : "dgemm") +
                     (batched ? "_batched" : "") + (init ? "_into" : "");
  if (init)
    init->erase();
  MLIRContext *ctx = op->getContext();
  MemRefType argType = anyStridedType(ctx, batched ? 3 : 2, elementType);
  auto module = op->getParentOfType<ModuleOp>();
  func::FuncOp callee = declareGemm(module, name, argType);
  OpBuilder builder(op);
  SmallVector<Value> args;
  SmallVector<Operation *> deadAllocs;
  for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
    Value value = operand;
    if (i < 2)
      if (Value view = transposedView(builder, operand, op)) {
        deadAllocs.push_back(operand.getDefiningOp());
        value = view;
      }
    builder.setInsertionPoint(op);
    args.push_back(memref::CastOp::create(builder, op->getLoc(), argType, value));
  }
  func::CallOp::create(builder, op->getLoc(), callee, args);
  op->erase();
  for (Operation *alloc : deadAllocs)
    if (alloc->use_empty())
      alloc->erase();
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
    // A result written in place leaves a copy of a buffer onto itself.
    getOperation().walk([](memref::CopyOp copy) {
      if (copy.getSource() == copy.getTarget())
        copy->erase();
    });
  }
};

} // namespace
