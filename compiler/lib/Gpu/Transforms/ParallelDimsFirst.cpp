//===- ParallelDimsFirst.cpp - parallel dims as the outer loops -----------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace ember {
#define GEN_PASS_DEF_EMBERPARALLELDIMSFIRST
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberParallelDimsFirstPass
    : ember::impl::EmberParallelDimsFirstBase<EmberParallelDimsFirstPass> {
  void runOnOperation() override {
    // Copies between buffers become linalg copies, so that they run as
    // kernels (a strided copy cannot be one device-to-device transfer).
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(), copy.getTarget());
      copy.erase();
    }
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp op) { generics.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : generics) {
      SmallVector<unsigned> parallel, reduction;
      for (auto [i, type] : llvm::enumerate(op.getIteratorTypesArray()))
        (type == utils::IteratorType::parallel ? parallel : reduction).push_back(i);
      SmallVector<unsigned> order(parallel);
      order.append(reduction);
      if (llvm::equal(order, llvm::seq<unsigned>(0, order.size())))
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order)))
        op.emitWarning("could not move the parallel dims first");
    }
  }
};

} // namespace
