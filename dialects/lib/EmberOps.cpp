//===- EmberOps.cpp - ember op verifiers, type inference, folders ----------===//

#include "ember/Dialect/EmberOps.h"

#include "ember/Dialect/Shapes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"

using namespace mlir;
using namespace ember;

#include "ember/Dialect/EmberEnums.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static RankedTensorType tensorTypeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// Reports an error from a static type-inference hook, at the op's location
/// when it is known; `opName` prefixes the message like `emitOpError` does.
static LogicalResult inferError(std::optional<Location> loc, StringRef opName,
                                const Twine &message) {
  return emitOptionalError(loc, "'ember.", opName, "' op ", message);
}

static std::string typeText(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

/// Broadcasts every operand's shape; the error names all operand types.
static LogicalResult inferBroadcastType(std::optional<Location> loc,
                                        StringRef opName, ValueRange operands,
                                        Type elementType,
                                        SmallVectorImpl<Type> &results) {
  SmallVector<int64_t> shape;
  for (Value operand : operands) {
    auto maybe = broadcastShapes(shape, tensorTypeOf(operand).getShape());
    if (!maybe) {
      std::string names;
      for (Value v : operands)
        names += (names.empty() ? "" : " and ") + typeText(v.getType());
      return inferError(loc, opName,
                        "operands have incompatible shapes for broadcasting: " +
                            names);
    }
    shape = *maybe;
  }
  results.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

/// Fails, naming the type, unless `dim` is a dim of `type`.
static LogicalResult checkDimInRange(std::optional<Location> loc,
                                     StringRef opName, RankedTensorType type,
                                     int64_t dim) {
  if (dim >= 0 && dim < type.getRank())
    return success();
  return inferError(loc, opName,
                    "dim " + Twine(dim) + " is out of range for " +
                        typeText(type) + " (rank " + Twine(type.getRank()) +
                        ")");
}

static LogicalResult checkSameElementType(std::optional<Location> loc,
                                          StringRef opName, Value a, Value b) {
  if (tensorTypeOf(a).getElementType() == tensorTypeOf(b).getElementType())
    return success();
  return inferError(loc, opName,
                    "operands have different element types: " +
                        typeText(a.getType()) + " and " + typeText(b.getType()));
}

//===----------------------------------------------------------------------===//
// ConstantOp, CastOp
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// Binary ops, compare, select
//===----------------------------------------------------------------------===//

LogicalResult ember::inferBinaryResultType(std::optional<Location> loc,
                                           StringRef opName, Value lhs,
                                           Value rhs,
                                           SmallVectorImpl<Type> &results) {
  if (failed(checkSameElementType(loc, opName, lhs, rhs)))
    return failure();
  return inferBroadcastType(loc, opName, {lhs, rhs},
                            tensorTypeOf(lhs).getElementType(), results);
}

LogicalResult CompareOp::inferReturnTypes(MLIRContext *context,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  if (failed(checkSameElementType(loc, "compare", adaptor.getLhs(),
                                  adaptor.getRhs())))
    return failure();
  return inferBroadcastType(loc, "compare", {adaptor.getLhs(), adaptor.getRhs()},
                            IntegerType::get(context, 1), results);
}

LogicalResult SelectOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  if (failed(checkSameElementType(loc, "select", adaptor.getTrueValue(),
                                  adaptor.getFalseValue())))
    return failure();
  return inferBroadcastType(
      loc, "select",
      {adaptor.getCondition(), adaptor.getTrueValue(), adaptor.getFalseValue()},
      tensorTypeOf(adaptor.getTrueValue()).getElementType(), results);
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

/// Checks a dim list against a rank and returns the reduced shape.
static LogicalResult inferReducedType(std::optional<Location> loc,
                                      StringRef opName, Value input,
                                      ArrayRef<int64_t> dims, bool keepdim,
                                      Type elementType,
                                      SmallVectorImpl<Type> &results) {
  RankedTensorType type = tensorTypeOf(input);
  int64_t rank = type.getRank();
  if (dims.empty())
    return inferError(loc, opName, "needs at least one dim to reduce");
  llvm::SmallSet<int64_t, 4> seen;
  for (int64_t dim : dims) {
    if (failed(checkDimInRange(loc, opName, type, dim)))
      return failure();
    if (!seen.insert(dim).second)
      return inferError(loc, opName, "dim " + Twine(dim) + " is repeated");
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (!seen.contains(i))
      shape.push_back(type.getDimSize(i));
    else if (keepdim)
      shape.push_back(1);
  }
  results.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

#define EMBER_REDUCE_INFER(OP, NAME)                                           \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> loc, \
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &results) {         \
    return inferReducedType(loc, NAME, adaptor.getInput(), adaptor.getDims(),  \
                            adaptor.getKeepdim(),                              \
                            tensorTypeOf(adaptor.getInput()).getElementType(), \
                            results);                                          \
  }

EMBER_REDUCE_INFER(SumOp, "sum")
EMBER_REDUCE_INFER(MeanOp, "mean")
EMBER_REDUCE_INFER(MaxOp, "max")
EMBER_REDUCE_INFER(MinOp, "min")
#undef EMBER_REDUCE_INFER

#define EMBER_ARG_REDUCE_INFER(OP, NAME)                                       \
  LogicalResult OP::inferReturnTypes(MLIRContext *context,                     \
                                     std::optional<Location> loc,              \
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &results) {         \
    int64_t dim = adaptor.getDim();                                            \
    return inferReducedType(loc, NAME, adaptor.getInput(), {dim},              \
                            adaptor.getKeepdim(),                              \
                            IntegerType::get(context, 64), results);           \
  }

EMBER_ARG_REDUCE_INFER(ArgmaxOp, "argmax")
EMBER_ARG_REDUCE_INFER(ArgminOp, "argmin")
#undef EMBER_ARG_REDUCE_INFER

//===----------------------------------------------------------------------===//
// MatmulOp
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  RankedTensorType lhs = tensorTypeOf(adaptor.getLhs());
  RankedTensorType rhs = tensorTypeOf(adaptor.getRhs());
  if (failed(checkSameElementType(loc, "matmul", adaptor.getLhs(),
                                  adaptor.getRhs())))
    return failure();
  if (lhs.getRank() < 2 || rhs.getRank() < 2)
    return inferError(loc, "matmul",
                      "operands must have rank >= 2, got " + typeText(lhs) +
                          " and " + typeText(rhs));
  int64_t lhsK = lhs.getShape().back();
  int64_t rhsK = rhs.getShape()[rhs.getRank() - 2];
  if (!ShapedType::isDynamic(lhsK) && !ShapedType::isDynamic(rhsK) &&
      lhsK != rhsK)
    return inferError(loc, "matmul",
                      "contracting dims differ (" + Twine(lhsK) + " vs " +
                          Twine(rhsK) + "): " + typeText(lhs) + " and " +
                          typeText(rhs));
  auto batch = broadcastShapes(lhs.getShape().drop_back(2),
                               rhs.getShape().drop_back(2));
  if (!batch)
    return inferError(loc, "matmul",
                      "batch dims do not broadcast: " + typeText(lhs) +
                          " and " + typeText(rhs));
  SmallVector<int64_t> shape = *batch;
  shape.push_back(lhs.getShape()[lhs.getRank() - 2]);
  shape.push_back(rhs.getShape().back());
  results.push_back(RankedTensorType::get(shape, lhs.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// ReshapeOp, BroadcastToOp
//===----------------------------------------------------------------------===//

/// Shared checks for ops whose dynamic result dims come from `index` operands.
static LogicalResult verifySizedResult(Operation *op, RankedTensorType input,
                                       RankedTensorType result,
                                       size_t numSizes) {
  if (input.getElementType() != result.getElementType())
    return op->emitOpError("changes the element type: ")
           << input << " -> " << result;
  if (numSizes != static_cast<size_t>(result.getNumDynamicDims()))
    return op->emitOpError("needs one size operand per dynamic result dim: ")
           << result << " has " << result.getNumDynamicDims() << ", got "
           << numSizes;
  return success();
}

LogicalResult ReshapeOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getType();
  if (failed(verifySizedResult(*this, input, result, getSizes().size())))
    return failure();
  if (input.hasStaticShape() && result.hasStaticShape() &&
      input.getNumElements() != result.getNumElements())
    return emitOpError("cannot reshape ")
           << input << " (" << input.getNumElements() << " elements) to "
           << result << " (" << result.getNumElements() << " elements)";
  if (std::optional<ArrayRef<int64_t>> groups = getGroups()) {
    if (groups->size() % 2 != 0)
      return emitOpError("groups must be (input dims, result dims) pairs");
    int64_t inputDim = 0, resultDim = 0;
    for (size_t i = 0; i < groups->size(); i += 2) {
      int64_t inputCount = (*groups)[i], resultCount = (*groups)[i + 1];
      if (inputCount < 1 || resultCount < 1)
        return emitOpError("each group needs an input dim and a result dim");
      if (inputDim + inputCount > input.getRank() ||
          resultDim + resultCount > result.getRank())
        return emitOpError("groups cover more dims than the types have");
      // Where both sides are static their element counts must agree.
      ArrayRef<int64_t> inputDims =
          input.getShape().slice(inputDim, inputCount);
      ArrayRef<int64_t> resultDims =
          result.getShape().slice(resultDim, resultCount);
      int64_t inputElements = ShapedType::getNumElements(inputDims);
      int64_t resultElements = ShapedType::getNumElements(resultDims);
      if (!ShapedType::isDynamicShape(inputDims) &&
          !ShapedType::isDynamicShape(resultDims) &&
          inputElements != resultElements)
        return emitOpError("group ") << i / 2 << " has " << inputElements
                                     << " input and " << resultElements
                                     << " result elements";
      inputDim += inputCount;
      resultDim += resultCount;
    }
    if (inputDim != input.getRank() || resultDim != result.getRank())
      return emitOpError("groups cover ")
             << inputDim << " input and " << resultDim
             << " result dims, the types have " << input.getRank() << " and "
             << result.getRank();
  }
  return success();
}

/// Whether every group of `groups` maps one dim to one dim.
static bool isOneToOne(std::optional<ArrayRef<int64_t>> groups) {
  return groups && llvm::all_of(*groups, [](int64_t n) { return n == 1; });
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType() && getType().hasStaticShape())
    return getInput();
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput()))
    if (getType().hasStaticShape())
      return dense.reshape(getType());
  // reshape(reshape(x)) == reshape(x): only row-major order matters.
  if (auto producer = getInput().getDefiningOp<ReshapeOp>()) {
    // This op's groups still describe the producer's input only when the
    // producer kept every dim as it was.
    if (!isOneToOne(producer.getGroups()))
      removeGroupsAttr();
    getInputMutable().assign(producer.getInput());
    return getResult();
  }
  return {};
}

