//===- SplitFullReductions.cpp - full reductions as parallel partials -----===//
//
// A reduction of a whole tensor to one value (`x.sum()`, `x.max()`,
// `(x * x).sum()`: a linalg.generic whose every dim is a reduction) lowers
// to one loop nest that carries its accumulator through every element: one
// thread, and a chain of dependent adds. This pass computes it as partials
// over fixed chunks of kChunk elements of the flattened input, each its own
// `scf.for` with the accumulator in a register (LLVM vectorizes it under
// the body's reassociation flags), the chunks an `scf.forall` that the CPU
// pipeline spreads over the thread pool; then one sequential pass combines
// the initial value, the partials in order and the elements past the last
// whole chunk. The chunking depends only on the element count, never on the
// threads, so every thread count gives bitwise the same result.
//
// Applies to a generic with one rank-0 output and inputs of one shape read
// with identity maps, whose body is `combine(out, f(inputs))` with `out`
// read once, by a combiner that has a neutral element (addf, maximumf,
// minimumf, mulf, the integer ones, ...); and not to inputs with a static
// element count under two chunks.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace ember {
#define GEN_PASS_DEF_EMBERSPLITFULLREDUCTIONS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// Elements per partial (64 KiB of f32): fixed, so that the result does
/// not depend on the thread count.
constexpr int64_t kChunk = 16384;

/// The op that folds `f(inputs)` into the accumulator, when the body is of
/// the form this pass splits.
Operation *findCombiner(linalg::GenericOp generic) {
  Block &body = generic.getRegion().front();
  BlockArgument out = body.getArguments().back();
  if (!out.hasOneUse())
    return nullptr;
  Operation *combiner = body.getTerminator()->getOperand(0).getDefiningOp();
  if (!combiner || combiner != *out.getUsers().begin() ||
      combiner->getNumOperands() != 2 || combiner->getNumResults() != 1 ||
      combiner->getNumRegions() != 0)
    return nullptr;
  if (!arith::getNeutralElement(combiner))
    return nullptr;
  return combiner;
}

bool isFullReduction(linalg::GenericOp generic) {
  if (generic.getNumDpsInits() != 1 || generic.getNumDpsInputs() == 0 ||
      !generic.hasPureTensorSemantics())
    return false;
  if (generic.getNumReductionLoops() != generic.getNumLoops() ||
      generic.getNumLoops() == 0)
    return false;
  auto outType = dyn_cast<RankedTensorType>(generic.getDpsInits()[0].getType());
  if (!outType || outType.getRank() != 0)
    return false;
  auto firstType = dyn_cast<RankedTensorType>(generic.getDpsInputs()[0].getType());
  if (!firstType)
    return false;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    auto type = dyn_cast<RankedTensorType>(input->get().getType());
    if (!type || type.getShape() != firstType.getShape() ||
        !generic.getMatchingIndexingMap(input).isIdentity())
      return false;
  }
  if (firstType.hasStaticShape() && firstType.getNumElements() < 2 * kChunk)
    return false;
  return findCombiner(generic) != nullptr;
}

/// `tensor` as a 1-D tensor of its elements in order.
Value flatten(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (type.getRank() == 1)
    return tensor;
  int64_t count = type.hasStaticShape() ? type.getNumElements() : ShapedType::kDynamic;
  ReassociationIndices all;
  for (int64_t d = 0; d < type.getRank(); ++d)
    all.push_back(d);
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({count}, type.getElementType()), tensor,
      ArrayRef<ReassociationIndices>{all});
}

/// The body applied to element `index` of the flat inputs with the
/// accumulator `acc`; returns the new accumulator.
Value applyBody(OpBuilder &b, Location loc, linalg::GenericOp generic,
                ValueRange flatInputs, Value index, Value acc) {
  Block &body = generic.getRegion().front();
  IRMapping mapping;
  for (auto [arg, input] : llvm::zip(body.getArguments().drop_back(), flatInputs))
    mapping.map(arg, tensor::ExtractOp::create(b, loc, input, index).getResult());
  mapping.map(body.getArguments().back(), acc);
  for (Operation &op : body.without_terminator())
    b.clone(op, mapping);
  return mapping.lookup(body.getTerminator()->getOperand(0));
}

