//===- EmberVjp.cpp - vector-Jacobian products of ember ops ----------------===//
//
// The `buildVjp` of each differentiable op that is not element-wise (those
// sit next to their scalar bodies in EmberElementwise.cpp): the gradient of sum(g * op(x)) with
// respect to each operand, written with ember ops so that the result can be
// differentiated again. Run-time sizes come from tensor.dim and arith ops.
//
// Broadcasting: a binary op's operand may have fewer leading dims than the
// result or a static 1 where the result is larger. Its gradient sums the
// cotangent over exactly those dims, which the types tell statically because
// a dynamic dim never broadcasts.
//
//===----------------------------------------------------------------------===//

#include "VjpBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/ScopeExit.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace ember;

#include "ember/Dialect/EmberInterfaces.cpp.inc"

using namespace ember::vjp;

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

/// The cotangent of a reduction broadcast back over the reduced dims.
template <typename OpTy>
static Value spreadCotangent(OpBuilder &b, OpTy op, Value g) {
  Location loc = op.getLoc();
  Value kept = keepReducedDims(b, loc, g, op.getInput(), op.getDims(),
                               op.getKeepdim());
  return broadcastLike(b, loc, kept, op.getInput());
}

LogicalResult SumOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  gradients.push_back(isFloatTensor(getInput())
                          ? spreadCotangent(b, *this, cotangents[0])
                          : Value());
  return success();
}

LogicalResult MeanOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value input = getInput();
  RankedTensorType type = typeOf(input);
  Type elementType = type.getElementType();
  // The number of averaged elements: a constant when the reduced dims are
  // static, otherwise a product of tensor.dim sizes made into a rank-0
  // tensor.
  int64_t staticCount = 1;
  Value dynamicCount;
  for (int64_t dim : getDims()) {
    if (!type.isDynamicDim(dim)) {
      staticCount *= type.getDimSize(dim);
      continue;
    }
    Value size = tensor::DimOp::create(b, loc, input, dim);
    dynamicCount = dynamicCount
                       ? arith::MulIOp::create(b, loc, dynamicCount, size)
                       : size;
  }
  Value count;
  if (!dynamicCount) {
    count = scalar(b, loc, elementType, static_cast<double>(staticCount));
  } else {
    Value total = arith::MulIOp::create(
        b, loc, dynamicCount, arith::ConstantIndexOp::create(b, loc, staticCount));
    Value asInt = arith::IndexCastOp::create(b, loc, b.getI64Type(), total);
    Value asFloat = arith::SIToFPOp::create(b, loc, elementType, asInt);
    count = tensor::FromElementsOp::create(
        b, loc, RankedTensorType::get({}, elementType), ValueRange{asFloat});
  }
  gradients.push_back(
      DivOp::create(b, loc, spreadCotangent(b, *this, cotangents[0]), count));
  return success();
}

/// max/min over dims: the cotangent goes to the elements equal to the
/// result, split evenly among ties (torch's amax/amin; torch.max(dim) picks
/// one index instead).
template <typename OpTy>
static LogicalResult reduceExtremumVjp(OpBuilder &b, OpTy op,
                                       ValueRange cotangents,
                                       SmallVectorImpl<Value> &gradients) {
  Location loc = op.getLoc();
  Value input = op.getInput();
  if (!isFloatTensor(input)) {
    gradients.push_back(Value());
    return success();
  }
  Type type = typeOf(input).getElementType();
  Value extreme = keepReducedDims(b, loc, op.getResult(), input, op.getDims(),
                                  op.getKeepdim());
  Value hits = asNumber(
      b, loc, compare(b, loc, ComparePredicate::eq, input, extreme), type);
  Value ties = SumOp::create(b, loc, hits, op.getDims(), /*keepdim=*/true);
  Value g = keepReducedDims(b, loc, cotangents[0], input, op.getDims(),
                            op.getKeepdim());
  Value grad = DivOp::create(b, loc, mul(b, loc, g, hits), ties);
  gradients.push_back(reshapeLike(b, loc, grad, input));
  return success();
}

LogicalResult MaxOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return reduceExtremumVjp(b, *this, cotangents, gradients);
}