LogicalResult BroadcastToOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getType();
  if (failed(verifySizedResult(*this, input, result, getSizes().size())))
    return failure();
  if (!isBroadcastableTo(input.getShape(), result.getShape()))
    return emitOpError("cannot broadcast ") << input << " to " << result;
  return success();
}

OpFoldResult BroadcastToOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType() && getType().hasStaticShape())
    return getInput();
  if (auto dense = dyn_cast_or_null<SplatElementsAttr>(adaptor.getInput()))
    if (getType().hasStaticShape())
      return SplatElementsAttr::get(getType(), dense.getSplatValue<Attribute>());
  return {};
}

//===----------------------------------------------------------------------===//
// TransposeOp
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  RankedTensorType input = tensorTypeOf(adaptor.getInput());
  ArrayRef<int64_t> perm = adaptor.getPermutation();
  int64_t rank = input.getRank();
  SmallVector<bool> used(rank, false);
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  for (int64_t p : perm) {
    if (!valid)
      break;
    valid = p >= 0 && p < rank && !used[p];
    if (valid)
      used[p] = true;
  }
  if (!valid) {
    std::string text;
    for (int64_t p : perm)
      text += (text.empty() ? "" : ", ") + std::to_string(p);
    return inferError(loc, "transpose",
                      "permutation [" + text + "] is not a permutation of the " +
                          Twine(rank) + " dims of " + typeText(input));
  }
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(input.getDimSize(p));
  results.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  for (auto [i, p] : llvm::enumerate(getPermutation()))
    if (static_cast<int64_t>(i) != p)
      return {};
  return getInput();
}

