//===- ConvToRuntime.cpp - call the runtime's convolution kernels ---------===//
//
// ember.conv, ember.conv_backward_data and ember.conv_backward_weight on
// f32 become calls to the runtime's kernels (runtime/lib/CpuConv.cpp),
// which pack im2col panels straight into the GEMM micro-kernel's layout
// instead of materializing the im2col matrix. At the tensor level: each
// operand is viewed as 5-D [N, C, D, H, W] (unit spatial dims in front:
// an expand_shape, no copy) and handed over with bufferization.to_buffer
// (read-only); the result is a fresh 5-D buffer the kernel fills, read
// back with bufferization.to_tensor (restrict, writable) and collapsed to
// the op's rank.
//
// The same pass calls the runtime's max pool (runtime/lib/CpuPool.cpp)
// for python/ember/nn/_pooling.py's composite with constant window bounds
// (an exported program's): compiled, its stride-2 loop left a scalar
// remainder in every row (lowerMaxPool). The pass description in
// CpuPasses.td still names convolutions only: changing it rebuilds every
// pass.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace ember {
#define GEN_PASS_DEF_EMBERCONVTORUNTIME
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

constexpr int64_t kRank = 5;

MemRefType anyStrided(MLIRContext *ctx, Type element) {
  SmallVector<int64_t> shape(kRank, ShapedType::kDynamic);
  SmallVector<int64_t> strides(kRank, ShapedType::kDynamic);
  return MemRefType::get(
      shape, element,
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

/// The reassociation between rank `rank` [N, C, spatial...] and 5-D
/// [N, C, 1..., spatial...]: the unit dims join C's group.
SmallVector<ReassociationIndices> groupsFor(int64_t rank) {
  int64_t units = kRank - rank;
  SmallVector<ReassociationIndices> groups = {{0}, {1}};
  for (int64_t u = 0; u < units; ++u)
    groups[1].push_back(2 + u);
  for (int64_t d = 2 + units; d < kRank; ++d)
    groups.push_back({d});
  return groups;
}

/// `tensor` as 5-D (no copy).
Value expand(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  int64_t rank = type.getRank();
  if (rank == kRank)
    return tensor;
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, tensor);
  SmallVector<OpFoldResult> expanded = {sizes[0], sizes[1]};
  SmallVector<int64_t> shape = {type.getDimSize(0), type.getDimSize(1)};
  for (int64_t u = 0; u < kRank - rank; ++u) {
    expanded.push_back(b.getIndexAttr(1));
    shape.push_back(1);
  }
  for (int64_t d = 2; d < rank; ++d) {
    expanded.push_back(sizes[d]);
    shape.push_back(type.getDimSize(d));
  }
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), tensor,
      groupsFor(rank), expanded);
}

/// A read-only view of a 5-D tensor as the kernels' memref type.
Value asBuffer(OpBuilder &b, Location loc, Value tensor5) {
  auto type = cast<RankedTensorType>(tensor5.getType());
  SmallVector<int64_t> strides(kRank, ShapedType::kDynamic);
  auto viewType = MemRefType::get(
      type.getShape(), type.getElementType(),
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
  Value view = bufferization::ToBufferOp::create(b, loc, viewType, tensor5,
                                                 /*read_only=*/true);
  return memref::CastOp::create(
      b, loc, anyStrided(b.getContext(), type.getElementType()), view);
}

Value index(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value dim(OpBuilder &b, Location loc, Value tensor, int64_t d) {
  return tensor::DimOp::create(b, loc, tensor, d);
}

/// Converts the call's 5-D result back to the op's type: collapse the unit
/// dims, then cast to the op's static/dynamic pattern.
Value collapse(OpBuilder &b, Location loc, Value tensor5,
               RankedTensorType type) {
  Value result = tensor5;
  if (type.getRank() != kRank)
    result = tensor::CollapseShapeOp::create(b, loc, tensor5,
                                             groupsFor(type.getRank()));
  if (result.getType() != type)
    result = tensor::CastOp::create(b, loc, type, result);
  return result;
}

/// The kernel's trailing scalars: stride, low padding and dilation per
/// spatial dim as 5-D (1, 0, 1 for the unit dims in front), then groups.
SmallVector<Value> scalars(OpBuilder &b, Location loc, ArrayRef<int64_t> strides,
                           ArrayRef<int64_t> low, ArrayRef<int64_t> dilations,
                           int64_t groups) {
  int64_t units = 3 - static_cast<int64_t>(strides.size());
  SmallVector<Value> values;
  auto push = [&](ArrayRef<int64_t> list, int64_t unit) {
    for (int64_t u = 0; u < units; ++u)
      values.push_back(
          arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(unit)));
    for (int64_t v : list)
      values.push_back(
          arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v)));
  };
  push(strides, 1);
  push(low, 0);
  push(dilations, 1);
  values.push_back(
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(groups)));
  return values;
}