void split(linalg::GenericOp generic) {
  OpBuilder b(generic);
  Location loc = generic.getLoc();
  Operation *combiner = findCombiner(generic);
  Type accType = generic.getResult(0).getType();
  accType = cast<RankedTensorType>(accType).getElementType();
  Value neutral = arith::ConstantOp::create(b, loc, *arith::getNeutralElement(combiner));

  SmallVector<Value> flat;
  for (Value input : generic.getDpsInputs())
    flat.push_back(flatten(b, loc, input));
  Value count = tensor::DimOp::create(b, loc, flat.front(), 0);
  Value chunk = arith::ConstantIndexOp::create(b, loc, kChunk);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value chunks = arith::DivUIOp::create(b, loc, count, chunk);

  // One partial per whole chunk, chunks in parallel.
  Value empty = tensor::EmptyOp::create(b, loc, ArrayRef<OpFoldResult>{chunks}, accType);
  auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{chunks},
                                      ValueRange{empty}, /*mapping=*/std::nullopt);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    Value c = forall.getInductionVars().front();
    Value base = arith::MulIOp::create(b, loc, c, chunk);
    auto loop = scf::ForOp::create(
        b, loc, zero, chunk, one, ValueRange{neutral},
        [&](OpBuilder &nb, Location nl, Value j, ValueRange carried) {
          Value index = arith::AddIOp::create(nb, nl, base, j);
          scf::YieldOp::create(nb, nl, applyBody(nb, nl, generic, flat, index, carried[0]));
        });
    Value shared = forall.getRegionIterArgs().front();
    SmallVector<OpFoldResult> offsets = {c}, sizes = {b.getIndexAttr(1)},
                              strides = {b.getIndexAttr(1)};
    Value slot = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({1}, accType), shared, offsets, sizes, strides);
    Value written = tensor::InsertOp::create(b, loc, loop.getResult(0), slot, ValueRange{zero});
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(b, loc, written, shared, offsets, sizes, strides);
  }
  Value partials = forall.getResult(0);

  // The initial value, the partials in order, then the elements after the
  // last whole chunk.
  Value init = generic.getDpsInits()[0];
  Value acc = tensor::ExtractOp::create(b, loc, init, ValueRange{});
  auto combine = scf::ForOp::create(
      b, loc, zero, chunks, one, ValueRange{acc},
      [&](OpBuilder &nb, Location nl, Value c, ValueRange carried) {
        Value partial = tensor::ExtractOp::create(nb, nl, partials, c);
        IRMapping mapping;
        Block &body = generic.getRegion().front();
        Value out = body.getArguments().back();
        for (Value operand : combiner->getOperands())
          mapping.map(operand, operand == out ? carried[0] : partial);
        scf::YieldOp::create(nb, nl, nb.clone(*combiner, mapping)->getResult(0));
      });
  Value tailStart = arith::MulIOp::create(b, loc, chunks, chunk);
  auto tail = scf::ForOp::create(
      b, loc, tailStart, count, one, combine.getResults(),
      [&](OpBuilder &nb, Location nl, Value j, ValueRange carried) {
        scf::YieldOp::create(nb, nl, applyBody(nb, nl, generic, flat, j, carried[0]));
      });
  Value result = tensor::InsertOp::create(b, loc, tail.getResult(0), init, ValueRange{});
  generic.getResult(0).replaceAllUsesWith(result);
  generic.erase();
}

struct SplitFullReductions
    : ember::impl::EmberSplitFullReductionsBase<SplitFullReductions> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp generic) {
      if (isFullReduction(generic))
        generics.push_back(generic);
    });
    for (linalg::GenericOp generic : generics)
      split(generic);
  }
};

} // namespace
