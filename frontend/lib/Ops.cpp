//===- Ops.cpp - tracing element-wise, reduction and linear algebra ops ----===//
//
// Each function checks shapes and dtypes the way torch does (so that errors
// surface at the call), applies torch's type promotion with explicit casts,
// and records one node.
//
//===----------------------------------------------------------------------===//

#include "ember/Frontend/Tensor.h"

#include "ember/Dialect/Recurrent.h"
#include "ember/Dialect/Shapes.h"
#include "ember/Runtime/ElementType.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ember {

//===----------------------------------------------------------------------===//
// Type promotion and operands
//===----------------------------------------------------------------------===//

namespace {
/// torch's three priority groups: tensors with dims, 0-d tensors, numbers.
struct PromotionState {
  std::optional<DType> dimResult, zeroResult, wrappedResult;

  static void update(std::optional<DType> &slot, DType dtype) {
    slot = slot ? promoteTypes(*slot, dtype) : dtype;
  }
  void add(const Operand &o) {
    if (!o.tensor)
      update(wrappedResult, o.scalar.wrappedDType());
    else if (o.tensor->dim() == 0)
      update(zeroResult, o.tensor->dtype());
    else
      update(dimResult, o.tensor->dtype());
  }
  /// A lower-priority group only matters when it is of a higher category.
  static std::optional<DType> combine(std::optional<DType> higher,
                                      std::optional<DType> lower) {
    if (!higher)
      return lower;
    if (!lower || isFloating(*higher))
      return higher;
    if (*higher == DType::Bool || isFloating(*lower))
      return promoteTypes(*higher, *lower);
    return higher;
  }
  DType result() const {
    return *combine(dimResult, combine(zeroResult, wrappedResult));
  }
};

llvm::ArrayRef<int64_t> shapeOf(const Operand &o) {
  if (o.tensor)
    return o.tensor->shape();
  return {};
}

NodeRef castNode(const NodeRef &node, DType dtype) {
  if (node->dtype == dtype)
    return node;
  return makeNode(OpCode::Cast, dtype, node->shape, {node});
}

NodeRef constantNode(Scalar value, DType dtype) {
  NodeRef node = makeNode(OpCode::Constant, dtype, {});
  if (isFloating(dtype)) {
    node->f = value.kind == Scalar::Kind::Float ? value.f : double(value.i);
  } else if (dtype == DType::Bool) {
    node->i = value.kind == Scalar::Kind::Float ? value.f != 0 : value.i != 0;
  } else {
    node->i = value.kind == Scalar::Kind::Float ? int64_t(value.f) : value.i;
  }
  return node;
}

/// Marks a scalar constant as part of the program rather than a run-time
/// value (see isRuntimeScalar).
void keepInProgram(const NodeRef &node) {
  if (node->op == OpCode::Constant)
    node->flag = true;
}

NodeRef operandNode(const Operand &o, DType dtype) {
  if (o.tensor)
    return castNode(o.tensor->value(), dtype);
  return constantNode(o.scalar, dtype);
}

/// The broadcast shape of two operands: the rule the op verifiers use
/// (Shapes.h), with torch's message when the shapes disagree.
Shape broadcast(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b) {
  std::optional<llvm::SmallVector<int64_t>> result = broadcastShapes(a, b);
  if (result)
    return Shape(result->begin(), result->end());
  // Name the first dim (from the right, as torch counts) that disagrees.
  size_t rank = std::max(a.size(), b.size());
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      runtimeError("The size of tensor a (" + std::to_string(x) +
                   ") must match the size of tensor b (" + std::to_string(y) +
                   ") at non-singleton dimension " + std::to_string(i) +
                   " (shapes " + shapeString(a) + " and " + shapeString(b) +
                   ")");
  }
  llvm_unreachable("broadcastShapes failed on agreeing shapes");
}

[[noreturn]] void notForDtype(const char *kernel, DType dtype) {
  runtimeError(std::string("\"") + kernel + "\" not implemented for '" +
               elementTypeTorchName(dtype) + "'");
}
} // namespace

DType resultType(const Operand &a, const Operand &b) {
  PromotionState state;
  state.add(a);
  state.add(b);
  return state.result();
}

Tensor cast(const Tensor &x, DType dtype) {
  if (x.dtype() == dtype)
    return x;
  return fromNode(castNode(x.value(), dtype));
}

//===----------------------------------------------------------------------===//
// Element-wise
//===----------------------------------------------------------------------===//

namespace {
/// The operand types an element-wise op accepts, from its ODS definition.
enum class OperandTypes { Float, Numeric, IntegerOrBool, Any };

OperandTypes operandTypes(OpCode op) {
  switch (op) {
#define EMBER_UNARY_OP(Name, Mnemonic, Types, TorchNames)                      \
  case OpCode::Name:                                                           \
    return OperandTypes::Types;
#define EMBER_BINARY_OP(Name, Mnemonic, Types, TorchNames)                     \
  case OpCode::Name:                                                           \
    return OperandTypes::Types;
#include "ember/Dialect/EmberVocabulary.inc"
  default:
    return OperandTypes::Any;
  }
}

bool isRounding(OpCode op) {
  return op == OpCode::Floor || op == OpCode::Ceil || op == OpCode::Round ||
         op == OpCode::Trunc;
}
} // namespace

Tensor unary(OpCode op, const Tensor &x) {
  DType dtype = x.dtype();
  // torch's messages where it has a specific one.
  if (op == OpCode::Neg && dtype == DType::Bool)
    runtimeError("Negation, the `-` operator, on a bool tensor is not "
                 "supported. If you are trying to invert a mask, use the `~` "
                 "or `logical_not()` operator instead.");
  if (op == OpCode::Gelu && !isFloating(dtype))
    notForDtype("GeluKernelImpl", dtype);
  // Rounding an integer tensor gives it back, as torch does (a new tensor).
  if (isRounding(op) && !isFloating(dtype)) {
    if (dtype == DType::Bool)
      notForDtype((std::string(opName(op)) + "_cpu").c_str(), dtype);
    return clone(x);
  }
  // sign of a bool is itself.
  if (op == OpCode::Sign && dtype == DType::Bool)
    return clone(x);
  switch (operandTypes(op)) {
  case OperandTypes::Float:
    // exp, log, sin, ...: integers compute in the default float dtype.
    if (!isFloating(dtype))
      dtype = defaultFloat();
    break;
  case OperandTypes::Numeric:
    if (dtype == DType::Bool)
      notForDtype((std::string(op == OpCode::Relu ? "clamp_min" : opName(op)) +
                   "_cpu").c_str(),
                  dtype);
    break;
  case OperandTypes::IntegerOrBool:
    if (isFloating(dtype))
      typeError(std::string(op == OpCode::Not ? "~ (bitwise_not)" : opName(op)) +
                " is only supported for integer and bool tensors, not " +
                elementTypeName(dtype));
    break;
  case OperandTypes::Any:
    break;
  }
  NodeRef input = castNode(x.value(), dtype);
  return fromNode(makeNode(op, dtype, x.shape(), {input}));
}

