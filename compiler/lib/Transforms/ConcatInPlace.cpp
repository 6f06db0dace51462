//===- ConcatInPlace.cpp - concat operands written into the result --------===//
//
// tensor.concat bufferizes to a fresh buffer and one copy per operand. An
// imported CNN's max pool pads its input with concats (the stem's conv +
// bias + ReLU output, 112x112x64 floats per image, copied twice per
// forward in resnet18). When each operand is made by a destination-style
// op that fills a tensor.empty, that op can write into its part of the
// result instead: the concat becomes one tensor.empty of the whole, made
// before the first producer, each producer's init an extract_slice of it
// and each result put back by the matching insert_slice right after the
// producer. One-shot bufferization sees matching extract/insert pairs and
// writes every operand in place; ember-fuse-conv-epilogue then lets the
// convolution write its fused output straight into the padded buffer.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"

namespace ember {
#define GEN_PASS_DEF_EMBERCONCATINPLACE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// An operand of the (flattened) concat: the op that makes it, the
/// tensor.empty it fills and where it goes in the whole.
struct Leaf {
  Operation *producer;
  tensor::EmptyOp empty;
  SmallVector<OpFoldResult> offsets;
};

/// `value` through the tensor.casts that only feed the concat.
Value throughCasts(Value value, SmallVectorImpl<Operation *> &dead) {
  while (auto cast = value.getDefiningOp<tensor::CastOp>()) {
    if (!cast->hasOneUse())
      break;
    dead.push_back(cast);
    value = cast.getSource();
  }
  return value;
}

/// The concat rewritten in place, or the reason it is not (false).
class Flattener {
public:
  Flattener(tensor::ConcatOp root, DominanceInfo &dominance)
      : root(root), dominance(dominance) {}

