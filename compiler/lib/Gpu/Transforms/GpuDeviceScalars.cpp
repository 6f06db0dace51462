//===- GpuDeviceScalars.cpp - scalar operands read on the device ----------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace ember {
#define GEN_PASS_DEF_EMBERGPUDEVICESCALARS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberGpuDeviceScalarsPass
    : ember::impl::EmberGpuDeviceScalarsBase<EmberGpuDeviceScalarsPass> {
  void runOnOperation() override {
    // Declarations (a custom op's runtime calls) have no body to scan.
    if (getOperation().isExternal())
      return;
    forwardHostScalars();
    SmallVector<memref::LoadOp> loads;
    for (Operation &op : getOperation().getBody().front())
      if (auto load = dyn_cast<memref::LoadOp>(op))
        loads.push_back(load);
    IRRewriter rewriter(&getContext());
    for (memref::LoadOp load : loads) {
      bool onlyLinalgInputs = !load->use_empty();
      for (OpOperand &use : load->getUses()) {
        auto linalgOp = dyn_cast<linalg::LinalgOp>(use.getOwner());
        onlyLinalgInputs &= linalgOp && linalgOp.isDpsInput(&use);
      }
      if (!onlyLinalgInputs)
        continue;
      // The element as a 0-d view.
      rewriter.setInsertionPoint(load);
      Location loc = load.getLoc();
      Value element = load.getMemRef();
      auto type = cast<MemRefType>(element.getType());
      if (type.getRank() != 0) {
        SmallVector<OpFoldResult> offsets(load.getIndices().begin(), load.getIndices().end());
        SmallVector<OpFoldResult> ones(type.getRank(), rewriter.getIndexAttr(1));
        auto viewType = memref::SubViewOp::inferRankReducedResultType({}, type, offsets, ones,
                                                                      ones);
        element = memref::SubViewOp::create(rewriter, loc, cast<MemRefType>(viewType), element,
                                            offsets, ones, ones);
      }
      SmallVector<Operation *> users(load->getUsers().begin(), load->getUsers().end());
      for (Operation *user : users) {
        auto linalgOp = cast<linalg::LinalgOp>(user);
        rewriter.setInsertionPoint(user);
        auto generic = dyn_cast<linalg::GenericOp>(user);
        if (!generic) {
          FailureOr<linalg::GenericOp> generalized =
              linalg::generalizeNamedOp(rewriter, linalgOp);
          if (failed(generalized))
            continue; // left for the launcher to reject with a message
          generic = *generalized;
        }
        SmallVector<Attribute> maps(generic.getIndexingMaps().begin(),
                                    generic.getIndexingMaps().end());
        for (OpOperand &operand : generic->getOpOperands())
          if (operand.get() == load.getResult()) {
            operand.set(element);
            maps[operand.getOperandNumber()] = AffineMapAttr::get(
                AffineMap::get(generic.getNumLoops(), 0, rewriter.getContext()));
          }
        generic.setIndexingMapsAttr(rewriter.getArrayAttr(maps));
      }
      if (load->use_empty())
        load->erase();
    }
  }

  /// A 0-d buffer the host fills with one scalar (a run-time float made a
  /// tensor) and linalg ops only read: the ops take the scalar itself, which
  /// reaches the kernel as an argument instead of a buffer of its own (a
  /// chain with many such scalars would otherwise need a storage buffer
  /// binding for each, beyond what devices allow).
  void forwardHostScalars() {
    SmallVector<memref::AllocOp> allocs;
    for (Operation &op : getOperation().getBody().front())
      if (auto alloc = dyn_cast<memref::AllocOp>(op))
        if (alloc.getType().getRank() == 0)
          allocs.push_back(alloc);
    for (memref::AllocOp alloc : allocs) {
      memref::StoreOp store;
      SmallVector<std::pair<linalg::GenericOp, unsigned>> reads;
      SmallVector<Operation *> deallocs;
      bool simple = true;
      for (OpOperand &use : alloc->getUses()) {
        Operation *user = use.getOwner();
        if (auto s = dyn_cast<memref::StoreOp>(user)) {
          simple &= !store && s->getBlock() == alloc->getBlock() &&
                    s.getMemRef() == alloc.getResult();
          store = s;
        } else if (auto generic = dyn_cast<linalg::GenericOp>(user)) {
          simple &= generic.isDpsInput(&use);
          reads.push_back({generic, use.getOperandNumber()});
        } else if (isa<memref::DeallocOp>(user)) {
          deallocs.push_back(user);
        } else {
          simple = false;
        }
      }
      if (!simple || !store || reads.empty() ||
          llvm::any_of(reads, [&](auto &read) { return read.first->isBeforeInBlock(store); }))
        continue;
      Value scalar = store.getValueToStore();
      for (auto [generic, operand] : reads)
        generic->setOperand(operand, scalar);
      store->erase();
      for (Operation *dealloc : deallocs)
        dealloc->erase();
      alloc->erase();
    }
  }
};

} // namespace