/// x ** k for a small non-negative integer k by repeated squaring.
static NodeRef integerPower(const NodeRef &x, int64_t k, DType dtype,
                            llvm::ArrayRef<int64_t> shape) {
  NodeRef result;
  NodeRef base = x;
  while (k > 0) {
    if (k & 1)
      result = result ? makeNode(OpCode::Mul, dtype, shape, {result, base})
                      : base;
    k >>= 1;
    if (k)
      base = makeNode(OpCode::Mul, dtype, base->shape, {base, base});
  }
  if (!result) // x ** 0
    result = makeNode(OpCode::BroadcastTo, dtype, shape,
                      {constantNode(Scalar::fromInt(1), dtype)});
  return result;
}

/// The dtype an operand has on its own (a number's wrapped dtype).
static DType operandDType(const Operand &o) {
  return o.tensor ? o.tensor->dtype() : o.scalar.wrappedDType();
}

/// Integer `a ** b` where the exponent is a tensor, exact with the
/// wrap-around torch's integer pow has (float64 pow is wrong past 2^53). A
/// negative exponent gives 1 for a base of 1, +-1 for -1 and 0 otherwise, as
/// in torch. Computed on the host: square-and-multiply as a traced chain
/// compiles into a body that repeats each square per use.
static Tensor integerTensorPower(const Operand &a, const Operand &b,
                                 DType dtype) {
  Shape shape = broadcast(shapeOf(a), shapeOf(b));
  auto hostValues = [&](const Operand &o) {
    Tensor t = o.tensor ? *o.tensor : full({}, o.scalar, DType::Int64);
    Tensor dense = contiguous(
        expand(cast(toDevice(t, Backend::Cpu), DType::Int64), shape));
    const int64_t *data = static_cast<const int64_t *>(dense.data());
    return std::vector<int64_t>(data, data + dense.numel());
  };
  std::vector<int64_t> base = hostValues(a), exponent = hostValues(b);
  std::vector<int64_t> result(base.size());
  for (size_t i = 0; i < base.size(); ++i) {
    int64_t e = exponent[i];
    uint64_t x = uint64_t(base[i]);
    if (dtype == DType::Int32)
      x = uint64_t(int64_t(int32_t(uint32_t(x))));
    if (e < 0) {
      int64_t v = int64_t(x);
      result[i] = v == 1 ? 1 : v == -1 ? ((e & 1) ? -1 : 1) : 0;
      continue;
    }
    uint64_t power = 1;
    for (; e; e >>= 1, x *= x)
      if (e & 1)
        power *= x;
    result[i] = dtype == DType::Int32 ? int64_t(int32_t(uint32_t(power)))
                                      : int64_t(power);
  }
  Tensor values = cast(fromData(result.data(), shape, DType::Int64), dtype);
  Backend device = b.tensor ? deviceOf(*b.tensor) : deviceOf(*a.tensor);
  return toDevice(values, device);
}

/// Whether a divisor has a zero (a tensor's values are computed and read).
static bool hasZero(const Operand &divisor) {
  if (!divisor.tensor)
    return divisor.scalar.kind == Scalar::Kind::Float ? divisor.scalar.f == 0
                                                      : divisor.scalar.i == 0;
  if (divisor.tensor->numel() == 0)
    return false;
  Tensor dense = contiguous(
      cast(toDevice(*divisor.tensor, Backend::Cpu), DType::Int64));
  const int64_t *data = static_cast<const int64_t *>(dense.data());
  return std::find(data, data + dense.numel(), 0) != data + dense.numel();
}

Tensor binary(OpCode op, const Operand &a, const Operand &b) {
  DType dtype = resultType(a, b);
  Shape shape = broadcast(shapeOf(a), shapeOf(b));
  // torch's integer remainder and fmod raise on a zero divisor (the
  // compiled code would trap or give garbage).
  if ((op == OpCode::Remainder || op == OpCode::Fmod) && !isFloating(dtype) &&
      dtype != DType::Bool && shapeNumel(shape) != 0 && hasZero(b))
    runtimeError("ZeroDivisionError");
  switch (op) {
  case OpCode::Div:
    if (!isFloating(dtype))
      dtype = defaultFloat();
    break;
  case OpCode::Sub: {
    // torch refuses a bool on either side, whatever the result type.
    bool lhsBool = operandDType(a) == DType::Bool;
    bool rhsBool = operandDType(b) == DType::Bool;
    if (lhsBool && rhsBool)
      runtimeError("Subtraction, the `-` operator, with two bool tensors is "
                   "not supported. Use the `^` or `logical_xor()` operator "
                   "instead.");
    if (lhsBool || rhsBool)
      runtimeError("Subtraction, the `-` operator, with a bool tensor is not "
                   "supported. If you are trying to invert a mask, use the `~` "
                   "or `logical_not()` operator instead.");
    break;
  }
  case OpCode::Add:
  case OpCode::Maximum:
    if (dtype == DType::Bool)
      op = OpCode::Or; // logical or, as torch computes it
    break;
  case OpCode::Mul:
  case OpCode::Minimum:
    if (dtype == DType::Bool)
      op = OpCode::And;
    break;
  case OpCode::And:
  case OpCode::Or:
  case OpCode::Xor:
    if (isFloating(dtype))
      notForDtype(op == OpCode::And  ? "bitwise_and_cpu"
                  : op == OpCode::Or ? "bitwise_or_cpu"
                                     : "bitwise_xor_cpu",
                  dtype);
    break;
  case OpCode::Pow: {
    if (dtype == DType::Bool)
      notForDtype("pow", dtype);
    // Small integer exponents are exact products (and the only pow for
    // integer tensors); the rest is the float pow.
    bool integerExponent =
        !b.tensor && (b.scalar.kind != Scalar::Kind::Float ||
                      (b.scalar.f == double(int64_t(b.scalar.f)) &&
                       std::abs(b.scalar.f) < 64));
    if (a.tensor && integerExponent && b.scalar.i >= 0 &&
        (isFloating(dtype) ? b.scalar.i <= 4 : true)) {
      NodeRef base = operandNode(a, dtype);
      return fromNode(integerPower(base, b.scalar.i, dtype, shape));
    }
    if (!isFloating(dtype) && !b.tensor && b.scalar.i < 0)
      runtimeError("Integers to negative integer powers are not allowed.");
    if (!isFloating(dtype))
      return integerTensorPower(a, b, dtype);
    break;
  }
  default:
    // The rule of the op's operand types (ODS).
    if (operandTypes(op) == OperandTypes::Float && !isFloating(dtype))
      dtype = defaultFloat();
    else if (operandTypes(op) == OperandTypes::Numeric && dtype == DType::Bool)
      notForDtype((std::string(opName(op)) + "_cpu").c_str(), dtype);
    else if (operandTypes(op) == OperandTypes::IntegerOrBool &&
             (isFloating(dtype) ||
              ((op == OpCode::ShiftLeft || op == OpCode::ShiftRight) &&
               dtype == DType::Bool)))
      notForDtype(op == OpCode::ShiftLeft    ? "lshift_cpu"
                  : op == OpCode::ShiftRight ? "rshift_cpu"
                                             : opName(op),
                  dtype);
    break;
  }
  NodeRef lhs = operandNode(a, dtype), rhs = operandNode(b, dtype);
  if (op == OpCode::Pow)
    keepInProgram(rhs); // the exponent chooses the code (and its sign rules)
  return fromNode(makeNode(op, dtype, shape, {lhs, rhs}));
}