LogicalResult MinOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &gradients) {
  return reduceExtremumVjp(b, *this, cotangents, gradients);
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

/// Swaps the last two dims.
static Value transposeLast(OpBuilder &b, Location loc, Value value) {
  int64_t rank = typeOf(value).getRank();
  SmallVector<int64_t> perm;
  for (int64_t i = 0; i < rank - 2; ++i)
    perm.push_back(i);
  perm.append({rank - 1, rank - 2});
  return TransposeOp::create(b, loc, value, perm);
}

/// `value` of rank > 2 as a matrix: every leading dim folded into the rows,
/// the last dim kept (a reshape with groups, so a strided input is read in
/// place).
static Value collapseToRows(OpBuilder &b, Location loc, Value value) {
  RankedTensorType type = typeOf(value);
  int64_t rank = type.getRank();
  int64_t staticRows = 1;
  Value dynamicRows;
  for (int64_t i = 0; i < rank - 1; ++i) {
    if (!type.isDynamicDim(i)) {
      staticRows *= type.getDimSize(i);
      continue;
    }
    Value size = tensor::DimOp::create(b, loc, value, i);
    dynamicRows =
        dynamicRows ? arith::MulIOp::create(b, loc, dynamicRows, size) : size;
  }
  SmallVector<Value> sizes;
  int64_t rows = staticRows;
  if (dynamicRows) {
    rows = ShapedType::kDynamic;
    sizes.push_back(
        staticRows == 1
            ? dynamicRows
            : arith::MulIOp::create(
                  b, loc, dynamicRows,
                  arith::ConstantIndexOp::create(b, loc, staticRows)));
  }
  int64_t cols = type.getDimSize(rank - 1);
  if (ShapedType::isDynamic(cols))
    sizes.push_back(tensor::DimOp::create(b, loc, value, rank - 1));
  auto matrixType =
      RankedTensorType::get({rows, cols}, type.getElementType());
  return ReshapeOp::create(b, loc, matrixType, value, sizes,
                           b.getDenseI64ArrayAttr({rank - 1, 1, 1, 1}));
}

LogicalResult MatmulOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value lhs = getLhs(), rhs = getRhs(), g = cotangents[0];
  if (!isFloatTensor(lhs)) {
    gradients.append({Value(), Value()});
    return success();
  }
  // g @ rhs^T and lhs^T @ g have the full batch shape; a broadcast batch dim
  // of an operand is summed back.
  Value lhsGrad = MatmulOp::create(b, loc, g, transposeLast(b, loc, rhs));
  Value rhsGrad;
  if (typeOf(rhs).getRank() == 2 && typeOf(lhs).getRank() > 2) {
    // A batch of rows against one matrix (a linear layer on [B, S, K]):
    // sum_b lhs_b^T @ g_b is one product over all the rows, lhs[P, K]^T @
    // g[P, N]: one GEMM with a long k instead of a batch of short ones, a
    // batch of partial products and a sum over them.
    Value lhsRows = collapseToRows(b, loc, lhs);
    rhsGrad = MatmulOp::create(b, loc, transposeLast(b, loc, lhsRows),
                               collapseToRows(b, loc, g));
  } else {
    rhsGrad = MatmulOp::create(b, loc, transposeLast(b, loc, lhs), g);
  }
  gradients.push_back(sumToShape(b, loc, lhsGrad, lhs));
  gradients.push_back(sumToShape(b, loc, rhsGrad, rhs));
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  // Always a reshape: `?x?` to `?x?` changes the sizes although the types
  // are equal, so reshapeLike's shortcut would be wrong here.
  Value input = getInput();
  // The way back has the same groups, each pair swapped.
  DenseI64ArrayAttr backGroups;
  if (std::optional<ArrayRef<int64_t>> groups = getGroups()) {
    SmallVector<int64_t> swapped;
    for (size_t i = 0; i < groups->size(); i += 2)
      swapped.append({(*groups)[i + 1], (*groups)[i]});
    backGroups = b.getDenseI64ArrayAttr(swapped);
  }
  gradients.push_back(
      isFloatTensor(input)
          ? ReshapeOp::create(b, getLoc(), input.getType(), cotangents[0],
                              dynamicSizes(b, getLoc(), input), backGroups)
                .getResult()
          : Value());
  gradients.append(getSizes().size(), Value());
  return success();
}

