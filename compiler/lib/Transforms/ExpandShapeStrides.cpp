//===- ExpandShapeStrides.cpp - memref.expand_shape as a strided view ------===//
//
// MLIR 22's expand-strided-metadata reads the sizes of an expanded group
// from the result type and crashes where a group has several dynamic dims.
// The op's `output_shape` operands hold those sizes: this pass builds the
// view from them, so reshapes that split a dim of a strided buffer (a
// slice) stay views.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ember {
#define GEN_PASS_DEF_EMBEREXPANDSHAPESTRIDES
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// `a * b`, folded where both are constants.
OpFoldResult multiply(OpBuilder &b, Location loc, OpFoldResult lhs,
                      OpFoldResult rhs) {
  std::optional<int64_t> x = getConstantIntValue(lhs);
  std::optional<int64_t> y = getConstantIntValue(rhs);
  if (x && y)
    return b.getIndexAttr(*x * *y);
  if (x == 1)
    return rhs;
  if (y == 1)
    return lhs;
  return arith::MulIOp::create(b, loc, getValueOrCreateConstantIndexOp(b, loc, lhs),
                               getValueOrCreateConstantIndexOp(b, loc, rhs))
      .getResult();
}

struct ExpandShapeAsReinterpretCast : OpRewritePattern<memref::ExpandShapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(memref::ExpandShapeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MemRefType resultType = op.getResultType();
    auto [resultStrides, resultOffset] = resultType.getStridesAndOffset();
    auto metadata =
        memref::ExtractStridedMetadataOp::create(rewriter, loc, op.getSrc());
    SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
    SmallVector<OpFoldResult> strides(resultType.getRank());
    for (auto [sourceDim, group] :
         llvm::enumerate(op.getReassociationIndices())) {
      OpFoldResult stride = metadata.getConstifiedMixedStrides()[sourceDim];
      for (int64_t d : llvm::reverse(group)) {
        strides[d] = stride;
        stride = multiply(rewriter, loc, stride, sizes[d]);
      }
    }
    // Where the result type knows a size, stride or the offset statically,
    // the cast must say so with a constant.
    auto fitType = [&](OpFoldResult value, int64_t known) -> OpFoldResult {
      return ShapedType::isDynamic(known) ? value
                                          : rewriter.getIndexAttr(known);
    };
    for (int64_t d = 0; d < resultType.getRank(); ++d) {
      sizes[d] = fitType(sizes[d], resultType.getDimSize(d));
      strides[d] = fitType(strides[d], resultStrides[d]);
    }
    OpFoldResult offset =
        fitType(metadata.getConstifiedMixedOffset(), resultOffset);
    rewriter.replaceOpWithNewOp<memref::ReinterpretCastOp>(
        op, resultType, metadata.getBaseBuffer(), offset, sizes, strides);
    return success();
  }
};

struct EmberExpandShapeStridesPass
    : ember::impl::EmberExpandShapeStridesBase<EmberExpandShapeStridesPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandShapeAsReinterpretCast>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