Tensor compare(Comparison predicate, const Operand &a, const Operand &b) {
  DType dtype = resultType(a, b);
  Shape shape = broadcast(shapeOf(a), shapeOf(b));
  NodeRef lhs = operandNode(a, dtype), rhs = operandNode(b, dtype);
  NodeRef node = makeNode(OpCode::Compare, DType::Bool, shape, {lhs, rhs});
  node->ints.push_back(static_cast<int64_t>(predicate));
  return fromNode(node);
}

Tensor where(const Tensor &condition, const Operand &a, const Operand &b) {
  if (condition.dtype() != DType::Bool)
    runtimeError(std::string("where expected condition to be a boolean tensor, "
                             "but got a tensor with dtype ") +
                 elementTypeTorchName(condition.dtype()));
  DType dtype = resultType(a, b);
  Shape shape = broadcast(broadcast(condition.shape(), shapeOf(a)), shapeOf(b));
  NodeRef node = makeNode(OpCode::Select, dtype, shape,
                          {condition.value(), operandNode(a, dtype),
                           operandNode(b, dtype)});
  return fromNode(node);
}

Tensor clamp(const Tensor &x, std::optional<Scalar> min,
             std::optional<Scalar> max) {
  if (!min && !max)
    runtimeError("torch.clamp: At least one of 'min' or 'max' must not be None");
  PromotionState state;
  state.add(x);
  if (min)
    state.add(*min);
  if (max)
    state.add(*max);
  DType dtype = state.result();
  if (dtype == DType::Bool)
    notForDtype("clamp_scalar_cpu", dtype);
  NodeRef node = castNode(x.value(), dtype);
  // max(x, lo) then min(., hi): torch's order, so hi wins when lo > hi.
  if (min)
    node = makeNode(OpCode::Maximum, dtype, x.shape(),
                    {node, constantNode(*min, dtype)});
  if (max)
    node = makeNode(OpCode::Minimum, dtype, x.shape(),
                    {node, constantNode(*max, dtype)});
  return fromNode(node);
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

static const char *reductionName(OpCode op) {
  switch (op) {
  case OpCode::Sum:
    return "sum";
  case OpCode::Mean:
    return "mean";
  case OpCode::Max:
  case OpCode::Argmax:
    return op == OpCode::Max ? "max" : "argmax";
  case OpCode::Min:
    return "min";
  case OpCode::Argmin:
    return "argmin";
  default:
    return opName(op);
  }
}

Tensor reduce(OpCode op, const Tensor &x, llvm::ArrayRef<int64_t> dims,
              bool keepdim) {
  int64_t rank = x.dim();
  llvm::SmallVector<int64_t, 4> axes;
  std::vector<bool> reduced(rank, false);
  for (int64_t d : dims) {
    int64_t axis = wrapDim(d, rank);
    if (rank == 0)
      continue;
    if (reduced[axis])
      runtimeError("dim " + std::to_string(axis) +
                   " appears multiple times in the list of dims");
    reduced[axis] = true;
  }
  if (dims.empty())
    std::fill(reduced.begin(), reduced.end(), true);
  for (int64_t d = 0; d < rank; ++d)
    if (reduced[d])
      axes.push_back(d);

  DType dtype = x.dtype();
  DType computeType = dtype;
  switch (op) {
  case OpCode::Sum:
    if (!isFloating(dtype))
      computeType = dtype = DType::Int64;
    break;
  case OpCode::Mean:
    if (!isFloating(dtype))
      runtimeError(std::string("mean(): could not infer output dtype. Input "
                               "dtype must be either a floating point or "
                               "complex dtype. Got: ") +
                   elementTypeTorchName(dtype));
    break;
  default: // max, min
    if (dtype == DType::Bool)
      computeType = DType::Int32;
    for (int64_t axis : axes)
      if (x.shape()[axis] == 0) {
        if (dims.empty())
          runtimeError(std::string(reductionName(op)) +
                       "(): Expected reduction dim to be specified for "
                       "input.numel() == 0. Specify the reduction dim with "
                       "the 'dim' argument.");
        indexError(std::string(reductionName(op)) +
                   "(): Expected reduction dim " + std::to_string(axis) +
                   " to have non-zero size.");
      }
    break;
  }

  NodeRef input = castNode(x.value(), computeType);
  if (axes.empty()) // a 0-d tensor reduces to itself
    return fromNode(castNode(input, dtype));
  Shape shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[d])
      shape.push_back(x.shape()[d]);
    else if (keepdim)
      shape.push_back(1);
  }
  NodeRef node = makeNode(op, computeType, shape, {input});
  node->ints.assign(axes.begin(), axes.end());
  node->flag = keepdim;
  return fromNode(castNode(node, dtype));
}

Tensor argReduce(OpCode op, const Tensor &x, std::optional<int64_t> dim,
                 bool keepdim) {
  if (!dim) {
    if (x.numel() == 0)
      runtimeError(std::string(reductionName(op)) +
                   "(): Expected reduction dim to be specified for "
                   "input.numel() == 0.");
    Tensor flat = reshape(x, {x.numel()});
    Tensor index = argReduce(op, flat, 0, false);
    if (!keepdim)
      return index;
    return reshape(index, Shape(x.dim(), 1));
  }
  int64_t rank = x.dim();
  int64_t axis = wrapDim(*dim, rank);
  if (rank == 0)
    return full({}, Scalar::fromInt(0), DType::Int64);
  if (x.shape()[axis] == 0)
    indexError(std::string(reductionName(op)) + "(): Expected reduction dim " +
               std::to_string(axis) + " to have non-zero size.");
  DType computeType = x.dtype() == DType::Bool ? DType::Int32 : x.dtype();
  Shape shape = x.shape();
  if (keepdim)
    shape[axis] = 1;
  else
    shape.erase(shape.begin() + axis);
  NodeRef node = makeNode(op, DType::Int64, shape,
                          {castNode(x.value(), computeType)});
  node->ints.push_back(axis);
  node->flag = keepdim;
  return fromNode(node);
}