func::FuncOp declare(ModuleOp module, StringRef name, TypeRange inputs) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder b(module.getBodyRegion());
  auto func = func::FuncOp::create(b, module.getLoc(), name,
                                   b.getFunctionType(inputs, {}));
  func.setPrivate();
  return func;
}

/// Calls `name` on the two operands and a fresh result of `sizes` (the
/// op's rank), returning the result as the op's type.
Value lower(ModuleOp module, Operation *op, StringRef name, Value lhs,
            Value rhs, ArrayRef<Value> sizes, ArrayRef<int64_t> strides,
            ArrayRef<int64_t> low, ArrayRef<int64_t> dilations,
            int64_t groups) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  Type element = resultType.getElementType();
  // The 5-D result buffer: sizes of the op's rank with unit dims in front
  // of the spatial ones.
  SmallVector<Value> dynamic;
  SmallVector<int64_t> shape;
  int64_t units = kRank - resultType.getRank();
  for (int64_t d = 0; d < kRank; ++d) {
    if (d >= 2 && d < 2 + units) {
      shape.push_back(1);
      continue;
    }
    Value size = sizes[d < 2 ? d : d - units];
    if (std::optional<int64_t> c = getConstantIntValue(size)) {
      shape.push_back(*c);
    } else {
      shape.push_back(ShapedType::kDynamic);
      dynamic.push_back(size);
    }
  }
  auto type = MemRefType::get(shape, element);
  Value alloc = memref::AllocOp::create(b, loc, type, dynamic);
  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(shape, element), alloc, b.getUnitAttr(),
      b.getUnitAttr());
  Value out =
      memref::CastOp::create(b, loc, anyStrided(b.getContext(), element), alloc);
  SmallVector<Value> args = {asBuffer(b, loc, expand(b, loc, lhs)),
                             asBuffer(b, loc, expand(b, loc, rhs)), out};
  llvm::append_range(args, scalars(b, loc, strides, low, dilations, groups));
  SmallVector<Type> types;
  for (Value arg : args)
    types.push_back(arg.getType());
  func::CallOp::create(b, loc, declare(module, name, types), args);
  return collapse(b, loc, result, resultType);
}

void lowerConv(ModuleOp module, ConvOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value x = op.getInput(), w = op.getWeight();
  int64_t rank = op.getResult().getType().getRank();
  SmallVector<Value> sizes = {dim(b, loc, x, 0), dim(b, loc, w, 0)};
  for (int64_t i = 0; i + 2 < rank; ++i) {
    // (in + low + high - dilation * (k - 1) - 1) / stride + 1
    Value in = dim(b, loc, x, i + 2), k = dim(b, loc, w, i + 2);
    Value extent = arith::MulIOp::create(
        b, loc, arith::SubIOp::create(b, loc, k, index(b, loc, 1)),
        index(b, loc, op.getDilations()[i]));
    Value span = arith::SubIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, in,
                              index(b, loc,
                                    op.getPaddingLow()[i] +
                                        op.getPaddingHigh()[i] - 1)),
        extent);
    sizes.push_back(arith::AddIOp::create(
        b, loc,
        arith::DivUIOp::create(b, loc, span,
                               index(b, loc, op.getStrides()[i])),
        index(b, loc, 1)));
  }
  Value result =
      lower(module, op, "ember_cpu_conv_f32", x, w, sizes, op.getStrides(),
            op.getPaddingLow(), op.getDilations(), op.getGroups());
  op.getResult().replaceAllUsesWith(result);
  op->erase();
}

void lowerBackwardData(ModuleOp module, ConvBackwardDataOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value g = op.getGrad(), w = op.getWeight();
  SmallVector<Value> sizes = {
      dim(b, loc, g, 0),
      arith::MulIOp::create(b, loc, dim(b, loc, w, 1),
                            index(b, loc, op.getGroups()))};
  llvm::append_range(sizes, op.getSizes());
  Value result = lower(module, op, "ember_cpu_conv_backward_data_f32", g, w,
                       sizes, op.getStrides(), op.getPaddingLow(),
                       op.getDilations(), op.getGroups());
  op.getResult().replaceAllUsesWith(result);
  op->erase();
}

