//===- FuseElementwise.cpp - fuse element-wise linalg.generic chains -------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ember {
#define GEN_PASS_DEF_EMBERFUSEELEMENTWISE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberFuseElementwisePass
    : ember::impl::EmberFuseElementwiseBase<EmberFuseElementwisePass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    // Fuse only a producer whose every use is this consumer: fusing a value
    // with several users would recompute it once per user.
    // `tensor.dim` uses only read the shape, which the fused op preserves.
    linalg::ControlFusionFn control = [](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      if (!producer)
        return false;
      return llvm::all_of(producer->getUsers(), [&](Operation *user) {
        return user == fused->getOwner() || isa<tensor::DimOp>(user);
      });
    };
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    // Answer tensor.dim of fused results from their inputs.
    memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
    // Folding tensor.empty/dim into the fused ops keeps the IR small.
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    tensor::populateFoldTensorEmptyPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
