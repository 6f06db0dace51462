//===- FuseElementwise.cpp - fuse element-wise linalg.generic chains -------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ember {
#define GEN_PASS_DEF_EMBERFUSEELEMENTWISE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// Whether `generic` only moves its input's elements (a transpose or a
/// broadcast): copying it for each of its users costs no arithmetic.
bool movesDataOnly(linalg::GenericOp generic) {
  Block &body = generic.getRegion().front();
  if (body.getOperations().size() != 1)
    return false;
  auto value = dyn_cast<BlockArgument>(body.getTerminator()->getOperand(0));
  return value && value.getOwner() == &body &&
         value.getArgNumber() < generic.getNumDpsInputs();
}

/// A slice (a view: x[0], a split part) of an element-wise generic becomes
/// the generic computed on slices of its operands, so that only the slice is
/// computed and the fusion below merges it into the slice's consumer: the
/// whole value is never written. Taken where the slice is the generic's only
/// reader, or where the generic only moves data (a transpose read by
/// several slices: each reads its part of the input in place).
struct SliceElementwiseProducer : OpRewritePattern<tensor::ExtractSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::ExtractSliceOp slice,
                                PatternRewriter &rewriter) const override {
    auto producer = slice.getSource().getDefiningOp<linalg::GenericOp>();
    // Same-rank slices only (the ember lowering makes no other kind).
    if (!producer || producer->getNumResults() != 1 || !slice.hasUnitStride() ||
        slice.getSourceType().getRank() != slice.getType().getRank() ||
        !producer.hasPureTensorSemantics() ||
        producer.getNumParallelLoops() != producer.getNumLoops())
      return failure();
    // `tensor.dim` users only read the shape, which later folds away.
    bool onlyReader = llvm::all_of(producer->getUsers(), [&](Operation *user) {
      return user == slice || isa<tensor::DimOp>(user);
    });
    if (!onlyReader && !movesDataOnly(producer))
      return failure();
    FailureOr<TilingResult> tiled = tensor::replaceExtractSliceWithTiledProducer(
        rewriter, slice, cast<OpResult>(slice.getSource()));
    if (failed(tiled))
      return failure();
    Value result = tiled->tiledValues.front();
    if (result.getType() != slice.getType())
      result = tensor::CastOp::create(rewriter, slice.getLoc(), slice.getType(),
                                      result);
    rewriter.replaceOp(slice, result);
    return success();
  }
};

/// Whether `size` is dim `d` of `source`.
bool isWholeDim(OpFoldResult size, Value source, int64_t d) {
  auto type = cast<RankedTensorType>(source.getType());
  if (!type.isDynamicDim(d))
    return getConstantIntValue(size) == type.getDimSize(d);
  if (auto value = dyn_cast<Value>(size))
    if (auto dim = value.getDefiningOp<tensor::DimOp>())
      return dim.getSource() == source &&
             getConstantIntValue(dim.getIndex()) == d;
  return false;
}

/// A collapse of a slice's dims (x[1:].flatten(0, 1)) becomes a slice of the
/// collapsed input where each merged group is whole but for its outer dim:
/// the input is dense across the group, so the collapse stays a view, where
/// bufferization cannot prove the slice's dynamic strides mergeable and
/// would copy.
struct CollapseBeforeSlice : OpRewritePattern<tensor::CollapseShapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::CollapseShapeOp collapse,
                                PatternRewriter &rewriter) const override {
    auto slice = collapse.getSrc().getDefiningOp<tensor::ExtractSliceOp>();
    if (!slice || !slice.hasUnitStride() ||
        slice.getSourceType().getRank() != slice.getType().getRank())
      return failure();
    Value source = slice.getSource();
    SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
    SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
    SmallVector<ReassociationIndices> groups =
        collapse.getReassociationIndices();
    for (const ReassociationIndices &group : groups)
      for (int64_t d : ArrayRef(group).drop_front())
        if (!isWholeDim(sizes[d], source, d) ||
            getConstantIntValue(offsets[d]) != 0)
          return failure();
    Location loc = collapse.getLoc();
    Value collapsed =
        tensor::CollapseShapeOp::create(rewriter, loc, source, groups);
    // Group g starts at its outer dim's offset times the inner dims' sizes
    // and spans the outer size times them.
    AffineExpr a, c;
    bindSymbols(rewriter.getContext(), a, c);
    SmallVector<OpFoldResult> newOffsets, newSizes;
    for (const ReassociationIndices &group : groups) {
      OpFoldResult offset = offsets[group.front()];
      OpFoldResult size = sizes[group.front()];
      for (int64_t d : ArrayRef(group).drop_front()) {
        OpFoldResult inner = sizes[d];
        offset = affine::makeComposedFoldedAffineApply(rewriter, loc, a * c,
                                                       {offset, inner});
        size = affine::makeComposedFoldedAffineApply(rewriter, loc, a * c,
                                                     {size, inner});
      }
      newOffsets.push_back(offset);
      newSizes.push_back(size);
    }
    SmallVector<OpFoldResult> strides(groups.size(), rewriter.getIndexAttr(1));
    Value result = tensor::ExtractSliceOp::create(rewriter, loc, collapsed,
                                                  newOffsets, newSizes, strides);
    if (result.getType() != collapse.getType())
      result = tensor::CastOp::create(rewriter, loc, collapse.getType(), result);
    rewriter.replaceOp(collapse, result);
    return success();
  }
};

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
    patterns.add<SliceElementwiseProducer, CollapseBeforeSlice>(ctx);
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