//===----------------------------------------------------------------------===//
// SliceOp, InsertSliceOp
//===----------------------------------------------------------------------===//

/// Checks slice attributes against `input` and returns the shape the slice
/// reads (dynamic where the input dim is dynamic).
static LogicalResult inferSliceShape(std::optional<Location> loc,
                                     StringRef opName, RankedTensorType input,
                                     ArrayRef<int64_t> start,
                                     ArrayRef<int64_t> stop,
                                     ArrayRef<int64_t> step,
                                     SmallVectorImpl<int64_t> &shape) {
  int64_t rank = input.getRank();
  if (static_cast<int64_t>(start.size()) != rank ||
      static_cast<int64_t>(stop.size()) != rank ||
      static_cast<int64_t>(step.size()) != rank)
    return inferError(loc, opName,
                      "needs start, stop and step for each of the " +
                          Twine(rank) + " dims of " + typeText(input));
  for (int64_t i = 0; i < rank; ++i) {
    if (step[i] <= 0)
      return inferError(loc, opName,
                        "step must be positive, got " + Twine(step[i]) +
                            " for dim " + Twine(i));
    int64_t size = input.getDimSize(i);
    bool runtimeBounds =
        ShapedType::isDynamic(start[i]) || ShapedType::isDynamic(stop[i]);
    shape.push_back(ShapedType::isDynamic(size) || runtimeBounds
                        ? ShapedType::kDynamic
                        : computeSliceExtent(size, start[i], stop[i], step[i])
                              .count);
  }
  return success();
}

