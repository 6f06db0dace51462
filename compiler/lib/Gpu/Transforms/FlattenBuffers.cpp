//===- FlattenBuffers.cpp - loads and stores on 1-D buffers ---------------===//

#include "ember/Compiler/Passes.h"
#include "GpuBuffers.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace ember {
#define GEN_PASS_DEF_EMBERFLATTENBUFFERS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

// The unit attribute ember-recurrent-loops puts on a time loop: on a GPU
// the loop stays host code, run by the launch plan (spelled out in each
// pass that reads it, so that no widely included header changes).
constexpr char kHostLoopAttr[] = "ember.host_loop";

struct EmberFlattenBuffersPass
    : ember::impl::EmberFlattenBuffersBase<EmberFlattenBuffersPass> {
  void runOnOperation() override {
    // Every access, with the outermost loop around it (a parallel loop, or
    // a sequential nest that ember-tile-parallel-loops will make a kernel);
    // a host loop (a recurrent layer's time loop) is not a kernel's loop,
    // so the search stops there and the views are made inside it.
    SmallVector<std::pair<Operation *, Operation *>> accesses;
    getOperation().walk([&](Operation *op) {
      // Kernels built by ember-gpu-kernelize already index flat buffers.
      if (!isa<memref::LoadOp, memref::StoreOp>(op) || op->getParentOfType<gpu::LaunchOp>())
        return;
      Operation *outermost = nullptr;
      for (Operation *parent = op->getParentOp(); parent;
           parent = parent->getParentOp()) {
        if (parent->hasAttr(kHostLoopAttr))
          break;
        if (isa<scf::ParallelOp, scf::ForOp>(parent))
          outermost = parent;
      }
      if (outermost)
        accesses.push_back({op, outermost});
    });

    llvm::DenseMap<std::pair<Value, Operation *>, ember::FlatBuffer> views;
    for (auto [op, loop] : accesses) {
      Value buffer = isa<memref::LoadOp>(op) ? cast<memref::LoadOp>(op).getMemRef()
                                            : cast<memref::StoreOp>(op).getMemRef();
      // Defined inside the loop: not a buffer the host can pass.
      if (loop->isAncestor(buffer.getParentBlock()->getParentOp()))
        continue;
      auto key = std::make_pair(buffer, loop);
      auto it = views.find(key);
      if (it == views.end()) {
        OpBuilder b(loop);
        it = views.try_emplace(key, ember::flattenBuffer(b, loop->getLoc(), buffer)).first;
      }
      const ember::FlatBuffer &view = it->second;
      OpBuilder b(op);
      Location loc = op->getLoc();
      ValueRange indices = isa<memref::LoadOp>(op) ? cast<memref::LoadOp>(op).getIndices()
                                                  : cast<memref::StoreOp>(op).getIndices();
      Value index = ember::flatIndex(b, loc, view, indices);
      if (auto load = dyn_cast<memref::LoadOp>(op)) {
        Value value = memref::LoadOp::create(b, loc, view.flat, ValueRange{index});
        load.replaceAllUsesWith(value);
      } else {
        auto store = cast<memref::StoreOp>(op);
        memref::StoreOp::create(b, loc, store.getValueToStore(), view.flat,
                                ValueRange{index});
      }
      op->erase();
    }
  }
};

} // namespace