Tensor softmax(OpCode op, const Tensor &x, int64_t dim) {
  int64_t axis = wrapDim(dim, x.dim());
  if (!isFloating(x.dtype()))
    notForDtype(op == OpCode::Softmax ? "softmax_lastdim_kernel_impl"
                                      : "log_softmax_lastdim_kernel_impl",
                x.dtype());
  if (x.dim() == 0)
    return reshape(softmax(op, reshape(x, {1}), 0), {});
  NodeRef node = makeNode(op, x.dtype(), x.shape(), {x.value()});
  node->ints.push_back(axis);
  return fromNode(node);
}

Tensor normalizeRows(OpCode op, const Tensor &x, const Tensor *weight,
                     const Tensor *bias, double eps) {
  const char *name = op == OpCode::LayerNorm ? "layer_norm" : "rms_norm";
  if (!isFloating(x.dtype()))
    notForDtype(name, x.dtype());
  if (x.dim() == 0)
    runtimeError(std::string(name) + ": the input must have at least one dim");
  int64_t n = x.shape().back();
  std::vector<NodeRef> inputs = {x.value()};
  for (const Tensor *operand : {weight, bias}) {
    if (!operand)
      continue;
    if (operand->dtype() != x.dtype())
      runtimeError(std::string("expected scalar type ") +
                   elementTypeTorchName(x.dtype()) + " but found " +
                   elementTypeTorchName(operand->dtype()) + " (" + name +
                   " of " + elementTypeName(x.dtype()) + " " +
                   shapeString(x.shape()) + ")");
    if (operand->dim() != 1 || operand->shape()[0] != n)
      runtimeError(std::string(name) + ": weight and bias must have shape [" +
                   std::to_string(n) + "], got " +
                   shapeString(operand->shape()));
    inputs.push_back(operand->value());
  }
  NodeRef node = makeNode(op, x.dtype(), x.shape(), inputs);
  // eps is compiled into the program: its bits are part of the cache key.
  int64_t epsBits;
  static_assert(sizeof(epsBits) == sizeof(eps));
  memcpy(&epsBits, &eps, sizeof(eps));
  node->ints = {epsBits, weight != nullptr, bias != nullptr};
  return fromNode(node);
}

Tensor crossEntropyRows(const Tensor &logits, const Tensor &target,
                        int64_t ignoreIndex) {
  if (!isFloating(logits.dtype()))
    notForDtype("cross_entropy_rows", logits.dtype());
  if (target.dtype() != DType::Int64)
    runtimeError(std::string("expected scalar type Long but found ") +
                 elementTypeTorchName(target.dtype()));
  if (logits.dim() != 2 || target.dim() != 1 ||
      target.shape()[0] != logits.shape()[0])
    runtimeError("cross_entropy_rows: expected (N, C) logits and (N,) "
                 "targets, got " +
                 shapeString(logits.shape()) + " and " +
                 shapeString(target.shape()));
  NodeRef node = makeNode(OpCode::CrossEntropyRows, logits.dtype(),
                          {logits.shape()[0]}, {logits.value(), target.value()});
  node->ints = {ignoreIndex};
  return fromNode(node);
}

Tensor recurrentSequence(int64_t cell, const Tensor &input, const Tensor &h0,
                         const Tensor *c0, const Tensor &weightHh,
                         const Tensor *biasHh, const Tensor *weightHr,
                         const Tensor *mask) {
  const char *name = "recurrent_sequence";
  if (!isValidRecurrentCell(cell))
    runtimeError("recurrent_sequence: unknown cell " + std::to_string(cell));
  auto kind = static_cast<RecurrentCell>(cell);
  DType dtype = input.dtype();
  if (dtype != DType::Float32 && dtype != DType::Float64)
    notForDtype(name, dtype);
  RecurrentLayout layout{kind, weightHr != nullptr};
  int64_t gates = layout.gates();
  auto fail = [&](const std::string &what) {
    runtimeError(std::string(name) + ": " + what);
  };
  if (input.dim() != 3 || h0.dim() != 2 || weightHh.dim() != 2)
    fail("expected input [T, B, G*H], h0 [B, P] and weight_hh [G*H, P], got " +
         shapeString(input.shape()) + ", " + shapeString(h0.shape()) +
         " and " + shapeString(weightHh.shape()));
  int64_t steps = input.shape()[0], batch = input.shape()[1];
  int64_t gh = weightHh.shape()[0], p = weightHh.shape()[1];
  if (steps == 0)
    fail("the sequence is empty");
  if (gh % gates != 0 || input.shape()[2] != gh || h0.shape()[0] != batch ||
      h0.shape()[1] != p)
    fail("shapes do not agree: input " + shapeString(input.shape()) +
         ", h0 " + shapeString(h0.shape()) + ", weight_hh " +
         shapeString(weightHh.shape()));
  int64_t h = gh / gates;
  if ((kind == RecurrentCell::Lstm) != (c0 != nullptr))
    fail("c0 is given exactly for an LSTM");
  if (weightHr && kind != RecurrentCell::Lstm)
    fail("weight_hr is for an LSTM only");
  if (!weightHr && p != h)
    fail("weight_hh must be [G*H, H] without a projection");
  auto expect = [&](const Tensor *t, const char *what, Shape shape) {
    if (!t)
      return;
    if (t->dtype() != dtype)
      runtimeError(std::string("expected scalar type ") +
                   elementTypeTorchName(dtype) + " but found " +
                   elementTypeTorchName(t->dtype()) + " (" + name + " " +
                   what + ")");
    if (t->shape() != shape)
      fail(std::string(what) + " must have shape " + shapeString(shape) +
           ", got " + shapeString(t->shape()));
  };
  expect(&h0, "h0", {batch, p});
  expect(&weightHh, "weight_hh", {gh, p});
  expect(c0, "c0", {batch, h});
  expect(biasHh, "bias_hh", {gh});
  expect(weightHr, "weight_hr", {p, h});
  expect(mask, "mask", {steps, batch});
  std::vector<NodeRef> inputs = {input.value(), h0.value()};
  if (c0)
    inputs.push_back(c0->value());
  inputs.push_back(weightHh.value());
  for (const Tensor *t : {biasHh, weightHr, mask})
    if (t)
      inputs.push_back(t->value());
  int64_t width = p + layout.widthH() * h;
  NodeRef node =
      makeNode(OpCode::RecurrentSequence, dtype, {steps + 1, batch, width},
               inputs);
  node->ints = {cell, c0 != nullptr, biasHh != nullptr, weightHr != nullptr,
                mask != nullptr};
  return fromNode(node);
}

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

