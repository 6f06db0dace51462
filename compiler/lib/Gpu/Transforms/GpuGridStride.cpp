//===- GpuGridStride.cpp - grids clamped, blocks striding -----------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace ember {
#define GEN_PASS_DEF_EMBERGPUGRIDSTRIDE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberGpuGridStridePass
    : ember::impl::EmberGpuGridStrideBase<EmberGpuGridStridePass> {
  static constexpr int64_t kMaxGrid = 65535;

  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
    for (gpu::LaunchOp launch : launches) {
      Region &body = launch.getBody();
      if (!body.hasOneBlock() || body.walk([](gpu::BarrierOp) {
                                      return WalkResult::interrupt();
                                    }).wasInterrupted())
        continue;
      Value sizes[3] = {launch.getGridSizeX(), launch.getGridSizeY(), launch.getGridSizeZ()};
      gpu::KernelDim3 ids = launch.getBlockIds(), dims = launch.getGridSize();
      Value blockIds[3] = {ids.x, ids.y, ids.z}, gridDims[3] = {dims.x, dims.y, dims.z};
      for (unsigned d = 0; d < 3; ++d) {
        std::optional<int64_t> constant = getConstantIntValue(sizes[d]);
        if (constant && *constant <= kMaxGrid)
          continue;
        Value extent = sizes[d];
        OpBuilder host(launch);
        Location loc = launch.getLoc();
        Value clamped = arith::MinUIOp::create(
            host, loc, extent, arith::ConstantIndexOp::create(host, loc, kMaxGrid));
        OpOperand &operand = d == 0   ? launch.getGridSizeXMutable()
                             : d == 1 ? launch.getGridSizeYMutable()
                                      : launch.getGridSizeZMutable();
        operand.set(clamped);
        // The body, moved into a loop over this dim's virtual block ids.
        Block &block = body.front();
        OpBuilder b = OpBuilder::atBlockBegin(&block);
        auto loop = scf::ForOp::create(b, loc, blockIds[d], extent, clamped);
        Operation *loopYield = loop.getBody()->getTerminator();
        for (Operation &op : llvm::make_early_inc_range(
                 llvm::make_range(std::next(loop->getIterator()),
                                  block.getTerminator()->getIterator())))
          op.moveBefore(loopYield);
        Value virtualId = loop.getInductionVar();
        blockIds[d].replaceUsesWithIf(virtualId, [&](OpOperand &use) {
          return use.getOwner() != loop && loop->isAncestor(use.getOwner());
        });
        gridDims[d].replaceAllUsesWith(extent);
      }
    }
  }
};

} // namespace