/// Run-time starts and stops: one operand per kDynamic entry.
static LogicalResult verifyRuntimeBounds(Operation *op, ArrayRef<int64_t> start,
                                         ArrayRef<int64_t> stop,
                                         ValueRange dynamicStart,
                                         ValueRange dynamicStop) {
  if (failed(verifyListOfOperandsOrIntegers(op, "start", start.size(), start,
                                            dynamicStart)) ||
      failed(verifyListOfOperandsOrIntegers(op, "stop", stop.size(), stop,
                                            dynamicStop)))
    return failure();
  return success();
}

LogicalResult SliceOp::verify() {
  return verifyRuntimeBounds(*this, getStart(), getStop(), getDynamicStart(),
                             getDynamicStop());
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &results) {
  RankedTensorType input = tensorTypeOf(adaptor.getInput());
  SmallVector<int64_t> shape;
  if (failed(inferSliceShape(loc, "slice", input, adaptor.getStart(),
                             adaptor.getStop(), adaptor.getStep(), shape)))
    return failure();
  results.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

OpFoldResult SliceOp::fold(FoldAdaptor) {
  RankedTensorType input = getInput().getType();
  if (!input.hasStaticShape() || !getDynamicStart().empty() ||
      !getDynamicStop().empty())
    return {};
  for (int64_t i = 0; i < input.getRank(); ++i) {
    SliceExtent extent = computeSliceExtent(input.getDimSize(i), getStart()[i],
                                            getStop()[i], getStep()[i]);
    if (extent.offset != 0 || extent.count != input.getDimSize(i))
      return {};
  }
  return getInput();
}

LogicalResult InsertSliceOp::verify() {
  RankedTensorType source = getSource().getType();
  RankedTensorType dest = getDest().getType();
  if (source.getRank() != dest.getRank())
    return emitOpError("source and dest ranks differ: ")
           << source << " into " << dest;
  if (failed(verifyRuntimeBounds(*this, getStart(), getStop(), getDynamicStart(),
                                 getDynamicStop())))
    return failure();
  SmallVector<int64_t> window;
  if (failed(inferSliceShape(getLoc(), "insert_slice", dest, getStart(),
                             getStop(), getStep(), window)))
    return failure();
  // A dynamic extent or source dim cannot be checked here; the tracer builds
  // the op from concrete shapes, so they agree at run time.
  for (auto [i, extent] : llvm::enumerate(window)) {
    int64_t size = source.getDimSize(i);
    if (!ShapedType::isDynamic(extent) && !ShapedType::isDynamic(size) &&
        extent != size)
      return emitOpError("source dim ")
             << i << " has size " << size << " but the slice of " << dest
             << " selects " << extent << " elements";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// GatherOp
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  RankedTensorType input = tensorTypeOf(adaptor.getInput());
  RankedTensorType indices = tensorTypeOf(adaptor.getIndices());
  int64_t dim = adaptor.getDim();
  if (failed(checkDimInRange(loc, "gather", input, dim)))
    return failure();
  results.push_back(RankedTensorType::get(
      gatherShape(input.getShape(), indices.getShape(), dim),
      input.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// ScatterAddOp
//===----------------------------------------------------------------------===//

LogicalResult ScatterAddOp::verify() {
  RankedTensorType dest = getDest().getType();
  RankedTensorType indices = getIndices().getType();
  RankedTensorType updates = getUpdates().getType();
  int64_t dim = getDim();
  if (failed(checkDimInRange(getLoc(), "scatter_add", dest, dim)))
    return failure();
  // `updates` is what a gather of `dest` by `indices` would return.
  SmallVector<int64_t> expected =
      gatherShape(dest.getShape(), indices.getShape(), dim);
  if (static_cast<int64_t>(expected.size()) != updates.getRank())
    return emitOpError("updates ")
           << updates << " must have rank " << expected.size()
           << " (the gather shape of " << dest << " by " << indices << ")";
  for (auto [i, size] : llvm::enumerate(expected)) {
    int64_t actual = updates.getDimSize(i);
    if (!ShapedType::isDynamic(size) && !ShapedType::isDynamic(actual) &&
        size != actual)
      return emitOpError("updates ")
             << updates << " do not have the gather shape "
             << formatShape(expected) << " of " << dest << " by " << indices;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ConcatOp
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  ValueRange inputs = adaptor.getInputs();
  if (inputs.empty())
    return inferError(loc, "concat", "needs at least one input");
  RankedTensorType first = tensorTypeOf(inputs.front());
  int64_t rank = first.getRank();
  int64_t dim = adaptor.getDim();
  if (failed(checkDimInRange(loc, "concat", first, dim)))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  for (Value value : inputs.drop_front()) {
    RankedTensorType type = tensorTypeOf(value);
    if (type.getRank() != rank || type.getElementType() != first.getElementType())
      return inferError(loc, "concat",
                        "inputs differ in rank or element type: " +
                            typeText(first) + " and " + typeText(type));
    for (int64_t i = 0; i < rank; ++i) {
      int64_t a = shape[i], b = type.getDimSize(i);
      if (i == dim) {
        shape[i] = ShapedType::isDynamic(a) || ShapedType::isDynamic(b)
                       ? ShapedType::kDynamic
                       : a + b;
      } else if (ShapedType::isDynamic(a)) {
        shape[i] = b;
      } else if (!ShapedType::isDynamic(b) && a != b) {
        return inferError(loc, "concat",
                          "inputs differ in dim " + Twine(i) + ": " +
                              typeText(first) + " and " + typeText(type));
      }
    }
  }
  results.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 && getInputs().front().getType() == getType())
    return getInputs().front();
  return {};
}

//===----------------------------------------------------------------------===//
// SoftmaxOp, LogSoftmaxOp
//===----------------------------------------------------------------------===//

static LogicalResult verifySoftmaxDim(Operation *op, RankedTensorType type,
                                      int64_t dim) {
  if (dim < 0 || dim >= type.getRank())
    return op->emitOpError("dim ")
           << dim << " is out of range for " << type << " (rank "
           << type.getRank() << ")";
  return success();
}

LogicalResult SoftmaxOp::verify() {
  return verifySoftmaxDim(*this, getType(), getDim());
}

LogicalResult LogSoftmaxOp::verify() {
  return verifySoftmaxDim(*this, getType(), getDim());
}

//===----------------------------------------------------------------------===//
// LayerNormOp, RmsNormOp
//===----------------------------------------------------------------------===//

/// `weight` and `bias`, where given, are 1-D rows of the input's element
/// type and its innermost size.
static LogicalResult verifyNormAffine(Operation *op, RankedTensorType type,
                                      Value weight, Value bias) {
  if (type.getRank() == 0)
    return op->emitOpError("normalizes the innermost dim; got a 0-d tensor");
  int64_t n = type.getDimSize(type.getRank() - 1);
  for (auto [name, operand] : {std::pair<const char *, Value>{"weight", weight},
                               {"bias", bias}}) {
    if (!operand)
      continue;
    auto operandType = cast<RankedTensorType>(operand.getType());
    if (operandType.getRank() != 1 ||
        operandType.getElementType() != type.getElementType())
      return op->emitOpError(name)
             << " must be a 1-D tensor of " << type.getElementType()
             << "; got " << operandType;
    int64_t size = operandType.getDimSize(0);
    if (!ShapedType::isDynamic(size) && !ShapedType::isDynamic(n) && size != n)
      return op->emitOpError(name) << " has " << size
                                   << " elements; the rows have " << n;
  }
  return success();
}

LogicalResult LayerNormOp::verify() {
  return verifyNormAffine(*this, getType(), getWeight(), getBias());
}

LogicalResult RmsNormOp::verify() {
  return verifyNormAffine(*this, getType(), getWeight(), getBias());
}

LogicalResult SoftmaxBackwardOp::verify() {
  return verifySoftmaxDim(*this, getType(), getDim());
}

LogicalResult LogSoftmaxBackwardOp::verify() {
  return verifySoftmaxDim(*this, getType(), getDim());
}

LogicalResult LayerNormBackwardOp::verify() {
  return verifyNormAffine(*this, getType(), getWeight(), Value());
}

LogicalResult RmsNormBackwardOp::verify() {
  return verifyNormAffine(*this, getType(), getWeight(), Value());
}

/// (N, C) logits, (N,) targets and an (N,) per-row `rows` tensor (the loss,
/// or the backward's cotangent) of the logits' element type.
static LogicalResult verifyCrossEntropyRows(Operation *op, Value logits,
                                            Value target, Value rows) {
  auto logitsType = cast<RankedTensorType>(logits.getType());
  auto targetType = cast<RankedTensorType>(target.getType());
  auto rowsType = cast<RankedTensorType>(rows.getType());
  if (logitsType.getRank() != 2 || targetType.getRank() != 1 ||
      rowsType.getRank() != 1)
    return op->emitOpError("takes (N, C) logits, (N,) targets and (N,) rows; "
                           "got ")
           << logitsType << ", " << targetType << " and " << rowsType;
  if (rowsType.getElementType() != logitsType.getElementType())
    return op->emitOpError("per-row values must have the logits' element "
                           "type; got ")
           << rowsType.getElementType();
  int64_t n = logitsType.getDimSize(0);
  for (int64_t size : {targetType.getDimSize(0), rowsType.getDimSize(0)})
    if (!ShapedType::isDynamic(size) && !ShapedType::isDynamic(n) && size != n)
      return op->emitOpError("has ") << n << " rows of logits but " << size
                                     << " targets or per-row values";
  return success();
}

LogicalResult CrossEntropyRowsOp::verify() {
  return verifyCrossEntropyRows(*this, getLogits(), getTarget(), getResult());
}

LogicalResult CrossEntropyRowsBackwardOp::verify() {
  return verifyCrossEntropyRows(*this, getLogits(), getTarget(), getGrad());
}

#define GET_OP_CLASSES
#include "ember/Dialect/EmberOps.cpp.inc"