void lowerBackwardWeight(ModuleOp module, ConvBackwardWeightOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value x = op.getInput(), g = op.getGrad();
  SmallVector<Value> sizes = {
      dim(b, loc, g, 1),
      arith::DivUIOp::create(b, loc, dim(b, loc, x, 1),
                             index(b, loc, op.getGroups()))};
  llvm::append_range(sizes, op.getSizes());
  Value result = lower(module, op, "ember_cpu_conv_backward_weight_f32", x, g,
                       sizes, op.getStrides(), op.getPaddingLow(),
                       op.getDilations(), op.getGroups());
  op.getResult().replaceAllUsesWith(result);
  op->erase();
}

/// One strided window of a max pool: a chain of ember.slice ops from the
/// padded input, composed, over the last two dims (the first two whole).
struct Window {
  Value padded;
  int64_t start[2], step[2], count[2];
};

/// The window `value` reads, if it is a chain of slices with constant,
/// non-negative bounds that keep dims 0 and 1 whole.
std::optional<Window> windowOf(Value value) {
  Window w{value, {0, 0}, {1, 1}, {-1, -1}};
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || type.getRank() != 4 || !type.getElementType().isF32())
    return std::nullopt;
  bool sliced = false;
  while (auto slice = w.padded.getDefiningOp<SliceOp>()) {
    SmallVector<OpFoldResult> starts = getMixedValues(
        slice.getStart(), slice.getDynamicStart(), slice.getContext());
    SmallVector<OpFoldResult> stops = getMixedValues(
        slice.getStop(), slice.getDynamicStop(), slice.getContext());
    for (int64_t d = 0; d < 4; ++d) {
      std::optional<int64_t> start = getConstantIntValue(starts[d]);
      std::optional<int64_t> stop = getConstantIntValue(stops[d]);
      int64_t step = slice.getStep()[d];
      if (!start || !stop || *start < 0)
        return std::nullopt;
      bool whole = *start == 0 && step == 1 &&
                   *stop >= std::numeric_limits<int32_t>::max();
      if (d < 2) {
        if (!whole)
          return std::nullopt;
        continue;
      }
      if (whole)
        continue;
      // A bounded slice: its count before Python's clamping. A window
      // sliced twice along one dim is not what pooling builds.
      if (*stop < *start || w.count[d - 2] >= 0)
        return std::nullopt;
      // Inner slices apply first: compose outer(inner(x)).
      w.count[d - 2] = (*stop - *start + step - 1) / step;
      w.start[d - 2] = *start;
      w.step[d - 2] = step;
    }
    sliced = true;
    w.padded = slice.getInput();
  }
  if (!sliced || w.count[0] < 1 || w.count[1] < 1)
    return std::nullopt;
  return w;
}

/// Whether `cond` is `(v > best) | (v != v)` (either order of the or).
bool isMaxStep(Value cond, Value v, Value best) {
  auto orOp = cond.getDefiningOp<OrOp>();
  if (!orOp)
    return false;
  auto isGreater = [&](Value x) {
    auto c = x.getDefiningOp<CompareOp>();
    return c && c.getPredicate() == ComparePredicate::gt && c.getLhs() == v &&
           c.getRhs() == best;
  };
  auto isNan = [&](Value x) {
    auto c = x.getDefiningOp<CompareOp>();
    return c && c.getPredicate() == ComparePredicate::ne && c.getLhs() == v &&
           c.getRhs() == v;
  };
  return (isGreater(orOp.getLhs()) && isNan(orOp.getRhs())) ||
         (isNan(orOp.getLhs()) && isGreater(orOp.getRhs()));
}

