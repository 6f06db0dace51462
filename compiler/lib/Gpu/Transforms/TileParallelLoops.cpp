//===- TileParallelLoops.cpp - parallel loops as GPU blocks of threads ----===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"

#include <functional>

namespace ember {
#define GEN_PASS_DEF_EMBERTILEPARALLELLOOPS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

// The unit attribute ember-recurrent-loops puts on a time loop: on a GPU
// the loop stays host code, run by the launch plan (spelled out in each
// pass that reads it, so that no widely included header changes).
constexpr char kHostLoopAttr[] = "ember.host_loop";

struct EmberTileParallelLoopsPass
    : ember::impl::EmberTileParallelLoopsBase<EmberTileParallelLoopsPass> {
  void runOnOperation() override {
    // A loop nest without parallel dims (a reduction to one value) runs as
    // one thread: wrap it in a single-iteration parallel loop so that it
    // becomes a kernel instead of host code.
    // Host loops (kHostLoopAttr: a recurrent layer's steps) stay loops of
    // the launch plan; the nests in their bodies are treated alike.
    // Declarations (a custom op's runtime calls) have no body.
    if (getOperation().isExternal())
      return;
    SmallVector<scf::ForOp> sequential;
    std::function<void(Block &)> collect = [&](Block &block) {
      for (Operation &op : block)
        if (auto loop = dyn_cast<scf::ForOp>(op)) {
          if (loop->hasAttr(kHostLoopAttr))
            collect(*loop.getBody());
          else
            sequential.push_back(loop);
        }
    };
    collect(getOperation().getBody().front());
    for (scf::ForOp loop : sequential) {
      OpBuilder b(loop);
      Location loc = loop.getLoc();
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      auto wrapper = scf::ParallelOp::create(b, loc, ValueRange{zero}, ValueRange{one},
                                             ValueRange{one});
      loop->moveBefore(wrapper.getBody()->getTerminator());
    }
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost) {
      size_t rank = loop.getNumLoops();
      // Tile size 1 keeps a dim whole per block (it maps to the grid).
      SmallVector<int64_t> sizes(rank, 1);
      if (rank == 1) {
        sizes[0] = 256;
      } else {
        sizes[rank - 2] = 16;
        sizes[rank - 1] = 16;
      }
      auto [blocks, threads] = scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/true);
      mapInnermostFirst(blocks, gpu::Processor::BlockX);
      mapInnermostFirst(threads, gpu::Processor::ThreadX);
      // Parallel loops nested deeper run sequentially in a thread.
      threads.getBody()->walk([&](scf::ParallelOp nested) {
        mapInnermostFirst(nested, gpu::Processor::Sequential);
      });
    }
  }

  /// Maps the loop's last dim to x, the one before to y, then z, and any
  /// others to sequential loops: the last dim is the contiguous one, so
  /// consecutive threads (x) touch consecutive elements (coalesced), which
  /// gpu-map-parallel-loops' first-dim-to-x order does not give.
  void mapInnermostFirst(scf::ParallelOp loop, gpu::Processor first) {
    MLIRContext *context = loop.getContext();
    AffineMap identity = AffineMap::getMultiDimIdentityMap(1, context);
    unsigned rank = loop.getNumLoops();
    SmallVector<gpu::ParallelLoopDimMappingAttr> mapping;
    for (unsigned d = 0; d < rank; ++d) {
      unsigned fromLast = rank - 1 - d;
      gpu::Processor processor = gpu::Processor::Sequential;
      if (first != gpu::Processor::Sequential && fromLast < 3)
        processor = static_cast<gpu::Processor>(static_cast<uint64_t>(first) + fromLast);
      mapping.push_back(gpu::ParallelLoopDimMappingAttr::get(context, processor, identity,
                                                             identity));
    }
    (void)gpu::setMappingAttr(loop, mapping);
  }
};

} // namespace