LogicalResult BroadcastToOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                      SmallVectorImpl<Value> &gradients) {
  gradients.push_back(isFloatTensor(getInput())
                          ? sumToShape(b, getLoc(), cotangents[0], getInput())
                          : Value());
  gradients.append(getSizes().size(), Value());
  return success();
}

LogicalResult TransposeOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &gradients) {
  if (!isFloatTensor(getInput())) {
    gradients.push_back(Value());
    return success();
  }
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = i;
  gradients.push_back(TransposeOp::create(b, getLoc(), cotangents[0], inverse));
  return success();
}

LogicalResult SliceOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value input = getInput();
  // Run-time bounds (index operands) get no gradient.
  auto boundsHaveNone = llvm::make_scope_exit([&] {
    gradients.append(getDynamicStart().size() + getDynamicStop().size(), Value());
  });
  if (!isFloatTensor(input)) {
    gradients.push_back(Value());
    return success();
  }
  // The cotangent lands in the window the slice read; the rest gets zeros.
  gradients.push_back(InsertSliceOp::create(
      b, loc, input.getType(), cotangents[0], zerosLike(b, loc, input),
      getDynamicStart(), getDynamicStop(), getStart(), getStop(), getStep()));
  return success();
}

LogicalResult InsertSliceOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                      SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value source = getSource(), g = cotangents[0];
  auto boundsHaveNone = llvm::make_scope_exit([&] {
    gradients.append(getDynamicStart().size() + getDynamicStop().size(), Value());
  });
  if (!isFloatTensor(source)) {
    gradients.append({Value(), Value()});
    return success();
  }
  Value window = SliceOp::create(b, loc, g, getDynamicStart(), getDynamicStop(),
                                 getStart(), getStop(), getStep());
  gradients.push_back(reshapeLike(b, loc, window, source));
  // The overwritten window does not reach the result.
  gradients.push_back(InsertSliceOp::create(
      b, loc, g.getType(), zerosLike(b, loc, source), g, getDynamicStart(),
      getDynamicStop(), getStart(), getStop(), getStep()));
  return success();
}

LogicalResult GatherOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value input = getInput();
  // Rows picked several times get the sum of their cotangents.
  gradients.push_back(isFloatTensor(input)
                          ? ScatterAddOp::create(b, loc, zerosLike(b, loc, input),
                                                 getIndices(), cotangents[0],
                                                 getDim())
                                .getResult()
                          : Value());
  gradients.push_back(Value());
  return success();
}

LogicalResult ScatterAddOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                     SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  Value g = cotangents[0];
  if (!isFloatTensor(getDest())) {
    gradients.append({Value(), Value(), Value()});
    return success();
  }
  gradients.push_back(g);
  gradients.push_back(Value());
  Value picked = GatherOp::create(b, loc, g, getIndices(), getDim());
  gradients.push_back(reshapeLike(b, loc, picked, getUpdates()));
  return success();
}