/// A max pool as python/ember/nn/_pooling.py composes it: the running
/// maximum `best = where((v > best) | (v != v), v, best)` over one strided
/// slice of the padded input per kernel offset, in row-major order. The
/// f32 4-D `select` at the chain's end becomes ember_cpu_max_pool_f32
/// (runtime/lib/CpuPool.cpp), whose 16-wide stride-2 steps leave no
/// scalar remainder and no gapped loads; the chain's ops go as dead code.
/// Every slice must have the same type and the same count per dim, so
/// that the windows lie in the input wherever the composite was valid.
bool lowerMaxPool(ModuleOp module, SelectOp root) {
  SmallVector<Value> leaves;
  Value link = root.getResult();
  while (auto select = link.getDefiningOp<SelectOp>()) {
    Value v = select.getTrueValue(), best = select.getFalseValue();
    if (!isMaxStep(select.getCondition(), v, best))
      return false;
    leaves.push_back(v);
    link = best;
  }
  leaves.push_back(link);
  std::reverse(leaves.begin(), leaves.end());
  if (leaves.size() < 2)
    return false;
  SmallVector<Window> windows;
  for (Value leaf : leaves) {
    std::optional<Window> w = windowOf(leaf);
    if (!w || leaf.getType() != root.getType())
      return false;
    windows.push_back(*w);
  }
  const Window &first = windows.front();
  // A kH x kW grid in row-major order: kW from the first row's columns.
  int64_t kernelW = 1;
  while (kernelW < static_cast<int64_t>(windows.size()) &&
         windows[kernelW].start[0] == first.start[0])
    ++kernelW;
  int64_t taps = windows.size();
  if (taps % kernelW != 0)
    return false;
  int64_t kernelH = taps / kernelW;
  int64_t dilationH = kernelH > 1 ? windows[kernelW].start[0] - first.start[0] : 1;
  int64_t dilationW = kernelW > 1 ? windows[1].start[1] - first.start[1] : 1;
  if (dilationH < 1 || dilationW < 1)
    return false;
  for (int64_t t = 0; t < taps; ++t) {
    const Window &w = windows[t];
    if (w.padded != first.padded || w.step[0] != first.step[0] ||
        w.step[1] != first.step[1] || w.count[0] != first.count[0] ||
        w.count[1] != first.count[1] ||
        w.start[0] != first.start[0] + (t / kernelW) * dilationH ||
        w.start[1] != first.start[1] + (t % kernelW) * dilationW)
      return false;
  }
  OpBuilder b(root);
  Location loc = root.getLoc();
  auto resultType = cast<RankedTensorType>(root.getType());
  Value padded = first.padded;
  // [N, C, 1, Ho, Wo]: the input's batch and channels, the slices' count.
  SmallVector<int64_t> shape = {resultType.getDimSize(0),
                                resultType.getDimSize(1), 1,
                                first.count[0], first.count[1]};
  SmallVector<Value> dynamic;
  for (int64_t d = 0; d < 2; ++d)
    if (ShapedType::isDynamic(shape[d]))
      dynamic.push_back(dim(b, loc, padded, d));
  auto type = MemRefType::get(shape, b.getF32Type());
  Value alloc = memref::AllocOp::create(b, loc, type, dynamic);
  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(shape, b.getF32Type()), alloc,
      b.getUnitAttr(), b.getUnitAttr());
  Value out = memref::CastOp::create(
      b, loc, anyStrided(b.getContext(), b.getF32Type()), alloc);
  SmallVector<Value> args = {asBuffer(b, loc, expand(b, loc, padded)), out};
  for (int64_t v : {first.start[0], first.start[1], first.step[0],
                    first.step[1], kernelH, kernelW, dilationH, dilationW})
    args.push_back(arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v)));
  SmallVector<Type> types;
  for (Value arg : args)
    types.push_back(arg.getType());
  func::CallOp::create(b, loc, declare(module, "ember_cpu_max_pool_f32", types),
                       args);
  root.getResult().replaceAllUsesWith(collapse(b, loc, result, resultType));
  return true;
}

bool isF32(Value value) {
  return cast<RankedTensorType>(value.getType()).getElementType().isF32();
}

struct EmberConvToRuntimePass
    : ember::impl::EmberConvToRuntimeBase<EmberConvToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // A VJP builds both gradients of a convolution; one that nothing reads
    // (an input that needs no gradient) must not become a call, which
    // would run (a call is not dead code).
    for (bool erased = true; erased;) {
      SmallVector<Operation *> dead;
      module.walk([&](Operation *op) {
        if (isa<ConvOp, ConvBackwardDataOp, ConvBackwardWeightOp>(op) &&
            isOpTriviallyDead(op))
          dead.push_back(op);
      });
      for (Operation *op : dead)
        op->erase();
      erased = !dead.empty();
    }
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<ConvOp, ConvBackwardDataOp, ConvBackwardWeightOp>(op) &&
          isF32(op->getResult(0)))
        ops.push_back(op);
    });
    // Max pools: the last select of each running-maximum chain (one whose
    // result is not itself the best of a further step).
    SmallVector<SelectOp> pools;
    module.walk([&](SelectOp select) {
      auto type = dyn_cast<RankedTensorType>(select.getType());
      if (!type || type.getRank() != 4 || !type.getElementType().isF32())
        return;
      for (Operation *user : select->getUsers())
        if (auto next = dyn_cast<SelectOp>(user))
          if (next.getFalseValue() == select.getResult())
            return;
      pools.push_back(select);
    });
    for (SelectOp select : pools)
      if (lowerMaxPool(module, select))
        select->erase();
    for (Operation *op : ops) {
      if (auto conv = dyn_cast<ConvOp>(op))
        lowerConv(module, conv);
      else if (auto data = dyn_cast<ConvBackwardDataOp>(op))
        lowerBackwardData(module, data);
      else
        lowerBackwardWeight(module, cast<ConvBackwardWeightOp>(op));
    }
  }
};

} // namespace