static void checkMatmulOperands(const Tensor &a, const Tensor &b) {
  if (a.dtype() != b.dtype())
    runtimeError(std::string("expected scalar type ") +
                 elementTypeTorchName(a.dtype()) + " but found " +
                 elementTypeTorchName(b.dtype()) + " (matmul of " +
                 elementTypeName(a.dtype()) + " " + shapeString(a.shape()) +
                 " and " + elementTypeName(b.dtype()) + " " +
                 shapeString(b.shape()) + ")");
}

/// torch's bool matmul: its kernels refuse bool, but a product without terms
/// (or without elements) never reaches them and is all false.
static std::optional<Tensor> boolMatmul(const Tensor &a, const Tensor &b) {
  if (a.dtype() != DType::Bool)
    return std::nullopt;
  int64_t ra = a.dim(), rb = b.dim();
  if (ra == 1 && rb == 1)
    notForDtype("dot", a.dtype());
  int64_t k = a.shape().back();
  int64_t m = ra == 1 ? 1 : a.shape()[ra - 2];
  int64_t n = rb == 1 ? 1 : b.shape().back();
  bool empty = k == 0 || m == 0 || n == 0 ||
               shapeNumel(a.shape()) == 0 || shapeNumel(b.shape()) == 0;
  if (!empty)
    notForDtype(ra == 2 && rb == 1 ? "addmv_impl_cpu" : "addmm_impl_cpu_",
                a.dtype());
  return cast(matmul(cast(a, DType::Int32), cast(b, DType::Int32)), DType::Bool);
}

/// [..., M, K] x [..., K, N] with batch dims broadcast.
static Tensor batchedMatmul(const Tensor &a, const Tensor &b) {
  llvm::ArrayRef<int64_t> as = a.shape(), bs = b.shape();
  int64_t k = as.back();
  if (k != bs[bs.size() - 2])
    runtimeError("mat1 and mat2 shapes cannot be multiplied (" +
                 shapeString(as) + " and " + shapeString(bs) + ")");
  Shape shape = broadcast(as.drop_back(2), bs.drop_back(2));
  shape.push_back(as[as.size() - 2]);
  shape.push_back(bs.back());
  return fromNode(
      makeNode(OpCode::Matmul, a.dtype(), shape, {a.value(), b.value()}));
}

Tensor matmul(const Tensor &a, const Tensor &b) {
  int64_t ra = a.dim(), rb = b.dim();
  // torch checks dtypes in its kernels, which an empty operand never
  // reaches: the result takes the vector's dtype, else the first operand's.
  if (a.dtype() != b.dtype() && ra > 0 && rb > 0 && !(ra == 1 && rb == 1) &&
      (a.numel() == 0 || b.numel() == 0)) {
    DType dtype = rb == 1 ? b.dtype() : a.dtype();
    return matmul(cast(a, dtype), cast(b, dtype));
  }
  checkMatmulOperands(a, b);
  if (ra == 0 || rb == 0)
    runtimeError("both arguments to matmul need to be at least 1D, but they "
                 "are " +
                 std::to_string(ra) + "D and " + std::to_string(rb) + "D");
  if (a.dtype() == DType::Bool && a.shape().back() == b.shape()[rb == 1 ? 0 : rb - 2])
    return *boolMatmul(a, b);
  if (ra == 1 && rb == 1) {
    if (a.shape()[0] != b.shape()[0])
      runtimeError("inconsistent tensor size, expected tensor " +
                   shapeString(a.shape()) + " and src " +
                   shapeString(b.shape()) +
                   " to have the same number of elements, but got " +
                   std::to_string(a.shape()[0]) + " and " +
                   std::to_string(b.shape()[0]) + " elements respectively");
    return reshape(batchedMatmul(reshape(a, {1, a.shape()[0]}),
                                 reshape(b, {b.shape()[0], 1})),
                   {});
  }
  if (ra == 1) {
    if (a.shape()[0] != b.shape()[rb - 2])
      runtimeError("mat1 and mat2 shapes cannot be multiplied (" +
                   shapeString({1, a.shape()[0]}) + " and " +
                   shapeString(b.shape()) + ")");
    Tensor product = batchedMatmul(unsqueeze(a, 0), b);
    return squeeze(product, -2);
  }
  if (rb == 1) {
    if (b.shape()[0] != a.shape()[ra - 1])
      runtimeError("mat1 and mat2 shapes cannot be multiplied (" +
                   shapeString(a.shape()) + " and " +
                   shapeString({b.shape()[0], 1}) + ")");
    Tensor product = batchedMatmul(a, unsqueeze(b, 1));
    return squeeze(product, -1);
  }
  return batchedMatmul(a, b);
}

Tensor mm(const Tensor &a, const Tensor &b) {
  if (a.dim() != 2)
    runtimeError("self must be a matrix (got shape " + shapeString(a.shape()) +
                 ")");
  if (b.dim() != 2)
    runtimeError("mat2 must be a matrix (got shape " + shapeString(b.shape()) +
                 ")");
  return matmul(a, b);
}

Tensor bmm(const Tensor &a, const Tensor &b) {
  if (a.dim() != 3)
    runtimeError("batch1 must be a 3D tensor (got shape " +
                 shapeString(a.shape()) + ")");
  if (b.dim() != 3)
    runtimeError("batch2 must be a 3D tensor (got shape " +
                 shapeString(b.shape()) + ")");
  if (a.shape()[0] != b.shape()[0] || a.shape()[2] != b.shape()[1])
    runtimeError("Expected size for first two dimensions of batch2 tensor to "
                 "be: [" +
                 std::to_string(a.shape()[0]) + ", " +
                 std::to_string(a.shape()[2]) + "] but got: [" +
                 std::to_string(b.shape()[0]) + ", " +
                 std::to_string(b.shape()[1]) + "] (shapes " +
                 shapeString(a.shape()) + " and " + shapeString(b.shape()) +
                 ")");
  return matmul(a, b);
}

//===----------------------------------------------------------------------===//
// Joining and gathering
//===----------------------------------------------------------------------===//