LogicalResult ConcatOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &gradients) {
  Location loc = getLoc();
  ValueRange inputs = getInputs();
  if (!isFloatTensor(inputs.front())) {
    gradients.append(inputs.size(), Value());
    return success();
  }
  int64_t dim = getDim();
  int64_t rank = typeOf(inputs.front()).getRank();
  SmallVector<int64_t> sizes;
  for (Value input : inputs)
    sizes.push_back(typeOf(input).getDimSize(dim));
  // Each input's window as attributes where that is possible, from the
  // front (static sizes before it) or from the back (negative bounds:
  // static sizes after it); else as run-time bounds summed from the
  // inputs' extents (the eager tracer leaves them dynamic, so a cat of
  // new sizes runs the same program).
  auto staticSum = [&](size_t begin, size_t end) -> std::optional<int64_t> {
    int64_t total = 0;
    for (size_t i = begin; i < end; ++i) {
      if (ShapedType::isDynamic(sizes[i]))
        return std::nullopt;
      total += sizes[i];
    }
    return total;
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::optional<int64_t> before = staticSum(0, i);
    std::optional<int64_t> upTo = staticSum(0, i + 1);
    std::optional<int64_t> after = staticSum(i + 1, inputs.size());
    std::optional<int64_t> from = staticSum(i, inputs.size());
    SmallVector<int64_t> start(rank, 0), stop(rank, kToEnd), step(rank, 1);
    if ((!before && !from) || (!upTo && !after)) {
      Value offset = arith::ConstantIndexOp::create(b, loc, 0);
      for (size_t j = 0; j < i; ++j)
        offset = arith::AddIOp::create(
            b, loc, offset, tensor::DimOp::create(b, loc, inputs[j], dim));
      Value end = arith::AddIOp::create(
          b, loc, offset, tensor::DimOp::create(b, loc, inputs[i], dim));
      start[dim] = ShapedType::kDynamic;
      stop[dim] = ShapedType::kDynamic;
      Value window = SliceOp::create(b, loc, cotangents[0], ValueRange{offset},
                                     ValueRange{end}, start, stop, step);
      gradients.push_back(reshapeLike(b, loc, window, inputs[i]));
      continue;
    }
    // An empty window at the end must not start at -0 == 0.
    start[dim] = before ? *before : (*from == 0 ? kToEnd : -*from);
    stop[dim] = upTo ? *upTo : (*after == 0 ? kToEnd : -*after);
    Value window = SliceOp::create(b, loc, cotangents[0], start, stop, step);
    gradients.push_back(reshapeLike(b, loc, window, inputs[i]));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Softmax, log_softmax
//===----------------------------------------------------------------------===//

// Each a backward composite: one trip through memory on the CPU
// (ember-softmax-rows), primitives elsewhere (ember-decompose).

LogicalResult SoftmaxOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  gradients.push_back(SoftmaxBackwardOp::create(b, getLoc(), cotangents[0],
                                                getResult(), getDim()));
  return success();
}

LogicalResult LogSoftmaxOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                     SmallVectorImpl<Value> &gradients) {
  gradients.push_back(LogSoftmaxBackwardOp::create(b, getLoc(), cotangents[0],
                                                   getResult(), getDim()));
  return success();
}

//===----------------------------------------------------------------------===//
// Cross-entropy rows
//===----------------------------------------------------------------------===//

// A backward composite that recomputes the row's softmax from the logits:
// one trip through memory on the CPU (ember-softmax-rows). The targets
// have no gradient.
LogicalResult CrossEntropyRowsOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                           SmallVectorImpl<Value> &gradients) {
  Value logits = getLogits();
  gradients.push_back(CrossEntropyRowsBackwardOp::create(
      b, getLoc(), logits.getType(), cotangents[0], logits, getTarget(),
      getIgnoreIndexAttr()));
  gradients.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Layer norm, RMS norm
//===----------------------------------------------------------------------===//

/// The input's gradient is a backward composite (`BackwardOp`, which
/// recomputes the row statistics); the weight's is the column sum of
/// grad * xhat, with xhat the forward op without its affine part; the
/// bias's the column sum of grad.
template <typename ForwardOp, typename BackwardOp>
static LogicalResult normVjp(ForwardOp op, OpBuilder &b, ValueRange cotangents,
                             SmallVectorImpl<Value> &gradients) {
  Location loc = op.getLoc();
  Value g = cotangents[0], x = op.getInput(), weight = op.getWeight();
  gradients.push_back(BackwardOp::create(b, loc, x.getType(), g, x, weight,
                                         op.getEpsAttr()));
  if (weight) {
    Value xhat = ForwardOp::create(b, loc, x.getType(), x, Value(), Value(),
                                   op.getEpsAttr());
    gradients.push_back(sumToShape(b, loc, mul(b, loc, g, xhat), weight));
  }
  if (Value bias = op.getBias())
    gradients.push_back(sumToShape(b, loc, g, bias));
  return success();
}

LogicalResult LayerNormOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &gradients) {
  return normVjp<LayerNormOp, LayerNormBackwardOp>(*this, b, cotangents,
                                                   gradients);
}

LogicalResult RmsNormOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &gradients) {
  return normVjp<RmsNormOp, RmsNormBackwardOp>(*this, b, cotangents, gradients);
}