  bool run() {
    int64_t rank = root.getResultType().getRank();
    if (!collectLeaves(root, rank) || leaves.empty())
      return false;
    llvm::sort(leaves, [](const Leaf &a, const Leaf &b) {
      return a.producer->isBeforeInBlock(b.producer);
    });
    Operation *first = leaves.front().producer;
    // Every size must be known before the first producer.
    for (Leaf &leaf : leaves)
      for (Value size : leaf.empty.getDynamicSizes())
        if (!dominance.properlyDominates(size, first))
          return false;
    OpBuilder b(first);
    Location loc = root.getLoc();
    SmallVector<OpFoldResult> zeros(rank, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = placeLeaves(b, root, zeros);
    SmallVector<int64_t> shape;
    SmallVector<Value> dynamic;
    for (OpFoldResult size : sizes) {
      if (std::optional<int64_t> c = getConstantIntValue(size)) {
        shape.push_back(*c);
      } else {
        shape.push_back(ShapedType::kDynamic);
        dynamic.push_back(cast<Value>(size));
      }
    }
    Type element = root.getResultType().getElementType();
    Value current =
        tensor::EmptyOp::create(b, loc, shape, element, dynamic).getResult();
    SmallVector<OpFoldResult> ones(rank, b.getIndexAttr(1));
    for (Leaf &leaf : leaves) {
      OpBuilder before(leaf.producer);
      SmallVector<OpFoldResult> leafSizes = leaf.empty.getMixedSizes();
      Value slice = tensor::ExtractSliceOp::create(
          before, loc, leaf.empty.getType(), current, leaf.offsets, leafSizes,
          ones);
      leaf.empty.getResult().replaceAllUsesWith(slice);
      leaf.empty->erase();
      OpBuilder after(leaf.producer->getBlock(),
                      std::next(leaf.producer->getIterator()));
      current = tensor::InsertSliceOp::create(after, loc,
                                              leaf.producer->getResult(0),
                                              current, leaf.offsets, leafSizes,
                                              ones);
    }
    OpBuilder at(root);
    if (current.getType() != root.getType())
      current = tensor::CastOp::create(at, loc, root.getType(), current);
    root.getResult().replaceAllUsesWith(current);
    root->erase();
    for (Operation *op : dead)
      op->erase();
    return true;
  }

private:
  /// Finds the leaves under `concat`; false when one is not a producer
  /// that can write in place.
  bool collectLeaves(tensor::ConcatOp concat, int64_t rank) {
    for (Value operand : concat.getInputs()) {
      Value value = throughCasts(operand, dead);
      if (!value.hasOneUse())
        return false;
      if (auto inner = value.getDefiningOp<tensor::ConcatOp>()) {
        dead.push_back(inner);
        if (!collectLeaves(inner, rank))
          return false;
        continue;
      }
      auto producer = value.getDefiningOp<DestinationStyleOpInterface>();
      if (!producer || producer->getNumResults() != 1 ||
          producer->getBlock() != root->getBlock() ||
          !producer->isBeforeInBlock(root) || producer.getNumDpsInits() != 1)
        return false;
      auto empty =
          producer.getDpsInitOperand(0)->get().getDefiningOp<tensor::EmptyOp>();
      if (!empty || !empty->hasOneUse() ||
          empty.getType().getRank() != rank)
        return false;
      leaves.push_back({producer, empty, {}});
      leafOf[value] = leaves.size() - 1;
    }
    return true;
  }

  OpFoldResult add(OpBuilder &b, OpFoldResult x, OpFoldResult y) {
    std::optional<int64_t> cx = getConstantIntValue(x),
                           cy = getConstantIntValue(y);
    if (cx && cy)
      return b.getIndexAttr(*cx + *cy);
    if (cx == 0)
      return y;
    if (cy == 0)
      return x;
    auto value = [&](OpFoldResult v) -> Value {
      if (auto c = getConstantIntValue(v))
        return arith::ConstantIndexOp::create(b, root.getLoc(), *c);
      return cast<Value>(v);
    };
    return arith::AddIOp::create(b, root.getLoc(), value(x), value(y))
        .getResult();
  }

  /// Sets the offsets of the leaves under `concat` (placed at `offsets`)
  /// and returns its sizes.
  SmallVector<OpFoldResult> placeLeaves(OpBuilder &b, tensor::ConcatOp concat,
                                        SmallVector<OpFoldResult> offsets) {
    int64_t dim = concat.getDim();
    SmallVector<OpFoldResult> sizes;
    OpFoldResult along = b.getIndexAttr(0);
    for (Value operand : concat.getInputs()) {
      SmallVector<Operation *> ignored;
      Value value = throughCasts(operand, ignored);
      SmallVector<OpFoldResult> at = offsets;
      at[dim] = add(b, offsets[dim], along);
      SmallVector<OpFoldResult> part;
      if (auto inner = value.getDefiningOp<tensor::ConcatOp>()) {
        part = placeLeaves(b, inner, at);
      } else {
        Leaf &leaf = leaves[leafOf.lookup(value)];
        leaf.offsets = at;
        part = leaf.empty.getMixedSizes();
      }
      if (sizes.empty())
        sizes = part;
      along = add(b, along, part[dim]);
    }
    sizes[dim] = along;
    return sizes;
  }

  tensor::ConcatOp root;
  DominanceInfo &dominance;
  SmallVector<Leaf> leaves;
  DenseMap<Value, size_t> leafOf;
  /// Inner concats and casts, outermost first: erased after the root.
  SmallVector<Operation *> dead;
};

/// Whether `concat` only feeds another concat (through casts): the outer
/// one rewrites both.
bool feedsConcat(tensor::ConcatOp concat) {
  Value value = concat.getResult();
  while (value.hasOneUse()) {
    Operation *user = *value.getUsers().begin();
    if (isa<tensor::ConcatOp>(user))
      return true;
    auto cast = dyn_cast<tensor::CastOp>(user);
    if (!cast)
      return false;
    value = cast.getResult();
  }
  return false;
}

struct EmberConcatInPlacePass
    : ember::impl::EmberConcatInPlaceBase<EmberConcatInPlacePass> {
  void runOnOperation() override {
    DominanceInfo &dominance = getAnalysis<DominanceInfo>();
    SmallVector<tensor::ConcatOp> roots;
    getOperation().walk([&](tensor::ConcatOp concat) {
      if (!feedsConcat(concat))
        roots.push_back(concat);
    });
    for (tensor::ConcatOp concat : roots)
      if (Flattener(concat, dominance).run())
        ++numConcats;
  }
};

} // namespace