Tensor cat(llvm::ArrayRef<Tensor> tensors, int64_t dim) {
  if (tensors.empty())
    runtimeError("torch.cat(): expected a non-empty list of Tensors");
  const Tensor &first = tensors.front();
  if (first.dim() == 0)
    runtimeError("zero-dimensional tensor (at position 0) cannot be "
                 "concatenated");
  int64_t axis = wrapDim(dim, first.dim());
  DType dtype = first.dtype();
  Shape shape = first.shape();
  shape[axis] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor &t = tensors[i];
    if (t.dim() != first.dim())
      runtimeError("Tensors must have same number of dimensions: got " +
                   std::to_string(first.dim()) + " and " +
                   std::to_string(t.dim()) + " (shapes " +
                   shapeString(first.shape()) + " and " +
                   shapeString(t.shape()) + ")");
    for (int64_t d = 0; d < first.dim(); ++d)
      if (d != axis && t.shape()[d] != first.shape()[d])
        runtimeError("Sizes of tensors must match except in dimension " +
                     std::to_string(axis) + ". Expected size " +
                     std::to_string(first.shape()[d]) + " but got size " +
                     std::to_string(t.shape()[d]) + " for tensor number " +
                     std::to_string(i) + " in the list (shapes " +
                     shapeString(first.shape()) + " and " +
                     shapeString(t.shape()) + ")");
    shape[axis] += t.shape()[axis];
    dtype = promoteTypes(dtype, t.dtype());
  }
  if (tensors.size() == 1)
    return cast(first, dtype);
  llvm::SmallVector<NodeRef, 4> inputs;
  for (const Tensor &t : tensors)
    if (t.shape()[axis] != 0)
      inputs.push_back(castNode(t.value(), dtype));
  if (inputs.empty())
    return empty(shape, dtype);
  if (inputs.size() == 1)
    return fromNode(inputs.front());
  NodeRef node = makeNode(OpCode::Concat, dtype, shape, inputs);
  node->ints.push_back(axis);
  return fromNode(node);
}

Tensor stack(llvm::ArrayRef<Tensor> tensors, int64_t dim) {
  if (tensors.empty())
    runtimeError("stack expects a non-empty TensorList");
  int64_t axis = wrapDim(dim, tensors.front().dim() + 1);
  std::vector<Tensor> expanded;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].shape() != tensors.front().shape())
      runtimeError("stack expects each tensor to be equal size, but got " +
                   shapeString(tensors.front().shape()) + " at entry 0 and " +
                   shapeString(tensors[i].shape()) + " at entry " +
                   std::to_string(i));
    expanded.push_back(unsqueeze(tensors[i], axis));
  }
  return cat(expanded, axis);
}

/// Reads an integer tensor's values (computing them if pending).
static std::vector<int64_t> readIndices(const Tensor &indices) {
  Tensor dense = contiguous(cast(toDevice(indices, Backend::Cpu), DType::Int64));
  const int64_t *data = static_cast<const int64_t *>(dense.data());
  return std::vector<int64_t>(data, data + dense.numel());
}

void checkIndexBounds(const Tensor &indices, int64_t dim,
                      llvm::ArrayRef<int64_t> shape, bool allowNegative) {
  int64_t size = shape[dim];
  for (int64_t index : readIndices(indices)) {
    bool inRange = index >= (allowNegative ? -size : 0) && index < size;
    // index_select's messages and types are torch's (its dim-1 kernel
    // raises RuntimeError, the others IndexError).
    if (!inRange && !allowNegative && dim == 1)
      runtimeError("INDICES element is out of DATA bounds, id=" +
                   std::to_string(index) + " axis_dim=" + std::to_string(size) +
                   " (index_select on shape " + shapeString(shape) + ")");
    if (!inRange)
      indexError(std::string(allowNegative ? ""
                                           : "index out of range in self: ") +
                 "index " + std::to_string(index) +
                 " is out of bounds for dimension " + std::to_string(dim) +
                 " with size " + std::to_string(size) + " (indexed shape " +
                 shapeString(shape) + ")");
  }
}

Tensor gather(const Tensor &x, int64_t dim, const Tensor &indices) {
  if (indices.dtype() != DType::Int64 && indices.dtype() != DType::Int32)
    indexError(std::string("tensors used as indices must be long, int, byte "
                           "or bool tensors (got ") +
               elementTypeName(indices.dtype()) + ")");
  if (x.dim() == 0)
    indexError("index of a 0-dim tensor needs a bool index");
  int64_t axis = wrapDim(dim, x.dim());
  // Out-of-range indices must raise here, at the user's line, not inside
  // compiled code (torch does not look at them for an empty result).
  Shape shape(gatherShape(x.shape(), indices.shape(), axis));
  if (shapeNumel(shape) != 0)
    checkIndexBounds(indices, axis, x.shape());
  NodeRef node = makeNode(OpCode::Gather, x.dtype(), shape,
                          {x.value(), indices.value()});
  node->ints.push_back(axis);
  return fromNode(node);
}

Tensor scatterAdd(const Tensor &dest, int64_t dim, const Tensor &indices,
                  const Tensor &updates) {
  if (indices.dtype() != DType::Int64 && indices.dtype() != DType::Int32)
    indexError(std::string("tensors used as indices must be long or int "
                           "tensors (got ") +
               elementTypeName(indices.dtype()) + ")");
  if (dest.dim() == 0)
    indexError("scatter into a 0-dim tensor needs a 1-dim view of it");
  if (dest.dtype() == DType::Bool)
    notForDtype("scatter_add", dest.dtype());
  int64_t axis = wrapDim(dim, dest.dim());
  checkIndexBounds(indices, axis, dest.shape());
  // The updates have the shape a gather of dest would give (the verifier's rule).
  Shape expected(gatherShape(dest.shape(), indices.shape(), axis));
  if (updates.shape() != llvm::ArrayRef<int64_t>(expected))
    runtimeError("scatter_add: source of shape " + shapeString(updates.shape()) +
                 " does not match the indexed shape " + shapeString(expected) +
                 " (destination " + shapeString(dest.shape()) + ", index " +
                 shapeString(indices.shape()) + ", dim " + std::to_string(axis) +
                 ")");
  NodeRef node = makeNode(OpCode::ScatterAdd, dest.dtype(), dest.shape(),
                          {dest.value(), indices.value(),
                           castNode(updates.value(), dest.dtype())});
  node->ints.push_back(axis);
  return fromNode(node);
}

/// Checks that a mask indexes x's leading dims; returns the masked rank.
static int64_t checkMask(const Tensor &x, const Tensor &mask) {
  if (mask.dim() > x.dim())
    indexError("too many indices for tensor of dimension " +
               std::to_string(x.dim()) + " (mask shape " +
               shapeString(mask.shape()) + ", tensor shape " +
               shapeString(x.shape()) + ")");
  for (int64_t d = 0; d < mask.dim(); ++d)
    if (mask.shape()[d] != x.shape()[d])
      indexError("The shape of the mask " + shapeString(mask.shape()) +
                 " at index " + std::to_string(d) +
                 " does not match the shape of the indexed tensor " +
                 shapeString(x.shape()) + " at index " + std::to_string(d));
  return mask.dim();
}

