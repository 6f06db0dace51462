//===- HoistGemmPacking.cpp - pack a loop-invariant GEMM operand once ------===//
//
// A recurrent layer's loop (ember-recurrent-loops) multiplies by the same
// weight at every time step: `h W^T` forward, `dG W` backward. Each GEMM
// call packs its B operand into the micro-kernel's panels, which at a
// step's shapes (32 x 1024 x 256) costs a fifth of the product. When B is
// defined before an `scf.for` and nothing in the loop may write it, this
// pass packs it once before the loop (`ember_cpu_sgemm_pack_b`, an opaque
// handle), passes the handle to the loop's call (`ember_cpu_sgemm_packed`,
// `_packed_into`, `_packed_fused`, which still take B, read when the
// handle is null: OpenBLAS selected, or a kernel change) and releases it
// after the loop.
//
// "Nothing may write it": every use of B's buffer inside the loop, through
// view ops, reads it (a GEMM's A, B, bias or residual operand, a linalg
// input, a load). Distinct function arguments and allocations are taken
// not to overlap (the frontend gives each graph output a fresh buffer).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/StringSwitch.h"

namespace ember {
#define GEN_PASS_DEF_EMBERHOISTGEMMPACKING
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// The packed-B variant of a GEMM entry point, or "" when there is none.
StringRef packedVariant(StringRef callee) {
  return llvm::StringSwitch<StringRef>(callee)
      .Case("ember_cpu_sgemm", "ember_cpu_sgemm_packed")
      .Case("ember_cpu_sgemm_into", "ember_cpu_sgemm_packed_into")
      .Case("ember_cpu_sgemm_fused", "ember_cpu_sgemm_packed_fused")
      .Default("");
}

/// Whether operand `index` of a call to `callee` is only read by it.
bool callReadsOnly(StringRef callee, unsigned index) {
  if (callee == "ember_cpu_sgemm_fused" ||
      callee == "ember_cpu_sgemm_packed_fused" ||
      callee == "ember_cpu_sgemm_batched_fused")
    return index == 0 || index == 1 || index == 3 || index == 4;
  if (callee.starts_with("ember_cpu_sgemm") ||
      callee.starts_with("ember_cpu_dgemm"))
    return index == 0 || index == 1;
  return false;
}

/// Whether every use of `buffer` (and of views of it) inside `loop` reads.
bool onlyReadIn(Value buffer, scf::ForOp loop) {
  for (OpOperand &use : buffer.getUses()) {
    Operation *user = use.getOwner();
    if (!loop->isAncestor(user))
      continue;
    if (isa<memref::CastOp, memref::TransposeOp, memref::SubViewOp,
            memref::ExpandShapeOp, memref::CollapseShapeOp,
            memref::ReinterpretCastOp>(user)) {
      if (!onlyReadIn(user->getResult(0), loop))
        return false;
      continue;
    }
    if (isa<memref::LoadOp, memref::DimOp, memref::ExtractStridedMetadataOp>(
            user)) {
      // Metadata and loads read; a base buffer from the metadata could be
      // written through, so follow it.
      if (auto metadata = dyn_cast<memref::ExtractStridedMetadataOp>(user))
        if (!onlyReadIn(metadata.getBaseBuffer(), loop))
          return false;
      continue;
    }
    if (auto call = dyn_cast<func::CallOp>(user)) {
      if (!callReadsOnly(call.getCallee(), use.getOperandNumber()))
        return false;
      continue;
    }
    if (auto dps = dyn_cast<DestinationStyleOpInterface>(user)) {
      if (dps.isDpsInit(&use))
        return false;
      continue;
    }
    return false;
  }
  return true;
}

/// The view ops inside `loop` between B's buffer defined before the loop
/// and the call's B operand (last first), or nullopt when B is made in
/// the loop.
std::optional<SmallVector<Operation *>> invariantChain(Value b,
                                                       scf::ForOp loop) {
  SmallVector<Operation *> chain;
  while (!loop.isDefinedOutsideOfLoop(b)) {
    Operation *op = b.getDefiningOp();
    if (!op || !isa<memref::CastOp, memref::TransposeOp>(op))
      return std::nullopt;
    chain.push_back(op);
    b = op->getOperand(0);
  }
  return chain;
}

func::FuncOp declare(ModuleOp module, StringRef name, FunctionType type) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder builder(module.getBodyRegion());
  auto func = func::FuncOp::create(builder, module.getLoc(), name, type);
  func.setPrivate();
  return func;
}

/// Packs `call`'s B once before its loop; false when it does not apply.
bool hoist(func::CallOp call) {
  StringRef variant = packedVariant(call.getCallee());
  auto loop = call->getParentOfType<scf::ForOp>();
  if (variant.empty() || !loop)
    return false;
  Value b = call.getOperand(1);
  std::optional<SmallVector<Operation *>> chain = invariantChain(b, loop);
  if (!chain)
    return false;
  Value root = chain->empty() ? b : chain->back()->getOperand(0);
  if (!onlyReadIn(root, loop))
    return false;

  MLIRContext *ctx = call.getContext();
  auto module = call->getParentOfType<ModuleOp>();
  Location loc = call.getLoc();
  Type handleType = LLVM::LLVMPointerType::get(ctx);
  OpBuilder builder(loop);
  IRMapping map;
  for (Operation *op : llvm::reverse(*chain))
    builder.clone(*op, map);
  Value hoisted = map.lookupOrDefault(b);
  func::FuncOp pack = declare(
      module, "ember_cpu_sgemm_pack_b",
      builder.getFunctionType({b.getType()}, {handleType}));
  Value handle =
      func::CallOp::create(builder, loc, pack, ValueRange{hoisted}).getResult(0);
  builder.setInsertionPointAfter(loop);
  func::FuncOp release =
      declare(module, "ember_cpu_sgemm_release_b",
              builder.getFunctionType({handleType}, {}));
  func::CallOp::create(builder, loc, release, ValueRange{handle});

  SmallVector<Value> operands(call.getOperands());
  operands.push_back(handle);
  SmallVector<Type> types(call.getOperandTypes());
  types.push_back(handleType);
  func::FuncOp packed =
      declare(module, variant, builder.getFunctionType(types, {}));
  builder.setInsertionPoint(call);
  func::CallOp::create(builder, loc, packed, operands);
  call->erase();
  for (Operation *op : *chain)
    if (op->use_empty())
      op->erase();
  return true;
}

struct EmberHoistGemmPackingPass
    : ember::impl::EmberHoistGemmPackingBase<EmberHoistGemmPackingPass> {
  void runOnOperation() override {
    SmallVector<func::CallOp> calls;
    getOperation().walk([&](func::CallOp call) {
      if (!packedVariant(call.getCallee()).empty())
        calls.push_back(call);
    });
    for (func::CallOp call : calls)
      if (hoist(call))
        ++numHoisted;
  }
};

} // namespace
