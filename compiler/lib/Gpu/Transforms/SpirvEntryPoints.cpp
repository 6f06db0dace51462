//===- SpirvEntryPoints.cpp - the SPIR-V entry point ABI ------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVAttributes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"

namespace ember {
#define GEN_PASS_DEF_EMBERSPIRVENTRYPOINTS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberSpirvEntryPointsPass
    : ember::impl::EmberSpirvEntryPointsBase<EmberSpirvEntryPointsPass> {
  void runOnOperation() override {
    getOperation().walk([&](gpu::GPUFuncOp func) {
      if (!func.isKernel())
        return;
      SmallVector<int32_t, 3> size = {1, 1, 1};
      if (std::optional<ArrayRef<int32_t>> known = func.getKnownBlockSize())
        for (auto [i, extent] : llvm::enumerate(*known))
          if (i < 3)
            size[i] = extent;
      func->setAttr(spirv::getEntryPointABIAttrName(),
                    spirv::getEntryPointABIAttr(&getContext(), size));
      // convert-gpu-to-spirv takes workgroup memory as allocations in
      // memory space 3 (what its memref conversion maps to Workgroup
      // variables for both client APIs), not as attributions.
      unsigned count = func.getNumWorkgroupAttributions();
      if (count == 0)
        return;
      Block &entry = func.getBody().front();
      OpBuilder b = OpBuilder::atBlockBegin(&entry);
      unsigned first = func.getFirstWorkgroupAttributionIndex();
      for (unsigned i = 0; i < count; ++i) {
        BlockArgument arg = entry.getArgument(first + i);
        auto type = cast<MemRefType>(arg.getType());
        arg.replaceAllUsesWith(memref::AllocOp::create(
            b, func.getLoc(),
            MemRefType::get(type.getShape(), type.getElementType(), type.getLayout(),
                            b.getI64IntegerAttr(3))));
      }
      for (unsigned i = 0; i < count; ++i)
        entry.eraseArgument(first);
      func->setAttr(gpu::GPUFuncOp::getNumWorkgroupAttributionsAttrName(),
                    b.getI64IntegerAttr(0));
    });
    guardLoopsWithResults();
  }

  /// The SCF-to-SPIR-V lowering keeps a loop's results in a variable that
  /// only the loop body stores: a loop that runs zero times yields garbage
  /// instead of its initial values (a row shorter than the block's threads
  /// gave 0 for max). Each such loop runs inside `if (lb < ub)`, whose
  /// else branch yields the initial values.
  void guardLoopsWithResults() {
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](gpu::GPUModuleOp module) {
      module.walk([&](scf::ForOp loop) {
        if (loop.getNumResults() != 0)
          loops.push_back(loop);
      });
    });
    for (scf::ForOp loop : loops) {
      OpBuilder b(loop);
      Location loc = loop.getLoc();
      Value runs = arith::CmpIOp::create(
          b, loc, loop.getUnsignedCmp() ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt,
          loop.getLowerBound(), loop.getUpperBound());
      auto guard = scf::IfOp::create(
          b, loc, runs,
          [&](OpBuilder &b, Location loc) { scf::YieldOp::create(b, loc, loop.getResults()); },
          [&](OpBuilder &b, Location loc) { scf::YieldOp::create(b, loc, loop.getInitArgs()); });
      Operation *yield = guard.thenBlock()->getTerminator();
      loop->moveBefore(yield);
      loop->replaceUsesWithIf(guard.getResults(),
                              [&](OpOperand &use) { return use.getOwner() != yield; });
    }
  }
};

} // namespace