static std::vector<uint8_t> readMask(const Tensor &mask) {
  Tensor dense = contiguous(toDevice(mask, Backend::Cpu));
  const uint8_t *data = static_cast<const uint8_t *>(dense.data());
  return std::vector<uint8_t>(data, data + dense.numel());
}

/// x with its first `count` dims merged into one.
static Tensor mergeLeading(const Tensor &x, int64_t count) {
  Shape shape{shapeNumel(llvm::ArrayRef<int64_t>(x.shape()).take_front(count))};
  shape.append(x.shape().begin() + count, x.shape().end());
  return reshape(x, shape);
}

Tensor maskedSelect(const Tensor &x, const Tensor &mask) {
  int64_t rank = checkMask(x, mask);
  std::vector<int64_t> positions;
  std::vector<uint8_t> bits = readMask(mask);
  for (size_t i = 0; i < bits.size(); ++i)
    if (bits[i])
      positions.push_back(i);
  Tensor indices = toDevice(fromData(positions.data(),
                                     {static_cast<int64_t>(positions.size())},
                                     DType::Int64),
                            deviceOf(x));
  return gather(mergeLeading(x, rank), 0, indices);
}

//===----------------------------------------------------------------------===//
// In-place updates
//===----------------------------------------------------------------------===//

/// The inverse of an expand from `outer`'s shape to `node`'s (rank
/// `expandedRank`) on a write: each element of `outer` takes the value of
/// the copy `written` marks (at most one per element: writes through
/// broadcast dims are refused), or keeps its value where no copy was
/// written. `written` becomes the mask of `outer`'s written elements.
static void collapseExpand(NodeRef &node, NodeRef &written,
                           const NodeRef &outer, size_t expandedRank) {
  llvm::ArrayRef<int64_t> from = outer->shape;
  size_t lead = expandedRank - from.size();
  llvm::SmallVector<int64_t, 4> axes;
  for (size_t d = 0; d < expandedRank; ++d)
    if (d < lead || (from[d - lead] == 1 && node->shape[d] != 1))
      axes.push_back(d);
  Shape kept(node->shape.begin(), node->shape.end());
  for (int64_t d : axes)
    kept[d] = 1;
  // Summing over the copies picks the written one (the others are zeroed);
  // bools sum as int32.
  DType dtype = node->dtype;
  DType sumType = dtype == DType::Bool ? DType::Int32 : dtype;
  auto sumCopies = [&](NodeRef value, DType type, OpCode reduceOp) {
    NodeRef reduced = makeNode(reduceOp, type, kept, {value});
    reduced->ints.assign(axes.begin(), axes.end());
    reduced->flag = true; // keepdim
    return makeNode(OpCode::Reshape, type, from, {reduced});
  };
  NodeRef zero = constantNode(Scalar::fromInt(0), sumType);
  NodeRef picked = makeNode(OpCode::Select, sumType, node->shape,
                            {written, castNode(node, sumType), zero});
  NodeRef value = castNode(sumCopies(picked, sumType, OpCode::Sum), dtype);
  NodeRef any = castNode(
      sumCopies(castNode(written, DType::Int32), DType::Int32, OpCode::Max),
      DType::Bool);
  node = makeNode(OpCode::Select, dtype, from, {any, value, outer});
  written = any;
}

/// Replaces the elements `x` views with `node` (shaped like x), rewriting the
/// storage's value through the inverse of each view step.
static void writeView(const Tensor &x, NodeRef node) {
  const std::vector<ViewStep> &steps = x.impl->steps;
  // An empty view writes nothing (and its inverse steps would be empty
  // slices of empty values).
  if (x.numel() == 0)
    return;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.strides()[d] == 0 && x.shape()[d] > 1)
      runtimeError("unsupported operation: more than one element of the "
                   "written-to tensor refers to a single memory location. "
                   "Please clone() the tensor before performing the "
                   "operation.");
  if (gradEnabled() && (x.requiresGrad() || node->requiresGrad)) {
    if (x.requiresGrad() && x.isLeaf())
      runtimeError("a leaf Variable that requires grad is being used in an "
                   "in-place operation.");
    if (!steps.empty())
      notImplemented("in-place operations on views of tensors that require "
                     "grad (write to the base tensor, or clone() first)");
    // The base's new value carries the history from now on.
    x.impl->requiresGrad = true;
    x.impl->history = node;
    setPending(x.impl->storage, std::move(node));
    return;
  }
  if (x.impl->history) // written under no_grad: gradients stop here
    x.impl->history = node;
  if (steps.empty()) {
    setPending(x.impl->storage, std::move(node));
    return;
  }
  // The value before each step.
  std::vector<NodeRef> before{storageValue(x.storage())};
  for (size_t i = 0; i + 1 < steps.size(); ++i)
    before.push_back(applyViewStep(before.back(), steps[i]));
  // Below an expand that broadcasts, the written elements are one copy of
  // the expanded ones (the check above): `written` marks them, so that the
  // expand's inverse can take each element from the copy that was written.
  bool broadcasts = false;
  for (size_t i = 0; i < steps.size(); ++i)
    broadcasts |= steps[i].kind == ViewStep::Kind::Expand &&
                  shapeNumel(steps[i].shape) != shapeNumel(before[i]->shape);
  NodeRef written;
  if (broadcasts)
    written = makeNode(OpCode::BroadcastTo, DType::Bool, x.shape(),
                       {constantNode(Scalar::fromBool(true), DType::Bool)});
  // Applies the inverse of a shape-only step to both node and mask.
  auto both = [&](auto inverse) {
    node = inverse(node);
    if (written)
      written = inverse(written);
  };
  for (size_t i = steps.size(); i-- > 0;) {
    const ViewStep &step = steps[i];
    const NodeRef &outer = before[i];
    switch (step.kind) {
    case ViewStep::Kind::Reshape:
      both([&](const NodeRef &n) {
        return makeNode(OpCode::Reshape, n->dtype, outer->shape, {n});
      });
      break;
    case ViewStep::Kind::Transpose:
      both([&](const NodeRef &n) {
        NodeRef back =
            makeNode(OpCode::Transpose, n->dtype, outer->shape, {n});
        back->ints.resize(step.ints.size());
        for (size_t d = 0; d < step.ints.size(); ++d)
          back->ints[step.ints[d]] = d;
        return back;
      });
      break;
    case ViewStep::Kind::Slice: {
      NodeRef insert = makeNode(OpCode::InsertSlice, node->dtype, outer->shape,
                                {outer, node});
      insert->ints = step.ints;
      node = insert;
      if (written) {
        NodeRef none = makeNode(
            OpCode::BroadcastTo, DType::Bool, outer->shape,
            {constantNode(Scalar::fromBool(false), DType::Bool)});
        NodeRef mark = makeNode(OpCode::InsertSlice, DType::Bool,
                                outer->shape, {none, written});
        mark->ints = step.ints;
        written = mark;
      }
      break;
    }
    case ViewStep::Kind::Expand:
      if (shapeNumel(step.shape) == shapeNumel(outer->shape)) {
        // Nothing was broadcast: the same elements, reshaped.
        both([&](const NodeRef &n) {
          return makeNode(OpCode::Reshape, n->dtype, outer->shape, {n});
        });
        break;
      }
      collapseExpand(node, written, outer, step.shape.size());
      break;
    }
  }
  setPending(x.impl->storage, std::move(node));
}

/// `value` converted to x's dtype and broadcast to x's shape.
static NodeRef valueFor(const Tensor &x, const Operand &given) {
  // Values written into a tensor come from any device, as in torch.
  std::optional<Tensor> moved;
  Operand value = given;
  if (given.tensor && deviceOf(*given.tensor) != deviceOf(x)) {
    moved = toDevice(*given.tensor, deviceOf(x));
    value = Operand(*moved);
  }
  llvm::ArrayRef<int64_t> from = shapeOf(value);
  Shape shape = broadcast(x.shape(), from);
  if (shape != x.shape())
    runtimeError("output with shape " + shapeString(x.shape()) +
                 " doesn't match the broadcast shape " + shapeString(shape));
  NodeRef node = operandNode(value, x.dtype());
  if (node->shape != x.shape())
    node = makeNode(OpCode::BroadcastTo, x.dtype(), x.shape(), {node});
  return node;
}

void assign(const Tensor &x, const Operand &value) {
  writeView(x, valueFor(x, value));
}

void fill(const Tensor &x, const Operand &value) {
  if (value.tensor && value.tensor->dim() != 0)
    runtimeError("fill_ only supports 0-dimension value tensor but got tensor "
                 "with " + std::to_string(value.tensor->dim()) + " dimensions");
  // Every copy along a broadcast dim is the same memory: write one.
  Tensor target = x;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.strides()[d] == 0 && x.shape()[d] > 1)
      target = slice(target, d, 0, 1, 1);
  writeView(target, valueFor(target, value));
}

/// Writes `result` into x's elements after torch's in-place checks.
static void writeInPlace(const Tensor &x, const Tensor &result) {
  if (!canCast(result.dtype(), x.dtype()))
    runtimeError(std::string("result type ") + elementTypeTorchName(result.dtype()) +
                 " can't be cast to the desired output type " +
                 elementTypeTorchName(x.dtype()));
  if (result.shape() != x.shape())
    runtimeError("output with shape " + shapeString(x.shape()) +
                 " doesn't match the broadcast shape " +
                 shapeString(result.shape()));
  writeView(x, castNode(result.value(), x.dtype()));
}

/// Whether x's elements fill a range of memory once each, in some order of
/// its dims (torch's is_non_overlapping_and_dense).
static bool isDense(const Tensor &x) {
  llvm::SmallVector<std::pair<int64_t, int64_t>, 4> dims; // (stride, size)
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.shape()[d] != 1)
      dims.push_back({x.strides()[d], x.shape()[d]});
  llvm::sort(dims);
  int64_t expected = 1;
  for (auto [stride, size] : dims) {
    if (stride != expected)
      return false;
    expected *= size;
  }
  return true;
}

void checkNoPartialOverlap(const Tensor &x, const Tensor &input) {
  // torch's rule (at::get_overlap_status): dense tensors of one storage
  // whose memory ranges meet, unless they are the same elements in the same
  // order. Other layouts are too hard to tell, and pass.
  if (x.impl == input.impl || x.impl->storage != input.impl->storage ||
      x.numel() == 0 || input.numel() == 0 || !isDense(x) || !isDense(input))
    return;
  bool same = x.offset() == input.offset() && x.numel() == input.numel() &&
              x.strides() == input.strides();
  bool meet = x.offset() < input.offset() + input.numel() &&
              input.offset() < x.offset() + x.numel();
  if (meet && !same)
    runtimeError("unsupported operation: some elements of the input tensor and "
                 "the written-to tensor refer to a single memory location. "
                 "Please clone() the tensor before performing the operation.");
}

void inplaceBinary(OpCode op, const Tensor &x, const Operand &value) {
  if (value.tensor)
    checkNoPartialOverlap(x, *value.tensor);
  writeInPlace(x, binary(op, x, value));
}

void inplaceUnary(OpCode op, const Tensor &x) { writeInPlace(x, unary(op, x)); }

void maskedFill(const Tensor &x, const Tensor &mask, const Operand &value) {
  if (mask.dtype() != DType::Bool)
    indexError("masks used as indices must be bool tensors");
  int64_t rank = checkMask(x, mask);
  // The mask covers x's leading dims: broadcast it over the rest.
  Shape maskShape = mask.shape();
  maskShape.append(x.dim() - rank, 1);
  Tensor condition = reshape(mask, maskShape);

  llvm::ArrayRef<int64_t> valueShape = shapeOf(value);
  Shape rowShape(x.shape().begin() + rank, x.shape().end());
  // A value that broadcasts to one row fills every selected row.
  std::optional<llvm::SmallVector<int64_t>> toRow =
      broadcastShapes(valueShape, rowShape);
  bool broadcasts =
      shapeNumel(valueShape) == 1 ||
      (toRow && llvm::ArrayRef<int64_t>(*toRow) == llvm::ArrayRef<int64_t>(rowShape));
  if (!value.tensor || broadcasts) {
    Tensor updated = where(condition, value, x);
    writeView(x, castNode(updated.value(), x.dtype()));
    return;
  }
  // One row of `value` per true mask element, in order: position p takes
  // row (number of trues before p), gathered and selected by the mask.
  std::vector<uint8_t> bits = readMask(mask);
  std::vector<int64_t> source(bits.size(), 0);
  int64_t trues = 0;
  for (size_t i = 0; i < bits.size(); ++i)
    if (bits[i])
      source[i] = trues++;
  Shape expected{trues};
  expected.append(rowShape.begin(), rowShape.end());
  std::optional<llvm::SmallVector<int64_t>> toRows =
      broadcastShapes(valueShape, expected);
  if (!toRows ||
      llvm::ArrayRef<int64_t>(*toRows) != llvm::ArrayRef<int64_t>(expected))
    runtimeError("shape mismatch: value tensor of shape " +
                 shapeString(valueShape) +
                 " cannot be broadcast to indexing result of shape " +
                 shapeString(expected));
  if (trues == 0)
    return;
  Tensor rows = gather(contiguous(expand(*value.tensor, expected)), 0,
                       toDevice(fromData(source.data(), mask.shape(), DType::Int64),
                                deviceOf(*value.tensor)));
  Tensor updated = where(condition, rows, x);
  writeView(x, castNode(updated.value(), x.dtype()));
}

} // namespace ember
